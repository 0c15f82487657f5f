/** JSON merge patch (RFC 7386), strategic merge patch (k8s built-in kinds) and JSON patch (RFC 6902). */
import { badRequest, StatusError } from "./errors.js"
import { clone, type Schema } from "./schema.js"

// biome-ignore lint/suspicious/noExplicitAny: JSON values
type Json = any

function isObject(v: unknown): v is Record<string, Json> {
    return typeof v === "object" && v !== null && !Array.isArray(v)
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
    if (!isObject(patch)) return clone(patch)
    const out: Record<string, Json> = isObject(target) ? { ...target } : {}
    for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete out[k]
        else out[k] = mergePatch(out[k], v)
    }
    return out
}

function childSchema(schema: Schema | undefined, key: string): Schema | undefined {
    const prop = schema?.properties?.[key]
    if (prop) return prop
    if (isObject(schema?.additionalProperties)) return schema.additionalProperties
    if (schema?.["x-struct"]) return { type: "object", "x-struct": true }
    return undefined
}

/** Strategic merge patch against a built-in kind's structure (patchMergeKey / patchStrategy). */
export function strategicMergePatch(target: Json, patch: Json, schema: Schema | undefined): Json {
    if (!isObject(patch)) return clone(patch)
    if (patch.$patch === "replace") {
        const { $patch: _, ...rest } = patch
        return stripDirectives(rest)
    }
    if (patch.$patch === "delete") return undefined
    const out: Record<string, Json> = isObject(target) ? { ...target } : {}
    const retainKeys: string[] | undefined = Array.isArray(patch.$retainKeys) ? patch.$retainKeys : undefined
    for (const [k, v] of Object.entries(patch)) {
        if (k.startsWith("$")) continue
        if (k.startsWith("$setElementOrder/")) continue
        const sub = childSchema(schema, k)
        if (v === null) {
            delete out[k]
            continue
        }
        if (Array.isArray(v) && sub?.["x-kubernetes-patch-strategy"]?.includes("merge")) {
            out[k] = mergeList(Array.isArray(out[k]) ? out[k] : [], v, sub)
            continue
        }
        const r = strategicMergePatch(out[k], v, sub)
        if (r === undefined) delete out[k]
        else out[k] = r
    }
    for (const k of Object.keys(patch)) {
        if (k.startsWith("$deleteFromPrimitiveList/")) {
            const field = k.slice("$deleteFromPrimitiveList/".length)
            const drop = patch[k] as Json[]
            if (Array.isArray(out[field])) out[field] = out[field].filter((x: Json) => !drop.includes(x))
        }
    }
    if (retainKeys) for (const k of Object.keys(out)) if (!retainKeys.includes(k)) delete out[k]
    return out
}

function stripDirectives(v: Json): Json {
    if (Array.isArray(v)) return v.map(stripDirectives)
    if (!isObject(v)) return v
    const out: Record<string, Json> = {}
    for (const [k, x] of Object.entries(v)) if (!k.startsWith("$")) out[k] = stripDirectives(x)
    return out
}

function mergeList(current: Json[], patch: Json[], schema: Schema): Json[] {
    const key: string | undefined = schema["x-kubernetes-patch-merge-key"]
    if (!key) {
        // list of primitives with merge strategy: union
        const out = [...current]
        for (const item of patch) if (!out.some((x) => JSON.stringify(x) === JSON.stringify(item))) out.push(item)
        return out
    }
    if (patch.some((item) => isObject(item) && item.$patch === "replace")) {
        return patch.filter((item) => !(isObject(item) && item.$patch === "replace")).map(stripDirectives)
    }
    const out = [...current]
    for (const item of patch) {
        if (!isObject(item)) throw badRequest(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`)
        if (item[key] === undefined) throw badRequest(`map: map[${Object.keys(item).join(" ")}] does not contain declared merge key: ${key}`)
        const i = out.findIndex((x) => isObject(x) && JSON.stringify(x[key]) === JSON.stringify(item[key]))
        if (item.$patch === "delete") {
            if (i >= 0) out.splice(i, 1)
            continue
        }
        if (i >= 0) out[i] = strategicMergePatch(out[i], item, schema.items)
        else out.push(stripDirectives(item))
    }
    return out
}

/** A JSON patch that does not apply: 422 as NewGenericServerResponse writes it, the detail in a cause. */
function patchFailed(detail: string): StatusError {
    return new StatusError(422, "Invalid", "the server rejected our request due to an error in our request", {
        causes: [{ reason: "UnexpectedServerResponse", message: detail }],
    })
}

function pointer(path: string): string[] {
    if (path === "") return []
    if (!path.startsWith("/")) throw badRequest(`JSON pointer "${path}" must start with /`)
    return path
        .slice(1)
        .split("/")
        .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
}

function parentOf(doc: Json, parts: string[], op: string): { parent: Json; key: string } {
    let cur = doc
    for (const p of parts.slice(0, -1)) {
        if (Array.isArray(cur)) cur = cur[Number(p)]
        else if (isObject(cur)) cur = cur[p]
        else cur = undefined
        if (cur === undefined) throw patchFailed(`${op} operation does not apply: doc is missing path: "/${parts.join("/")}": missing value`)
    }
    return { parent: cur, key: parts[parts.length - 1] }
}

/** RFC 6902 JSON patch. */
export function jsonPatch(doc: Json, ops: Json): Json {
    if (!Array.isArray(ops)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    let out = clone(doc)
    const missing = (op: string, path: string) => patchFailed(`${op} operation does not apply: doc is missing path: "${path}": missing value`)
    for (const op of ops) {
        const parts = pointer(op.path ?? "")
        const get = (p: string[]): Json => {
            let cur = out
            for (const s of p) {
                if (cur === undefined || cur === null) return undefined
                cur = Array.isArray(cur) ? cur[Number(s)] : cur[s]
            }
            return cur
        }
        const add = (p: string[], value: Json) => {
            if (p.length === 0) {
                out = clone(value)
                return
            }
            const { parent, key } = parentOf(out, p, op.op)
            if (Array.isArray(parent)) {
                const i = key === "-" ? parent.length : Number(key)
                if (!(i >= 0 && i <= parent.length)) throw missing(op.op, op.path)
                parent.splice(i, 0, clone(value))
            } else parent[key] = clone(value)
        }
        const remove = (p: string[]): Json => {
            const { parent, key } = parentOf(out, p, op.op)
            if (Array.isArray(parent)) {
                const i = Number(key)
                if (!(i >= 0 && i < parent.length)) throw missing(op.op, op.path)
                return parent.splice(i, 1)[0]
            }
            if (!(key in parent)) throw missing(op.op, op.path)
            const v = parent[key]
            delete parent[key]
            return v
        }
        switch (op.op) {
            case "add":
                add(parts, op.value)
                break
            case "remove":
                remove(parts)
                break
            case "replace":
                if (get(parts) === undefined) throw missing("replace", op.path)
                if (parts.length === 0) out = clone(op.value)
                else {
                    const { parent, key } = parentOf(out, parts, op.op)
                    parent[Array.isArray(parent) ? Number(key) : key] = clone(op.value)
                }
                break
            case "move": {
                const v = remove(pointer(op.from))
                add(parts, v)
                break
            }
            case "copy":
                add(parts, get(pointer(op.from)))
                break
            case "test":
                if (JSON.stringify(get(parts)) !== JSON.stringify(op.value)) {
                    throw patchFailed(`testing value ${op.path} failed: test failed`)
                }
                break
            default:
                throw badRequest(`Unexpected kind: ${op.op}`)
        }
    }
    return out
}
