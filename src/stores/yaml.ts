/**
 * The YAML store: reads and writes YAML exactly as sops 3.13.2 does (go.yaml.in/yaml/v3 v3.0.4 semantics).
 *
 * Non-string mapping keys (`1:`, `true:`, `null:`, a date) are rejected when reading with a FormatError
 * `Tree contains a non-string key (type T)`: sops loads them but then fails on every encrypt and decrypt walk.
 */
import { ErrorKind, FormatError, KsopsError, MetadataNotFoundError } from "../errors.js"
import { Branch, type Branches, METADATA_KEY, type TreeValue } from "../sops/tree.js"
import type { EncryptedFile, Store } from "./store.js"
import { emitDocuments, emitSingleValue } from "./yaml/emitter.js"
import { YamlParser } from "./yaml/parser.js"

/** Options of {@link YamlStore}. */
export interface YamlStoreOptions {
    /** Indentation (default 4; values outside 2..9 behave as 2). */
    indent?: number
}

const encoder = new TextEncoder()

/** The YAML store. */
export class YamlStore implements Store {
    readonly format = "yaml" as const
    private readonly indent: number

    constructor(options: YamlStoreOptions = {}) {
        this.indent = options.indent ?? 4
    }

    /** Parse a plaintext YAML stream: one branch per document. */
    loadPlain(input: Uint8Array): Branches {
        if (input.length === 0) return []
        return new YamlParser(input).parseStream()
    }

    /** Parse an encrypted YAML stream and split off the `sops` metadata of the first document. */
    loadEncrypted(input: Uint8Array): EncryptedFile {
        const branches = this.loadPlain(input)
        if (branches.length === 0) throw new MetadataNotFoundError()
        let metadata: Branch | undefined
        const out: Branches = []
        branches.forEach((b, index) => {
            const items = []
            for (const item of b.items) {
                if (item.key === METADATA_KEY) {
                    if (index === 0) {
                        if (metadata !== undefined) throw new FormatError("Found duplicate sops entry")
                        if (!(item.value instanceof Branch))
                            throw new FormatError("Error unmarshalling metadata: the sops key is not a map")
                        metadata = item.value
                    }
                    continue
                }
                items.push(item)
            }
            out.push(new Branch(items))
        })
        if (metadata === undefined) throw new MetadataNotFoundError()
        return { branches: out, metadata }
    }

    /** Write documents. */
    emitPlain(branches: Branches): Uint8Array {
        return emitDocuments(branches, this.indent)
    }

    /** Write documents, each with the metadata appended as its last key `sops`. */
    emitEncrypted(branches: Branches, metadata: Branch): Uint8Array {
        const docs = branches.map((b) => {
            for (const item of b.items) {
                if (item.key === METADATA_KEY)
                    throw new KsopsError(
                        ErrorKind.ErrorDumpingTree,
                        `Error marshaling metadata: Found key "${METADATA_KEY}" in encrypted data, which is a reserved key used for SOPS metadata`,
                    )
            }
            return new Branch([...b.items, { key: METADATA_KEY, value: metadata }])
        })
        return this.emitPlain(docs)
    }

    /** One value for `decrypt --extract`: strings raw, everything else as yaml.v3 marshals it. */
    emitValue(value: TreeValue): Uint8Array {
        if (typeof value === "string") return encoder.encode(value)
        if (value instanceof Uint8Array) return value
        return emitSingleValue(value)
    }

    /** True when the first document has a top-level `sops` key. */
    hasMetadataKey(branches: Branches): boolean {
        const first = branches[0]
        return first?.items.some((i) => i.key === METADATA_KEY)
    }
}
