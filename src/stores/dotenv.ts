/**
 * The dotenv store: sops 3.13.2's `stores/dotenv`. One `KEY=value` per line, split at the first `=` with no trimming
 * and no quote handling, `#` comment lines, `\n` escapes, metadata flattened into `sops_*` keys.
 */
import { FormatError, MetadataNotFoundError } from "../errors.js"
import { Branch, Comment, SopsTime, type Branches, type TreeItem, type TreeValue } from "../sops/tree.js"
import { type FlatEntry, flattenMetadata, unflattenMetadata } from "./flatten.js"
import type { EncryptedFile, Store } from "./store.js"
import { decodeUtf8, emitError, encodeUtf8, valToString } from "./text.js"

/** Prefix of the flattened metadata keys. */
export const DOTENV_METADATA_PREFIX = "sops_"

interface ParsedLine {
    item: TreeItem
    line: number
}

function parseLines(input: Uint8Array): ParsedLine[] {
    const lines = decodeUtf8(input).split("\n")
    const out: ParsedLine[] = []
    for (let i = 0; i < lines.length; i++) {
        const text = lines[i]
        if (text.length === 0) continue
        if (text.charCodeAt(0) === 0x23) {
            out.push({ item: { key: new Comment(text.slice(1)), value: null }, line: i + 1 })
            continue
        }
        const eq = text.indexOf("=")
        if (eq === -1) throw new FormatError("invalid dotenv input line (no '=')", { line: i + 1 })
        out.push({ item: { key: text.slice(0, eq), value: text.slice(eq + 1).replaceAll("\\n", "\n") }, line: i + 1 })
    }
    return out
}

/** Go's `%T` name of a tree value, for error messages. */
export function goTypeName(value: TreeValue): string {
    if (value === null) return "<nil>"
    if (typeof value === "string" || value instanceof Uint8Array) return "string"
    if (typeof value === "bigint") return "int"
    if (typeof value === "number") return "float64"
    if (typeof value === "boolean") return "bool"
    if (value instanceof SopsTime) return "time.Time"
    if (value instanceof Comment) return "sops.Comment"
    if (value instanceof Branch) return "sops.TreeBranch"
    return "[]interface {}"
}

function keyText(key: string | Comment): string {
    return typeof key === "string" ? key : `{${key.value}}`
}

/** The dotenv store. */
export class DotenvStore implements Store {
    readonly format = "dotenv"

    loadPlain(input: Uint8Array): Branches {
        return [new Branch(parseLines(input).map((parsed) => parsed.item))]
    }

    loadEncrypted(input: Uint8Array): EncryptedFile {
        const items: TreeItem[] = []
        const entries: FlatEntry[] = []
        for (const { item, line } of parseLines(input)) {
            if (typeof item.key === "string" && item.key.startsWith(DOTENV_METADATA_PREFIX)) {
                entries.push({ key: item.key.slice(DOTENV_METADATA_PREFIX.length), value: item.value, line })
            } else {
                items.push(item)
            }
        }
        if (entries.length === 0) throw new MetadataNotFoundError()
        return { branches: [new Branch(items)], metadata: unflattenMetadata(entries) }
    }

    emitPlain(branches: Branches): Uint8Array {
        const first = branches[0]
        if (first === undefined) throw emitError("there must be at least one document to emit")
        const out: string[] = []
        for (const item of first.items) {
            const value = item.value
            if (value instanceof Branch || Array.isArray(value)) {
                throw emitError(`cannot use complex value in dotenv file; offending key ${keyText(item.key)}`)
            }
            if (item.key instanceof Comment) {
                out.push(`#${item.key.value}\n`)
                continue
            }
            let text: string
            if (typeof value === "string") text = value.replaceAll("\n", "\\n")
            else if (value instanceof Uint8Array) text = decodeUtf8(value).replaceAll("\n", "\\n")
            else text = valToString(value)
            out.push(`${item.key}=${text}\n`)
        }
        return encodeUtf8(out.join(""))
    }

    emitEncrypted(branches: Branches, metadata: Branch): Uint8Array {
        const flat = flattenMetadata(metadata, DOTENV_METADATA_PREFIX)
        const withMetadata = branches.map((branch) => {
            for (const item of branch.items) {
                if (typeof item.key === "string" && item.key.startsWith(DOTENV_METADATA_PREFIX)) {
                    throw emitError(
                        `Error marshaling metadata: Found key "${item.key}" in encrypted data, which starts with the reserved key prefix "${DOTENV_METADATA_PREFIX}" for SOPS metadata`,
                    )
                }
            }
            return new Branch([...branch.items, ...flat])
        })
        return this.emitPlain(withMetadata)
    }

    emitValue(value: TreeValue): Uint8Array {
        if (typeof value === "string") return encodeUtf8(value)
        if (value instanceof Uint8Array) return value
        if (value instanceof Branch) return this.emitPlain([value])
        throw emitError(`the dotenv store only supports emitting strings, got ${goTypeName(value)}`)
    }

    hasMetadataKey(branches: Branches): boolean {
        const first = branches[0]
        return (
            first?.items.some((item) => typeof item.key === "string" && item.key.startsWith(DOTENV_METADATA_PREFIX)) ??
            false
        )
    }
}
