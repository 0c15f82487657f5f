/**
 * The binary store: sops' `BinaryStore`. The whole file is one value under the key `data`; the encrypted file is the
 * JSON envelope `{"data": "ENC[…]", "sops": {…}}` written with the JSON writer.
 */
import { Branch, type Branches, type TreeValue } from "../sops/tree.js"
import { JsonStore } from "./json.js"
import type { EncryptedFile, Store } from "./store.js"
import { emitError, encodeUtf8 } from "./text.js"

/** The key that holds the file content. */
export const BINARY_DATA_KEY = "data"

/** Options of {@link BinaryStore}. */
export interface BinaryStoreOptions {
    /** Indentation of the JSON envelope, as for the JSON store (-1 = tab). */
    indent?: number
}

/** The binary store. */
export class BinaryStore implements Store {
    readonly format = "binary"
    private readonly json: JsonStore

    constructor(options: BinaryStoreOptions = {}) {
        this.json = new JsonStore({ indent: options.indent })
    }

    loadPlain(input: Uint8Array): Branches {
        return [new Branch([{ key: BINARY_DATA_KEY, value: Uint8Array.from(input) }])]
    }

    loadEncrypted(input: Uint8Array): EncryptedFile {
        return this.json.loadEncrypted(input)
    }

    emitPlain(branches: Branches): Uint8Array {
        if (branches.length !== 1) {
            throw emitError("error emitting binary store: there must be exactly one tree branch")
        }
        for (const item of branches[0].items) {
            if (item.key !== BINARY_DATA_KEY) continue
            if (item.value instanceof Uint8Array) return item.value
            if (typeof item.value === "string") return encodeUtf8(item.value)
            throw emitError("error emitting binary store: 'data' key in tree does not have a string value")
        }
        throw emitError("error emitting binary store: no binary data found in tree")
    }

    emitEncrypted(branches: Branches, metadata: Branch): Uint8Array {
        return this.json.emitEncrypted(branches, metadata)
    }

    emitValue(value: TreeValue): Uint8Array {
        if (typeof value === "string") return encodeUtf8(value)
        if (value instanceof Uint8Array) return value
        if (value instanceof Branch) return this.emitPlain([value])
        throw emitError("Binary files are not structured and extracting a single value is not possible")
    }

    hasMetadataKey(branches: Branches): boolean {
        return this.json.hasMetadataKey(branches)
    }
}
