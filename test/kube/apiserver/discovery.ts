/** Discovery documents (/version, /api, /apis, …) and server-side Table rendering for `kubectl get`. */
import type { ResourceType } from "./resources.js"

// biome-ignore lint/suspicious/noExplicitAny: JSON values
type Json = any

/** `/version`. */
export function versionInfo(): Json {
    return {
        major: "1",
        minor: "32",
        gitVersion: "v1.32.4",
        gitCommit: "59526cd4867447956156ae3a602fcbac10a2c335",
        gitTreeState: "clean",
        buildDate: "2025-04-22T16:02:27Z",
        goVersion: "go1.23.6",
        compiler: "gc",
        platform: "linux/amd64",
    }
}

/** `/api`. */
export function apiVersions(serverAddress: string): Json {
    return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
    }
}

function groupVersions(types: ResourceType[]): Map<string, string[]> {
    const groups = new Map<string, string[]>()
    for (const t of types) {
        if (!t.group) continue
        const versions = groups.get(t.group) ?? []
        if (!versions.includes(t.version)) versions.push(t.version)
        groups.set(t.group, versions)
    }
    return groups
}

function apiGroup(name: string, versions: string[]): Json {
    const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }))
    return { name, versions: vs, preferredVersion: vs[0] }
}

/** `/apis`. */
export function apiGroupList(types: ResourceType[]): Json {
    return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [...groupVersions(types)].map(([name, versions]) => apiGroup(name, versions)),
    }
}

/** `/apis/<group>`, or undefined when the group is not served. */
export function apiGroupDoc(types: ResourceType[], group: string): Json | undefined {
    const versions = groupVersions(types).get(group)
    return versions ? { kind: "APIGroup", apiVersion: "v1", ...apiGroup(group, versions) } : undefined
}

/** `/api/v1` or `/apis/<group>/<version>`, or undefined. */
export function apiResourceList(types: ResourceType[], group: string, version: string): Json | undefined {
    const ts = types.filter((t) => t.group === group && t.version === version)
    if (ts.length === 0) return undefined
    const resources: Json[] = []
    for (const t of ts) {
        resources.push({
            name: t.resource,
            singularName: t.singular,
            namespaced: t.namespaced,
            kind: t.kind,
            verbs: t.verbs,
            ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
            ...(t.categories.length > 0 ? { categories: t.categories } : {}),
        })
        if (t.statusSubresource || t.kind === "Deployment" || t.kind === "Namespace") {
            resources.push({ name: `${t.resource}/status`, singularName: "", namespaced: t.namespaced, kind: t.kind, verbs: ["get", "patch", "update"] })
        }
    }
    return { kind: "APIResourceList", apiVersion: "v1", groupVersion: group ? `${group}/${version}` : version, resources }
}

/** duration.HumanDuration from k8s.io/apimachinery. */
export function humanDuration(ms: number): string {
    const seconds = Math.floor(ms / 1000)
    if (seconds < -1) return "<invalid>"
    if (seconds < 0) return "0s"
    if (seconds < 120) return `${seconds}s`
    const minutes = Math.floor(seconds / 60)
    if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
    if (minutes < 180) return `${minutes}m`
    const hours = Math.floor(minutes / 60)
    if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
    if (hours < 48) return `${hours}h`
    if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`
    if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`
    if (hours < 24 * 365 * 8) {
        const dy = Math.floor(hours / 24) % 365
        return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`
    }
    return `${Math.floor(hours / 24 / 365)}y`
}

/** A tiny JSONPath evaluator for printer columns: `.a.b`, `.a[0].b`, `.a[?(@.k=="v")].b`. */
export function jsonPath(obj: Json, expr: string): Json {
    const tokens = expr.match(/\.[^.[]+|\[\?\(@\.[^=]+==["'][^"']*["']\)\]|\[\d+\]/g) ?? []
    let cur: Json = obj
    for (const t of tokens) {
        if (cur === undefined || cur === null) return undefined
        if (t.startsWith("[?(")) {
            const m = /^\[\?\(@\.([^=]+)==["']([^"']*)["']\)\]$/.exec(t)!
            cur = Array.isArray(cur) ? cur.find((x) => x?.[m[1]] === m[2]) : undefined
        } else if (t.startsWith("[")) {
            cur = Array.isArray(cur) ? cur[Number(t.slice(1, -1))] : undefined
        } else cur = cur[t.slice(1)]
    }
    return cur
}

function cell(t: ResourceType, obj: Json, c: { type: string; jsonPath?: string }, now: number): Json {
    if (c.jsonPath === "#data") return Object.keys(obj.data ?? {}).length + Object.keys(obj.binaryData ?? {}).length
    if (c.jsonPath === "#secrets") return (obj.secrets ?? []).length
    if (c.jsonPath === "#ready") return `${obj.status?.readyReplicas ?? 0}/${obj.spec?.replicas ?? 1}`
    const v = jsonPath(obj, c.jsonPath ?? "")
    if (c.type === "date") return typeof v === "string" ? humanDuration(now - Date.parse(v)) : "<unknown>"
    if (v === undefined || v === null) return t.crdSchema ? null : c.type === "integer" ? 0 : "<none>"
    return typeof v === "object" ? JSON.stringify(v) : v
}

/** A meta.k8s.io/v1 Table of objects. */
export function table(t: ResourceType, objs: Json[], includeObject: string | null, resourceVersion: string): Json {
    const now = Date.now()
    const columns = [{ name: "Name", type: "string", format: "name", jsonPath: ".metadata.name", description: "Name must be unique within a namespace." }]
    const extra = t.crdSchema ? t.columns : [...t.columns, { name: "Age", type: "string", jsonPath: ".metadata.creationTimestamp", format: "" }]
    const ageCol = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
    const all: { name: string; type: string; jsonPath?: string; format?: string; description?: string; priority?: number }[] = [...columns, ...extra.map((c) => (c.name === "Age" ? { ...c, type: t.crdSchema ? c.type : "string" } : c))]
    return {
        kind: "Table",
        apiVersion: "meta.k8s.io/v1",
        metadata: { resourceVersion },
        columnDefinitions: all.map((c) => ({
            name: c.name,
            type: c.type,
            format: c.format ?? "",
            description: c.description ?? "",
            priority: c.priority ?? 0,
        })),
        rows: objs.map((o) => {
            const cells = all.map((c) => (c.name === "Age" ? cell(t, o, ageCol, now) : cell(t, o, c, now)))
            const row: Json = { cells }
            if (includeObject === "Object") row.object = o
            else if (includeObject !== "None") {
                row.object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata }
            }
            return row
        }),
    }
}

function gvPath(group: string, version: string): string {
    return group ? `apis/${group}/${version}` : `api/${version}`
}

/** `/openapi/v3`: the index of per-group-version documents. */
export function openApiV3Index(types: ResourceType[]): Json {
    const paths: Record<string, Json> = {}
    for (const t of types) {
        const p = gvPath(t.group, t.version)
        paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hashOf(p)}` }
    }
    return { paths }
}

function hashOf(s: string): string {
    let h = 0x811c9dc5
    for (const ch of s) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0
    return h.toString(16).toUpperCase().padStart(8, "0").repeat(4)
}

const QUERY_PARAMS = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"].map((name) => ({
    name,
    in: "query",
    schema: { type: name === "force" ? "boolean" : "string", uniqueItems: true },
}))

/** `/openapi/v3/<gv>`: enough for kubectl (PATCH operations with the fieldValidation parameter) and explain. */
export function openApiV3Doc(types: ResourceType[], gv: string): Json | undefined {
    const ts = types.filter((t) => gvPath(t.group, t.version) === gv)
    if (ts.length === 0) return undefined
    const paths: Record<string, Json> = {}
    const schemas: Record<string, Json> = {}
    for (const t of ts) {
        const gvk = { group: t.group, version: t.version, kind: t.kind }
        const base = t.namespaced ? `/${gv}/namespaces/{namespace}/${t.resource}` : `/${gv}/${t.resource}`
        const schemaName = `${t.group ? t.group.split(".").reverse().join(".") : "io.k8s.api.core"}.${t.version}.${t.kind}`
        schemas[schemaName] = { ...(t.crdSchema ?? { type: "object" }), "x-kubernetes-group-version-kind": [gvk] }
        const ref = { $ref: `#/components/schemas/${schemaName}` }
        const op = (action: string) => ({
            operationId: `${action}${t.kind}`,
            parameters: QUERY_PARAMS,
            responses: { "200": { description: "OK", content: { "application/json": { schema: ref } } } },
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
        })
        paths[`${base}/{name}`] = { get: op("get"), put: op("put"), patch: op("patch"), delete: op("delete") }
        paths[base] = { get: op("list"), post: op("post") }
    }
    return {
        openapi: "3.0.0",
        info: { title: "Kubernetes", version: "v1.32.4" },
        paths,
        components: { schemas },
    }
}
