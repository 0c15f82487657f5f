/**
 * Server-side apply after sigs.k8s.io/structured-merge-diff: field sets (fieldsV1), merge of an applied
 * configuration into the live object, pruning of fields a manager stopped applying, conflicts between managers, and
 * the managed-fields bookkeeping of ordinary (Update) writes.
 */
import { StatusError } from "./errors.js"
import { clone, type Schema } from "./schema.js"

// biome-ignore lint/suspicious/noExplicitAny: JSON values
type Json = any

/** A path of fieldsV1 elements: `f:name`, `k:{"name":"x"}`, `v:"x"`, `i:0`. */
export type Path = string[]

/** A set of paths, each stored as `JSON.stringify(path)`. */
export type FieldSet = Set<string>

/** One managedFields entry with its decoded set. */
export interface Manager {
    manager: string
    operation: "Apply" | "Update"
    apiVersion: string
    time?: string
    subresource?: string
    set: FieldSet
}

function isObject(v: unknown): v is Record<string, Json> {
    return typeof v === "object" && v !== null && !Array.isArray(v)
}

function childSchema(schema: Schema | undefined, key: string): { schema: Schema | undefined; struct: boolean } {
    const prop = schema?.properties?.[key]
    if (prop) return { schema: prop, struct: true }
    if (isObject(schema?.additionalProperties)) return { schema: schema.additionalProperties, struct: false }
    if (schema?.["x-struct"]) return { schema: { type: "object", "x-struct": true }, struct: true }
    return { schema: undefined, struct: false }
}

function listType(schema: Schema | undefined): "map" | "set" | "atomic" {
    const t = schema?.["x-kubernetes-list-type"]
    return t === "map" || t === "set" ? t : "atomic"
}

/** `k:{"name":"x"}` for an item of an associative list. */
export function keyElement(item: Json, keys: string[], defaults: Record<string, Json> = {}): string {
    const k: Record<string, Json> = {}
    for (const key of [...keys].sort()) {
        const v = item[key] ?? defaults[key]
        if (v !== undefined) k[key] = v
    }
    return `k:${JSON.stringify(k)}`
}

interface Node {
    leaf: boolean
    value?: Json
}

/**
 * The nodes of a value as SMD sees them. `apply` mode is `ToFieldSet` of an applied configuration (leaves, list
 * items, map entries, empty maps). `update` mode lists every node except value-typed structs (`x-value`: always
 * present in a Go object, so never added or removed as a whole); `Compare` then reports nodes that appear or
 * disappear, which is how Update entries get their `.` members.
 */
function walk(value: Json, schema: Schema | undefined, path: Path, mode: "apply" | "update", out: Map<string, Node>, struct: boolean): void {
    const add = (leaf: boolean, v?: Json) => {
        if (path.length > 0) out.set(JSON.stringify(path), { leaf, value: v })
    }
    const container = () => (mode === "update" ? !schema?.["x-value"] : !struct)
    if (isObject(value)) {
        if (schema?.["x-kubernetes-map-type"] === "atomic") {
            add(true, value)
            return
        }
        if (container() || (mode === "apply" && Object.keys(value).length === 0)) add(false)
        for (const [key, v] of Object.entries(value)) {
            if (v === undefined) continue
            const c = childSchema(schema, key)
            walk(v, c.schema, [...path, `f:${key}`], mode, out, c.struct)
        }
        return
    }
    if (Array.isArray(value)) {
        const lt = listType(schema)
        if (lt === "map" && value.every(isObject)) {
            if (container()) add(false)
            const keys: string[] = schema?.["x-kubernetes-list-map-keys"] ?? []
            for (const item of value) {
                const p = [...path, keyElement(item, keys, schema?.["x-key-defaults"])]
                out.set(JSON.stringify(p), { leaf: false })
                for (const [key, v] of Object.entries(item)) {
                    if (v === undefined) continue
                    const c = childSchema(schema?.items, key)
                    walk(v, c.schema, [...p, `f:${key}`], mode, out, c.struct)
                }
            }
            return
        }
        if (lt === "set") {
            if (container()) add(false)
            for (const item of value) out.set(JSON.stringify([...path, `v:${JSON.stringify(item)}`]), { leaf: true, value: item })
            return
        }
        add(true, value)
        return
    }
    add(true, value)
}

function nodes(value: Json, schema: Schema, mode: "apply" | "update", ignore: (p: Path) => boolean): Map<string, Node> {
    const out = new Map<string, Node>()
    walk(value ?? {}, schema, [], mode, out, true)
    for (const key of [...out.keys()]) if (ignore(JSON.parse(key))) out.delete(key)
    return out
}

/** The field set of an applied configuration. */
export function applySet(config: Json, schema: Schema, ignore: (p: Path) => boolean): FieldSet {
    return new Set(nodes(config, schema, "apply", ignore).keys())
}

/** Difference between two versions of an object (typed.Comparison). */
export interface Comparison {
    added: FieldSet
    removed: FieldSet
    modified: FieldSet
}

/** Compares two objects node by node. */
export function compare(before: Json, after: Json, schema: Schema, ignore: (p: Path) => boolean): Comparison {
    const a = nodes(before, schema, "update", ignore)
    const b = nodes(after, schema, "update", ignore)
    const c: Comparison = { added: new Set(), removed: new Set(), modified: new Set() }
    for (const [k, n] of b) {
        const old = a.get(k)
        if (!old) c.added.add(k)
        else if (n.leaf && JSON.stringify(old.value) !== JSON.stringify(n.value)) c.modified.add(k)
    }
    for (const k of a.keys()) if (!b.has(k)) c.removed.add(k)
    return c
}

function elementMatches(item: Json, element: string): boolean {
    if (element.startsWith("k:")) {
        const key = JSON.parse(element.slice(2)) as Record<string, Json>
        return isObject(item) && Object.entries(key).every(([k, v]) => JSON.stringify(item[k] ?? (k === "protocol" ? "TCP" : undefined)) === JSON.stringify(v))
    }
    if (element.startsWith("v:")) return JSON.stringify(item) === element.slice(2)
    return false
}

/** Locates the container and key/index of a path in an object. */
function locate(obj: Json, path: Path): { parent: Json; key: string | number } | undefined {
    let cur: Json = obj
    for (let i = 0; i < path.length; i++) {
        const el = path[i]
        let key: string | number
        if (el.startsWith("f:")) {
            if (!isObject(cur)) return undefined
            key = el.slice(2)
            if (!(key in cur)) return undefined
        } else if (el.startsWith("i:")) {
            if (!Array.isArray(cur)) return undefined
            key = Number(el.slice(2))
            if (key >= cur.length) return undefined
        } else {
            if (!Array.isArray(cur)) return undefined
            key = cur.findIndex((item) => elementMatches(item, el))
            if (key < 0) return undefined
        }
        if (i === path.length - 1) return { parent: cur, key }
        cur = (cur as Json)[key]
    }
    return undefined
}

function removePath(obj: Json, path: Path): void {
    const at = locate(obj, path)
    if (!at) return
    if (Array.isArray(at.parent)) at.parent.splice(at.key as number, 1)
    else delete at.parent[at.key]
}

function valueAt(obj: Json, path: Path): Json {
    const at = locate(obj, path)
    return at ? at.parent[at.key] : undefined
}

/** Merges an applied configuration into a live object (structured merge). */
export function merge(live: Json, config: Json, schema: Schema | undefined): Json {
    if (config === null) return null
    if (isObject(config) && isObject(live) && schema?.["x-kubernetes-map-type"] !== "atomic") {
        const out: Record<string, Json> = { ...live }
        for (const [key, v] of Object.entries(config)) {
            if (v === undefined) continue
            out[key] = merge(live[key], v, childSchema(schema, key).schema)
            if (out[key] === null) delete out[key]
        }
        return out
    }
    if (Array.isArray(config) && Array.isArray(live)) {
        const lt = listType(schema)
        if (lt === "map" && config.every(isObject) && live.every(isObject)) {
            const keys: string[] = schema?.["x-kubernetes-list-map-keys"] ?? []
            const out = [...live]
            for (const item of config) {
                const defaults = schema?.["x-key-defaults"]
                const el = keyElement(item, keys, defaults)
                const i = out.findIndex((x) => keyElement(x, keys, defaults) === el)
                if (i >= 0) out[i] = merge(out[i], item, schema?.items)
                else out.push(clone(item))
            }
            return out
        }
        if (lt === "set") {
            const out = [...live]
            for (const item of config) if (!out.some((x) => JSON.stringify(x) === JSON.stringify(item))) out.push(item)
            return out
        }
    }
    return clone(config)
}

function isPrefix(prefix: Path, path: Path): boolean {
    return prefix.length < path.length && prefix.every((e, i) => path[i] === e)
}

function listKeysOf(schema: Schema, path: Path): string[] | undefined {
    // keys of the associative list that holds the item path[path.length-1]
    let s: Schema | undefined = schema
    for (let i = 0; i < path.length; i++) {
        const el = path[i]
        if (el.startsWith("f:")) s = childSchema(s, el.slice(2)).schema
        else {
            if (i === path.length - 1) return s?.["x-kubernetes-list-map-keys"]
            s = s?.items
        }
    }
    return undefined
}

/** Removes fields a manager applied before and no longer applies, unless someone else owns them. */
function pruneDropped(merged: Json, schema: Schema, lastSet: FieldSet, keep: FieldSet): void {
    const remove = [...lastSet].filter((k) => !keep.has(k)).map((k) => JSON.parse(k) as Path)
    remove.sort((a, b) => b.length - a.length)
    const keepPaths = [...keep].map((k) => JSON.parse(k) as Path)
    const removedSet = new Set(remove.map((p) => JSON.stringify(p)))
    for (const p of remove) {
        const last = p[p.length - 1]
        const parent = p.slice(0, -1)
        // key fields of a list item go only with the item
        const parentEl = parent[parent.length - 1]
        if (last.startsWith("f:") && parentEl?.startsWith("k:")) {
            const keys = listKeysOf(schema, parent) ?? []
            if (keys.includes(last.slice(2))) continue
        }
        if (keepPaths.some((k) => isPrefix(p, k) && valueAt(merged, k) !== undefined)) continue
        const v = valueAt(merged, p)
        if (v === undefined) continue
        if (isObject(v) && !last.startsWith("v:")) {
            // keep a container that still has children nobody dropped (dangling or owned), besides list keys
            const keys = last.startsWith("k:") ? Object.keys(JSON.parse(last.slice(2))) : []
            const rest = Object.keys(v).filter((k) => !keys.includes(k) && !removedSet.has(JSON.stringify([...p, `f:${k}`])))
            if (rest.length > 0) continue
        }
        removePath(merged, p)
        // drop maps emptied by the removal
        for (let q = parent; q.length > 1; q = q.slice(0, -1)) {
            const pv = valueAt(merged, q)
            if (isObject(pv) && Object.keys(pv).length === 0 && !keep.has(JSON.stringify(q))) removePath(merged, q)
            else break
        }
    }
}

function managerId(m: Pick<Manager, "manager" | "operation" | "subresource" | "apiVersion">): string {
    return JSON.stringify([m.manager, m.operation, m.subresource ?? "", m.operation === "Update" ? m.apiVersion : ""])
}

function pathString(path: Path): string {
    return path
        .map((el) => {
            if (el.startsWith("f:")) return `.${el.slice(2)}`
            if (el.startsWith("i:")) return `[${el.slice(2)}]`
            if (el.startsWith("v:")) return `[=${el.slice(2)}]`
            const key = JSON.parse(el.slice(2)) as Record<string, Json>
            return `[${Object.entries(key)
                .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
                .join(",")}]`
        })
        .join("")
}

function printManager(m: Manager): string {
    let s = JSON.stringify(m.manager)
    if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`
    if (m.operation === "Update") s += ` using ${m.apiVersion}`
    return s
}

function conflictError(conflicts: { manager: Manager; path: Path }[]): StatusError {
    conflicts.sort((a, b) => (a.manager.manager < b.manager.manager ? -1 : a.manager.manager > b.manager.manager ? 1 : 0))
    let message: string
    if (conflicts.length === 1) {
        message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0].manager)}: ${pathString(conflicts[0].path)}`
    } else {
        const lines: string[] = []
        const byManager = new Map<string, { manager: Manager; paths: Path[] }>()
        for (const c of conflicts) {
            const id = printManager(c.manager)
            if (!byManager.has(id)) byManager.set(id, { manager: c.manager, paths: [] })
            byManager.get(id)!.paths.push(c.path)
        }
        for (const id of [...byManager.keys()].sort()) {
            lines.push(`conflicts with ${id}:`)
            for (const p of byManager.get(id)!.paths) lines.push(`- ${pathString(p)}`)
        }
        message = `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`
    }
    return new StatusError(409, "Conflict", message, {
        causes: conflicts.map((c) => ({ reason: "FieldManagerConflict", message: `conflict with ${printManager(c.manager)}`, field: pathString(c.path) })),
    })
}

function setsEqual(a: FieldSet, b: FieldSet): boolean {
    return a.size === b.size && [...a].every((k) => b.has(k))
}

function managersEqual(a: Manager[], b: Manager[]): boolean {
    if (a.length !== b.length) return false
    const m = new Map(a.map((x) => [managerId(x), x]))
    return b.every((x) => {
        const y = m.get(managerId(x))
        return y !== undefined && setsEqual(x.set, y.set)
    })
}

/** Decodes metadata.managedFields. */
export function readManagers(obj: Json): Manager[] {
    const entries = obj?.metadata?.managedFields
    if (!Array.isArray(entries)) return []
    return entries.map((e: Json) => ({
        manager: e.manager ?? "",
        operation: e.operation === "Apply" ? "Apply" : "Update",
        apiVersion: e.apiVersion ?? "",
        time: e.time,
        subresource: e.subresource || undefined,
        set: fromFieldsV1(e.fieldsV1 ?? {}),
    }))
}

/** Encodes managers into metadata.managedFields, in the API server's order. */
export function writeManagers(obj: Json, managers: Manager[]): void {
    const sorted = [...managers].sort((a, b) => {
        if (a.operation !== b.operation) return a.operation < b.operation ? -1 : 1
        const ta = a.time ? Math.floor(Date.parse(a.time) / 1000) : 0
        const tb = b.time ? Math.floor(Date.parse(b.time) / 1000) : 0
        if (ta !== tb) return ta - tb
        if (a.manager !== b.manager) return a.manager < b.manager ? -1 : 1
        return a.apiVersion < b.apiVersion ? -1 : a.apiVersion > b.apiVersion ? 1 : 0
    })
    obj.metadata.managedFields = sorted.map((m) => ({
        manager: m.manager,
        operation: m.operation,
        apiVersion: m.apiVersion,
        ...(m.time ? { time: m.time } : {}),
        fieldsType: "FieldsV1",
        fieldsV1: toFieldsV1(m.set),
        ...(m.subresource ? { subresource: m.subresource } : {}),
    }))
    if (obj.metadata.managedFields.length === 0) delete obj.metadata.managedFields
}

const RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 }

interface Tree {
    member: boolean
    children: Map<string, Tree>
}

/** Encodes a field set as FieldsV1 JSON. */
export function toFieldsV1(set: FieldSet): Record<string, Json> {
    const root: Tree = { member: false, children: new Map() }
    for (const key of set) {
        let node = root
        for (const el of JSON.parse(key) as Path) {
            let next = node.children.get(el)
            if (!next) node.children.set(el, (next = { member: false, children: new Map() }))
            node = next
        }
        node.member = true
    }
    const encode = (t: Tree): Record<string, Json> => {
        const out: Record<string, Json> = {}
        if (t.member && t.children.size > 0) out["."] = {}
        const keys = [...t.children.keys()].sort((a, b) => RANK[a[0]] - RANK[b[0]] || (a < b ? -1 : a > b ? 1 : 0))
        for (const k of keys) out[k] = encode(t.children.get(k)!)
        return out
    }
    return encode(root)
}

/** Decodes FieldsV1 JSON. */
export function fromFieldsV1(v: Record<string, Json>, prefix: Path = [], out: FieldSet = new Set()): FieldSet {
    for (const [k, child] of Object.entries(v)) {
        if (k === ".") {
            out.add(JSON.stringify(prefix))
            continue
        }
        const p = [...prefix, k]
        if (!isObject(child) || Object.keys(child).length === 0) out.add(JSON.stringify(p))
        else fromFieldsV1(child, p, out)
    }
    return out
}

/** Options shared by apply and update. */
export interface FieldManagerOptions {
    structure: Schema
    manager: string
    apiVersion: string
    subresource?: string
    /** paths that are never managed (apiVersion, kind, metadata.name, …, status or spec depending on the endpoint) */
    ignore: (p: Path) => boolean
    now: string
}

function difference(a: FieldSet, b: FieldSet): FieldSet {
    return new Set([...a].filter((k) => !b.has(k)))
}

/**
 * Server-side apply: returns the merged object (without managedFields) and the new managers, or throws a 409
 * conflict. `changed` is false when neither the object nor the field ownership changed.
 */
export function apply(
    live: Json | undefined,
    config: Json,
    o: FieldManagerOptions & { force: boolean },
): { object: Json; managers: Manager[]; changed: boolean } {
    const base = clone(live ?? {})
    const before = readManagers(base)
    if (base.metadata) delete base.metadata.managedFields
    const self: Manager = { manager: o.manager, operation: "Apply", apiVersion: o.apiVersion, subresource: o.subresource, set: applySet(config, o.structure, o.ignore) }
    const selfId = managerId(self)
    const last = before.find((m) => managerId(m) === selfId)
    const others = before.filter((m) => managerId(m) !== selfId).map((m) => ({ ...m, set: new Set(m.set) }))
    const merged = merge(base, config, o.structure)
    if (last) {
        const keep = new Set(self.set)
        for (const m of others) for (const k of m.set) keep.add(k)
        pruneDropped(merged, o.structure, last.set, keep)
    }
    const c = compare(base, merged, o.structure, o.ignore)
    const changedPaths = new Set([...c.added, ...c.modified])
    const conflicts: { manager: Manager; path: Path }[] = []
    for (const m of others) {
        for (const k of m.set) if (changedPaths.has(k)) conflicts.push({ manager: m, path: JSON.parse(k) })
    }
    if (conflicts.length > 0 && !o.force) throw conflictError(conflicts)
    for (const m of others) m.set = difference(difference(m.set, changedPaths), c.removed)
    const managers = [...others.filter((m) => m.set.size > 0), ...(self.set.size > 0 ? [self] : [])]
    const objectChanged = c.added.size + c.removed.size + c.modified.size > 0 || JSON.stringify(base) !== JSON.stringify(merged)
    const changed = objectChanged || !managersEqual(before, managers)
    self.time = changed || !last ? o.now : last.time
    return { object: merged, managers, changed }
}

/** Managed fields of an ordinary write (create, update, patch) by `o.manager`. */
export function update(
    live: Json | undefined,
    next: Json,
    o: FieldManagerOptions & { start?: Manager[] },
): { managers: Manager[]; changed: boolean } {
    const base = clone(live ?? {})
    const before = o.start ?? readManagers(base)
    if (base.metadata) delete base.metadata.managedFields
    const target = clone(next)
    if (target.metadata) delete target.metadata.managedFields
    const c = compare(base, target, o.structure, o.ignore)
    const changedPaths = new Set([...c.added, ...c.modified])
    const selfKey: Manager = { manager: o.manager, operation: "Update", apiVersion: o.apiVersion, subresource: o.subresource, set: new Set() }
    const selfId = managerId(selfKey)
    const managers: Manager[] = []
    let self: Manager | undefined
    for (const m of before) {
        if (managerId(m) === selfId) {
            self = { ...m, set: new Set(m.set) }
            continue
        }
        const set = difference(difference(m.set, changedPaths), c.removed)
        if (set.size > 0) managers.push({ ...m, set })
    }
    const prevSelfSet = self?.set ?? new Set<string>()
    const selfSet = new Set([...difference(prevSelfSet, c.removed), ...changedPaths])
    const changed = changedPaths.size + c.removed.size > 0
    if (selfSet.size > 0) {
        managers.push({ ...selfKey, set: selfSet, time: changed || !self ? o.now : self.time })
    }
    return { managers, changed: changed || !managersEqual(before, managers) }
}
