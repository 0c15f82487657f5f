/**
 * Flattened metadata for the dotenv and INI stores (sops `stores/flatten.go`): a nested metadata tree becomes flat
 * keys such as `pgp__list_0__map_enc`, and back.
 */
import { FormatError } from "../errors.js"
import { Branch, Comment, type TreeItem, type TreeValue } from "../sops/tree.js"
import { compareBytewise, emitError } from "./text.js"

/** Separator before a nested map key. */
export const MAP_SEPARATOR = "__map_"
/** Separator before a list index. */
export const LIST_SEPARATOR = "__list_"

/** One flat metadata entry as read from a file, with the line it came from when known. */
export interface FlatEntry {
    key: string
    value: TreeValue
    line?: number
}

/**
 * Flatten a metadata tree: depth-first, map keys in byte order at every level, list elements numbered from 0 (comments
 * skipped), empty maps and lists produce nothing.
 * @param metadata - the nested metadata
 * @param prefix - prepended to every key (`sops_` for dotenv, empty for INI)
 * @returns flat items in output order
 * @throws KsopsError (error-dumping-tree) on a key collision
 */
export function flattenMetadata(metadata: Branch, prefix = ""): FlatEntry[] {
    const out: FlatEntry[] = []
    const seen = new Set<string>()
    const descend = (value: TreeValue, key: string): void => {
        if (value instanceof Branch) {
            descendMap(value, key + MAP_SEPARATOR)
            return
        }
        if (Array.isArray(value)) {
            let index = 0
            for (const element of value) {
                if (element instanceof Comment) continue
                descend(element, `${key}${LIST_SEPARATOR}${index}`)
                index++
            }
            return
        }
        if (seen.has(key)) throw emitError(`Error while flattening metadata: Found key collision "${key}" while flattening`)
        seen.add(key)
        out.push({ key, value })
    }
    const descendMap = (branch: Branch, keyPrefix: string): void => {
        const items = branch.items.filter((item): item is TreeItem & { key: string } => typeof item.key === "string")
        items.sort((a, b) => compareBytewise(a.key, b.key))
        for (const item of items) descend(item.value, keyPrefix + item.key)
    }
    descendMap(metadata, prefix)
    return out
}

type Token = { map: string } | { list: number }

/** Split a flat key into map keys and list indexes (a malformed index counts as 0, as in sops). */
function tokenize(path: string): Token[] {
    const tokens: Token[] = []
    let state: "normal" | "map" | "list" = "normal"
    let lastEnd = 0
    let i = 0
    const finish = (): void => {
        if (state === "normal") tokens.push({ map: path.slice(lastEnd, i) })
        else if (state === "map") tokens.push({ map: path.slice(lastEnd + MAP_SEPARATOR.length, i) })
        else tokens.push({ list: goAtoi(path.slice(lastEnd + LIST_SEPARATOR.length, i)) })
        lastEnd = i
    }
    while (i < path.length) {
        if (path.startsWith(MAP_SEPARATOR, i)) {
            finish()
            state = "map"
            i += MAP_SEPARATOR.length
        } else if (path.startsWith(LIST_SEPARATOR, i)) {
            finish()
            state = "list"
            i += LIST_SEPARATOR.length
        } else {
            i++
        }
    }
    finish()
    return tokens
}

/** Go `strconv.Atoi` with the error ignored (0 on failure). */
function goAtoi(s: string): number {
    if (!/^[+-]?\d+$/.test(s)) return 0
    const n = Number(s)
    return Number.isSafeInteger(n) ? n : n > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER
}

interface Node {
    hasValue: boolean
    value: TreeValue
    subkeys?: Map<string, Node>
    indices?: Map<number, Node>
    line?: number
}

function newNode(line?: number): Node {
    return { hasValue: false, value: null, line }
}

function lineOf(line: number | undefined): { line: number } | undefined {
    return line === undefined ? undefined : { line }
}

/**
 * Rebuild the nested metadata from flat entries (the prefix already removed). Maps come out with keys in byte order;
 * lists must use every index from 0 without gaps.
 * @throws FormatError on a duplicate key, a key used both as a value and as a map/list, or an incomplete list
 */
export function unflattenMetadata(entries: readonly FlatEntry[]): Branch {
    const root = newNode()
    for (const entry of entries) {
        let node = root
        for (const token of tokenize(entry.key)) {
            let next: Node | undefined
            if ("map" in token) {
                node.subkeys ??= new Map()
                next = node.subkeys.get(token.map)
                if (next === undefined) {
                    next = newNode(entry.line)
                    node.subkeys.set(token.map, next)
                }
            } else {
                node.indices ??= new Map()
                next = node.indices.get(token.list)
                if (next === undefined) {
                    next = newNode(entry.line)
                    node.indices.set(token.list, next)
                }
            }
            node = next
        }
        if (node.hasValue) {
            throw new FormatError(
                `Error while unflattening ${JSON.stringify(entry.key)}: Duplicate value`,
                lineOf(entry.line),
            )
        }
        node.hasValue = true
        node.value = entry.value
    }
    const result = convert(root, "")
    if (!(result instanceof Branch)) throw new FormatError("Internal error: cannot find root")
    return result
}

function convert(node: Node, path: string): TreeValue {
    const hasSubkeys = node.subkeys !== undefined && node.subkeys.size > 0
    const hasIndices = node.indices !== undefined && node.indices.size > 0
    if (Number(node.hasValue) + Number(hasSubkeys) + Number(hasIndices) > 1) {
        throw new FormatError(`Error while unflattening: Type mismatch at "${path}"`, lineOf(node.line))
    }
    if (node.hasValue) return node.value
    if (hasSubkeys && node.subkeys !== undefined) {
        const keys = [...node.subkeys.keys()].sort(compareBytewise)
        return new Branch(
            keys.map((key) => {
                const child = node.subkeys?.get(key) as Node
                return { key, value: convert(child, path === "" ? key : `${path}${MAP_SEPARATOR}${key}`) }
            }),
        )
    }
    if (hasIndices && node.indices !== undefined) {
        const indices = node.indices
        let min = Number.POSITIVE_INFINITY
        let max = Number.NEGATIVE_INFINITY
        for (const k of indices.keys()) {
            if (k < min) min = k
            if (k > max) max = k
        }
        if (min !== 0 || max + 1 !== indices.size) {
            throw new FormatError(`Error while unflattening: Incomplete list at "${path}"`, lineOf(node.line))
        }
        const list: TreeValue[] = []
        for (let k = 0; k <= max; k++) {
            list.push(convert(indices.get(k) as Node, `${path}${LIST_SEPARATOR}${k}`))
        }
        return list
    }
    return new Branch()
}
