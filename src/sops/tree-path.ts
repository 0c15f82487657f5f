/**
 * Tree paths as sops writes them on the command line: `["data"]["password"]`, `['list'][0]` — used by
 * `decrypt --extract`, `set` and `unset`.
 */
import { ErrorKind, KsopsError } from "../errors.js"
import { Branch, type Branches, Comment, type TreeItem, type TreeValue } from "./tree.js"

/** One component: a map key or a list index. */
export type PathPart = string | number

/**
 * Parse `["a"][0]['b']`.
 * @throws KsopsError InvalidTreePathFormat (exit 91)
 */
export function parseTreePath(s: string): PathPart[] {
    const parts: PathPart[] = []
    let i = 0
    const fail = (why: string): never => {
        throw new KsopsError(ErrorKind.InvalidTreePathFormat, `invalid tree path ${JSON.stringify(s)}: ${why}`, {
            hint: `write paths like '["data"]["password"]' or '["items"][0]'`,
        })
    }
    while (i < s.length) {
        if (s[i] !== "[") fail(`expected "[" at position ${i + 1}`)
        i++
        const q = s[i]
        if (q === '"' || q === "'") {
            const end = s.indexOf(q, i + 1)
            if (end < 0) fail("unterminated quote")
            parts.push(s.slice(i + 1, end))
            i = end + 1
        } else {
            const end = s.indexOf("]", i)
            if (end < 0) fail(`missing "]"`)
            const text = s.slice(i, end)
            if (!/^\d+$/.test(text)) fail(`${JSON.stringify(text)} is neither a quoted key nor a list index`)
            parts.push(Number(text))
            i = end
        }
        if (s[i] !== "]") fail(`expected "]" at position ${i + 1}`)
        i++
    }
    if (parts.length === 0) fail("empty path")
    return parts
}

function render(parts: readonly PathPart[]): string {
    return parts.map((p) => (typeof p === "number" ? `[${p}]` : `[${JSON.stringify(p)}]`)).join("")
}

function notFound(parts: readonly PathPart[], upTo: number): KsopsError {
    return new KsopsError(ErrorKind.Generic, `component ${render(parts.slice(0, upTo + 1))} not found`, {
        hint: "check the path with `kubectl sops decrypt` first",
    })
}

function listElems(list: TreeValue[]): TreeValue[] {
    return list.filter((e) => !(e instanceof Comment))
}

/**
 * The value at a path in the first document.
 * @throws KsopsError when a component is missing
 */
export function getPath(branches: Branches, parts: readonly PathPart[]): TreeValue {
    let cur: TreeValue = branches[0] ?? new Branch()
    for (const [i, p] of parts.entries()) {
        if (typeof p === "string" && cur instanceof Branch) {
            const item: TreeItem | undefined = cur.items.find((it) => it.key === p)
            if (!item) throw notFound(parts, i)
            cur = item.value
        } else if (typeof p === "number" && Array.isArray(cur)) {
            const elems = listElems(cur)
            if (p >= elems.length) throw notFound(parts, i)
            cur = elems[p]
        } else throw notFound(parts, i)
    }
    return cur
}

function fromPath(parts: readonly PathPart[], value: TreeValue): TreeValue {
    let v = value
    for (let i = parts.length - 1; i >= 0; i--) {
        const p = parts[i]
        v = typeof p === "number" ? [v] : new Branch([{ key: p, value: v }])
    }
    return v
}

function setIn(node: TreeValue, parts: readonly PathPart[], value: TreeValue): TreeValue {
    const [head, ...rest] = parts
    if (typeof head === "string" && node instanceof Branch) {
        const item = node.items.find((it) => it.key === head)
        if (item) item.value = rest.length === 0 ? value : setIn(item.value, rest, value)
        else node.items.push({ key: head, value: rest.length === 0 ? value : fromPath(rest, value) })
        return node
    }
    if (typeof head === "number" && Array.isArray(node)) {
        const positions = node.flatMap((e, i) => (e instanceof Comment ? [] : [i]))
        if (head >= positions.length) node.push(rest.length === 0 ? value : fromPath(rest, value))
        else node[positions[head]] = rest.length === 0 ? value : setIn(node[positions[head]], rest, value)
        return node
    }
    return fromPath(parts, value)
}

/** Set the value at a path in the first document, creating maps and list entries as needed. */
export function setPath(branches: Branches, parts: readonly PathPart[], value: TreeValue): void {
    if (branches.length === 0) branches.push(new Branch())
    const root = setIn(branches[0], parts, value)
    if (root instanceof Branch) branches[0] = root
}

/**
 * Remove the value at a path in the first document.
 * @returns false when the path was not there
 */
export function unsetPath(branches: Branches, parts: readonly PathPart[]): boolean {
    if (branches.length === 0) return false
    const parentParts = parts.slice(0, -1)
    let parent: TreeValue
    try {
        parent = parentParts.length === 0 ? branches[0] : getPath(branches, parentParts)
    } catch {
        return false
    }
    const last = parts[parts.length - 1]
    if (typeof last === "string" && parent instanceof Branch) {
        const i = parent.items.findIndex((it) => it.key === last)
        if (i < 0) return false
        parent.items.splice(i, 1)
        return true
    }
    if (typeof last === "number" && Array.isArray(parent)) {
        const positions = parent.flatMap((e, i) => (e instanceof Comment ? [] : [i]))
        if (last >= positions.length) return false
        parent.splice(positions[last], 1)
        return true
    }
    return false
}
