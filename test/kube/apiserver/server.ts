/**
 * HTTP handling of the test API server: authentication (bearer tokens), authorization (forbid rules), routing of
 * discovery and resource paths, and the verbs get, list, watch, create, update, patch (merge, strategic, JSON,
 * apply), delete and deletecollection.
 */
import { randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { parse as parseYaml } from "yaml"
import { apiGroupDoc, apiGroupList, apiResourceList, apiVersions, openApiV3Doc, openApiV3Index, table, versionInfo } from "./discovery.js"
import { alreadyExists, badRequest, conflict, type FieldError, invalid, notFound, qualifiedResource, StatusError } from "./errors.js"
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.js"
import { decodeKubeProtobuf } from "./protobuf.js"
import type { ResourceType } from "./resources.js"
import { applyDefaults, clone, prune, validate, validateConfigKeys, validateMetadataMaps, validateName } from "./schema.js"
import { apply as ssaApply, type Manager, type Path, readManagers, update as ssaUpdate, writeManagers } from "./ssa.js"
import type { Store } from "./store.js"

// biome-ignore lint/suspicious/noExplicitAny: JSON values
type Json = any

/** A user and what it may not do. */
export interface UserSpec {
    token: string
    forbid?: { verb?: string; resource: string; namespace?: string }[]
}

/** One served request, for assertions. */
export interface RequestRecord {
    method: string
    path: string
    query: URLSearchParams
    contentType?: string
    user?: string
    status: number
}

/** Shared state the handler works on. */
export interface ServerState {
    store: Store
    users: Record<string, UserSpec>
    requests: RequestRecord[]
    address: () => string
    onWrite: () => ((obj: Json) => void) | undefined
}

const NOT_FOUND = () => new StatusError(404, "NotFound", "the server could not find the requested resource", {})
const METHOD_NOT_ALLOWED = () => new StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

const META_IGNORED = new Set([
    "f:name",
    "f:namespace",
    "f:uid",
    "f:resourceVersion",
    "f:generation",
    "f:creationTimestamp",
    "f:managedFields",
    "f:selfLink",
    "f:deletionTimestamp",
    "f:deletionGracePeriodSeconds",
    "f:generateName",
])

function isObject(v: unknown): v is Record<string, Json> {
    return typeof v === "object" && v !== null && !Array.isArray(v)
}

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function nowTime(): string {
    return new Date().toISOString().replace(/\.\d+Z$/, "Z")
}

function ignoreFor(rt: ResourceType, sub: string | undefined): (p: Path) => boolean {
    return (p) => {
        if (p[0] === "f:apiVersion" || p[0] === "f:kind") return true
        if (p[0] === "f:metadata" && p.length > 1 && META_IGNORED.has(p[1])) return true
        if (rt.statusSubresource) return sub === "status" ? p[0] !== "f:status" : p[0] === "f:status"
        return false
    }
}

/** The field manager of a non-apply write: `fieldManager`, else the User-Agent's program name. */
function managerName(query: URLSearchParams, req: IncomingMessage): string {
    const fm = query.get("fieldManager")
    if (fm) return fm
    const ua = req.headers["user-agent"] ?? ""
    const name = ua.split("/")[0].trim()
    return name || "unknown"
}

function decodeBase64Strict(s: string): number | undefined {
    // returns the index of the first illegal byte, or undefined when valid
    for (let i = 0; i < s.length; i++) {
        const c = s[i]
        if (/[A-Za-z0-9+/]/.test(c)) continue
        if (c === "=" && (i === s.length - 1 || (i === s.length - 2 && s[s.length - 1] === "="))) continue
        return i
    }
    if (s.length % 4 !== 0) return s.length - (s.length % 4)
    return undefined
}

function sameJson(a: Json, b: Json): boolean {
    return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))
}

function sortKeys(v: Json): Json {
    if (Array.isArray(v)) return v.map(sortKeys)
    if (!isObject(v)) return v
    const out: Record<string, Json> = {}
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k])
    return out
}

function withoutVolatile(obj: Json): Json {
    const c = clone(obj)
    if (c?.metadata) {
        delete c.metadata.managedFields
        delete c.metadata.resourceVersion
    }
    return c
}

/** Whether a write changes what metadata.generation tracks (spec; for custom resources all but metadata/status). */
export function specChanged(rt: ResourceType, before: Json, after: Json): boolean {
    return !sameJson(specPart(rt, before), specPart(rt, after))
}

function specPart(rt: ResourceType, obj: Json): Json {
    if (rt.crdSchema) {
        const { metadata: _m, status: _s, ...rest } = obj ?? {}
        return rest
    }
    return obj?.spec
}

function parseSelector(text: string): ((labels: Record<string, string>) => boolean)[] {
    const reqs: string[] = []
    let depth = 0
    let cur = ""
    for (const ch of text) {
        if (ch === "(") depth++
        if (ch === ")") depth--
        if (ch === "," && depth === 0) {
            reqs.push(cur)
            cur = ""
        } else cur += ch
    }
    if (cur.trim()) reqs.push(cur)
    return reqs.map((r) => {
        const s = r.trim()
        let m: RegExpExecArray | null
        if ((m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(s))) {
            const key = m[1]
            const values = m[3].split(",").map((x) => x.trim())
            const neg = m[2] === "notin"
            return (l) => (key in l && values.includes(l[key])) !== neg
        }
        if ((m = /^([^\s!=]+)\s*!=\s*(\S*)$/.exec(s))) {
            const [, key, value] = m
            return (l) => l[key] !== value
        }
        if ((m = /^([^\s!=]+)\s*==?\s*(\S*)$/.exec(s))) {
            const [, key, value] = m
            return (l) => l[key] === value
        }
        if ((m = /^!\s*(\S+)$/.exec(s))) {
            const key = m[1]
            return (l) => !(key in l)
        }
        if (/^\S+$/.test(s)) return (l) => s in l
        throw badRequest(`unable to parse requirement: ${s}`)
    })
}

function matchesSelectors(obj: Json, query: URLSearchParams): boolean {
    const ls = query.get("labelSelector")
    if (ls) {
        const labels = obj.metadata?.labels ?? {}
        if (!parseSelector(ls).every((f) => f(labels))) return false
    }
    const fs = query.get("fieldSelector")
    if (fs) {
        for (const part of fs.split(",")) {
            const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(part.trim())
            if (!m) throw badRequest(`invalid selector: '${fs}'; can't understand '${part}'`)
            const field = m[1].trim()
            const actual =
                field === "metadata.name" ? obj.metadata?.name : field === "metadata.namespace" ? obj.metadata?.namespace : field === "type" ? obj.type : undefined
            if (actual === undefined && !["metadata.name", "metadata.namespace"].includes(field)) {
                throw badRequest(`field label not supported: ${field}`)
            }
            if ((m[2] === "!=") !== (actual !== m[3])) return false
        }
    }
    return true
}

interface Route {
    rt: ResourceType
    namespace?: string
    name?: string
    sub?: string
}

/** The request handler. */
export class Handler {
    private readonly s: ServerState
    /** The response of the request being routed (routing is synchronous once the body is read). */
    private res?: ServerResponse

    constructor(s: ServerState) {
        this.s = s
    }

    /** Handles one HTTP request. */
    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const url = new URL(req.url ?? "/", "https://127.0.0.1")
        const chunks: Buffer[] = []
        for await (const c of req) chunks.push(c as Buffer)
        const raw = Buffer.concat(chunks)
        const body = raw.toString("utf8")
        const record: RequestRecord = {
            method: req.method ?? "GET",
            path: url.pathname,
            query: url.searchParams,
            contentType: req.headers["content-type"],
            status: 0,
        }
        this.s.requests.push(record)
        let status = 200
        let payload: Json
        let streaming = false
        try {
            const user = this.authenticate(req)
            record.user = user
            const r = this.route(req, res, url, body, raw, user)
            if (r === "streaming") streaming = true
            else [status, payload] = r
        } catch (e) {
            if (e instanceof StatusError) {
                status = e.code
                payload = e.toStatus()
            } else {
                status = 500
                payload = new StatusError(500, "InternalError", `Internal error occurred: ${(e as Error).stack ?? e}`).toStatus()
            }
        }
        record.status = streaming ? 200 : status
        if (streaming) return
        const text = JSON.stringify(payload)
        res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-cache, private" })
        res.end(text)
    }

    private authenticate(req: IncomingMessage): string {
        const auth = req.headers.authorization ?? ""
        const m = /^Bearer\s+(\S+)$/i.exec(auth)
        if (m) {
            for (const [name, u] of Object.entries(this.s.users)) if (u.token === m[1]) return name
        }
        throw new StatusError(401, "Unauthorized", "Unauthorized")
    }

    private authorize(user: string, verb: string, r: Route): void {
        const rules = this.s.users[user]?.forbid ?? []
        const resource = r.sub ? `${r.rt.resource}/${r.sub}` : r.rt.resource
        for (const rule of rules) {
            if (rule.verb && rule.verb !== "*" && rule.verb !== verb) continue
            const names = [r.rt.resource, `${r.rt.resource}.${r.rt.group}`, resource, "*"]
            if (!names.includes(rule.resource)) continue
            if (rule.namespace && rule.namespace !== r.namespace) continue
            const subject = `${qualifiedResource(r.rt.group, r.rt.resource)}${r.name ? ` "${r.name}"` : ""}`
            const where = r.namespace ? `in the namespace "${r.namespace}"` : "at the cluster scope"
            throw new StatusError(
                403,
                "Forbidden",
                `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${r.rt.group}" ${where}`,
                { ...(r.name ? { name: r.name } : {}), ...(r.rt.group ? { group: r.rt.group } : {}), kind: r.rt.resource },
            )
        }
    }

    private route(req: IncomingMessage, res: ServerResponse, url: URL, body: string, raw: Buffer, user: string): [number, Json] | "streaming" {
        this.res = res
        const segs = url.pathname.split("/").filter((x) => x !== "")
        const types = this.s.store.types
        const method = req.method ?? "GET"
        if (segs.length === 1 && segs[0] === "version") return [200, versionInfo()]
        if (segs.length === 1 && segs[0] === "api") return [200, apiVersions(this.s.address())]
        if (segs.length === 1 && segs[0] === "apis") return [200, apiGroupList(types)]
        if (segs[0] === "openapi" && segs[1] === "v3") {
            const doc = segs.length === 2 ? openApiV3Index(types) : openApiV3Doc(types, segs.slice(2).join("/"))
            if (!doc) throw NOT_FOUND()
            return [200, doc]
        }
        if (segs.length === 2 && segs[0] === "apis") {
            const doc = apiGroupDoc(types, segs[1])
            if (!doc) throw NOT_FOUND()
            return [200, doc]
        }
        let group: string
        let version: string
        let rest: string[]
        if (segs[0] === "api" && segs.length >= 2) {
            group = ""
            version = segs[1]
            rest = segs.slice(2)
        } else if (segs[0] === "apis" && segs.length >= 3) {
            group = segs[1]
            version = segs[2]
            rest = segs.slice(3)
        } else throw NOT_FOUND()
        if (rest.length === 0) {
            const doc = apiResourceList(types, group, version)
            if (!doc) throw NOT_FOUND()
            return [200, doc]
        }
        let r: Route
        const isNamespaced = (res: string) => types.some((t) => t.group === group && t.version === version && t.resource === res && t.namespaced)
        if (rest[0] === "namespaces" && rest.length >= 3 && isNamespaced(rest[2])) {
            if (rest.length > 5) throw NOT_FOUND()
            const rt = this.s.store.byResource(group, version, rest[2])!
            r = { rt, namespace: rest[1], name: rest[3], sub: rest[4] }
        } else {
            if (rest.length > 3) throw NOT_FOUND()
            const rt = this.s.store.byResource(group, version, rest[0])
            if (!rt) throw NOT_FOUND()
            r = { rt, name: rest[1], sub: rest[2] }
            if (rt.namespaced && r.name !== undefined) throw NOT_FOUND()
        }
        if (r.sub !== undefined && !(r.sub === "status" && r.rt.statusSubresource)) throw NOT_FOUND()
        const q = url.searchParams
        const accept = String(req.headers.accept ?? "")
        const wantsTable = /as=Table/.test(accept)
        const wantsMeta = !wantsTable && /as=PartialObjectMetadata/.test(accept)
        const partial = (o: Json) => ({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata })
        const dryRun = q.getAll("dryRun").includes("All")
        if (dryRun === false && q.getAll("dryRun").length > 0) throw badRequest(`Invalid dry run value: ${q.getAll("dryRun").join(",")}`)
        switch (method) {
            case "GET": {
                if (r.name === undefined) {
                    if (q.get("watch") === "true" || q.get("watch") === "1") {
                        this.authorize(user, "watch", r)
                        this.watch(r, q, req, res)
                        return "streaming"
                    }
                    this.authorize(user, "list", r)
                    const list = this.list(r, q, wantsTable)
                    if (wantsMeta) {
                        return [200, { kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata: list.metadata, items: list.items.map(partial) }]
                    }
                    return [200, list]
                }
                this.authorize(user, "get", r)
                const obj = this.mustGet(r)
                if (wantsMeta) return [200, partial(obj)]
                return [200, wantsTable ? table(r.rt, [obj], q.get("includeObject"), this.s.store.resourceVersion) : obj]
            }
            case "POST":
                if (r.name !== undefined) throw METHOD_NOT_ALLOWED()
                this.authorize(user, "create", r)
                return this.create(r, this.parseBody(body, raw, req), q, req, dryRun)
            case "PUT":
                if (r.name === undefined) throw METHOD_NOT_ALLOWED()
                this.authorize(user, "update", r)
                return this.update(r, this.parseBody(body, raw, req), q, req, dryRun)
            case "PATCH":
                if (r.name === undefined) throw METHOD_NOT_ALLOWED()
                this.authorize(user, "patch", r)
                return this.patch(r, body, String(req.headers["content-type"] ?? "").split(";")[0].trim(), q, req, dryRun)
            case "DELETE":
                if (r.name === undefined) {
                    this.authorize(user, "deletecollection", r)
                    return this.deleteCollection(r, q, dryRun)
                }
                this.authorize(user, "delete", r)
                return this.delete(r, body, dryRun)
            default:
                throw METHOD_NOT_ALLOWED()
        }
    }

    private parseBody(body: string, raw: Buffer, req: IncomingMessage): Json {
        const ct = String(req.headers["content-type"] ?? "application/json").split(";")[0].trim()
        if (ct === "application/vnd.kubernetes.protobuf") return decodeKubeProtobuf(raw)
        try {
            if (ct === "application/json" || ct === "") return JSON.parse(body)
            if (ct === "application/yaml") return parseYaml(body)
        } catch (e) {
            throw badRequest(`the object provided is unrecognized (must be of type Object): couldn't get version/kind; json parse error: ${(e as Error).message}`)
        }
        throw new StatusError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`)
    }

    private mustGet(r: Route): Json {
        const obj = this.s.store.get(r.rt, r.namespace, r.name!)
        if (!obj) throw notFound(r.rt.group, r.rt.resource, r.name!)
        return clone(obj)
    }

    private list(r: Route, q: URLSearchParams, wantsTable: boolean): Json {
        const items = this.s.store.list(r.rt, r.namespace).filter((o) => matchesSelectors(o, q)).map(clone)
        if (wantsTable) return table(r.rt, items, q.get("includeObject"), this.s.store.resourceVersion)
        return {
            apiVersion: r.rt.apiVersion,
            kind: r.rt.listKind,
            metadata: { resourceVersion: this.s.store.resourceVersion },
            items: r.rt.crdSchema
                ? items
                : items.map((o) => {
                      const { apiVersion: _a, kind: _k, ...rest } = o
                      return rest
                  }),
        }
    }

    private watch(r: Route, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
        res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" })
        res.flushHeaders()
        const send = (type: string, object: Json) => res.write(`${JSON.stringify({ type, object })}\n`)
        const rv = q.get("resourceVersion")
        const initial = q.get("sendInitialEvents") === "true"
        if (!rv || rv === "0" || initial) {
            for (const o of this.s.store.list(r.rt, r.namespace)) if (matchesSelectors(o, q)) send("ADDED", o)
        }
        if (initial) {
            // the watch-list protocol: a bookmark marks the end of the initial events
            send("BOOKMARK", {
                apiVersion: r.rt.apiVersion,
                kind: r.rt.kind,
                metadata: { resourceVersion: this.s.store.resourceVersion, annotations: { "k8s.io/initial-events-end": "true" } },
            })
        }
        const unsubscribe = this.s.store.subscribe((e) => {
            if (e.rt !== r.rt) return
            if (r.namespace && e.object.metadata.namespace !== r.namespace) return
            if (!matchesSelectors(e.object, q)) return
            send(e.type, e.object)
        })
        const timeout = Number(q.get("timeoutSeconds") ?? "1800")
        const timer = setTimeout(() => res.end(), timeout * 1000)
        const stop = () => {
            clearTimeout(timer)
            unsubscribe()
        }
        req.socket.once("close", stop)
        res.once("finish", stop)
    }

    /** Brings a body into canonical form for its type (kind, namespace, Secret data, CRD pruning). */
    private normalize(r: Route, obj: Json, forApply = false, q?: URLSearchParams, res?: ServerResponse): Json {
        if (!isObject(obj)) throw badRequest("the object provided is unrecognized (must be of type Object)")
        const rt = r.rt
        if (obj.apiVersion !== undefined && obj.apiVersion !== rt.apiVersion) {
            throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${rt.apiVersion})`)
        }
        if (obj.kind !== undefined && obj.kind !== rt.kind) {
            throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${rt.kind})`)
        }
        if (forApply && (obj.apiVersion === undefined || obj.kind === undefined)) {
            throw badRequest("invalid object type: /, Kind=")
        }
        obj.apiVersion = rt.apiVersion
        obj.kind = rt.kind
        if (!isObject(obj.metadata)) obj.metadata = {}
        if (rt.namespaced) {
            if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== "" && obj.metadata.namespace !== r.namespace) {
                throw badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            if (!forApply || obj.metadata.namespace !== undefined) obj.metadata.namespace = r.namespace
        } else delete obj.metadata.namespace
        if (rt.kind === "Secret") {
            if (isObject(obj.stringData)) {
                obj.data = { ...(obj.data ?? {}) }
                for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v), "utf8").toString("base64")
            }
            delete obj.stringData
            for (const v of Object.values(obj.data ?? {})) {
                const bad = typeof v === "string" ? decodeBase64Strict(v) : 0
                if (bad !== undefined) {
                    throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${bad}`)
                }
            }
        }
        if (rt.crdSchema) {
            const removed: string[] = []
            prune(obj, rt.crdSchema, true, removed)
            if (removed.length > 0) this.unknownFields(r, removed, forApply, q, res)
        }
        return obj
    }

    /**
     * Unknown fields of a custom resource: an applied configuration cannot hold them (SMD rejects the typed patch);
     * otherwise fieldValidation decides (Strict: 400, Warn: a Warning header, Ignore: silently pruned).
     */
    private unknownFields(r: Route, removed: string[], forApply: boolean, q?: URLSearchParams, res?: ServerResponse): void {
        const rt = r.rt
        if (forApply) {
            // the real server answers 500 without a reason here (kubernetes/kubernetes#122480)
            const where = `${rt.namespaced ? `${r.namespace}/` : ""}${r.name}; ${rt.group}/${rt.version}, Kind=${rt.kind}`
            throw new StatusError(500, "", `failed to create typed patch object (${where}): .${removed[0]}: field not declared in schema`)
        }
        const mode = q?.get("fieldValidation") ?? ""
        if (mode === "Strict") {
            const list = removed.map((p) => `unknown field "${p}"`).join(", ")
            throw badRequest(`${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: strict decoding error: ${list}`)
        }
        if (mode === "Warn" && res) {
            const prev = res.getHeader("Warning")
            const warnings = removed.map((p) => `299 - "unknown field \\"${p}\\""`)
            res.setHeader("Warning", [...(Array.isArray(prev) ? prev : prev ? [String(prev)] : []), ...warnings])
        }
    }

    private validateObject(rt: ResourceType, obj: Json, old: Json | undefined): void {
        const errors: FieldError[] = []
        const name = obj.metadata.name
        errors.push(...validateName(name, rt.kind === "Namespace"))
        errors.push(...validateMetadataMaps(obj.metadata))
        if (rt.kind === "Secret") {
            errors.push(...validateConfigKeys(obj.data, "data"))
            if (old && (old.type ?? "Opaque") !== obj.type) errors.push({ type: "Invalid", field: "type", value: obj.type, detail: "field is immutable" })
        }
        if ((rt.kind === "Secret" || rt.kind === "ConfigMap") && old?.immutable === true) {
            if (!sameJson(old.data ?? {}, obj.data ?? {}) || !sameJson(old.binaryData ?? {}, obj.binaryData ?? {})) {
                errors.push({ type: "Forbidden", field: "data", detail: "field is immutable when `immutable` is set" })
            }
            if (obj.immutable !== true) errors.push({ type: "Forbidden", field: "immutable", detail: "field is immutable when `immutable` is set" })
        }
        if (rt.kind === "ConfigMap") {
            errors.push(...validateConfigKeys(obj.data, "data"), ...validateConfigKeys(obj.binaryData, "binaryData"))
        }
        if (rt.kind === "Deployment") {
            if (!isObject(obj.spec?.selector)) errors.push({ type: "Required", field: "spec.selector" })
            const containers = obj.spec?.template?.spec?.containers
            if (!Array.isArray(containers) || containers.length === 0) errors.push({ type: "Required", field: "spec.template.spec.containers" })
            else
                containers.forEach((c: Json, i: number) => {
                    if (!c?.name) errors.push({ type: "Required", field: `spec.template.spec.containers[${i}].name` })
                    if (!c?.image) errors.push({ type: "Required", field: `spec.template.spec.containers[${i}].image` })
                    ;(Array.isArray(c?.env) ? c.env : []).forEach((e: Json, j: number) => {
                        if (e?.value && e?.valueFrom) {
                            errors.push({
                                type: "Invalid",
                                field: `spec.template.spec.containers[${i}].env[${j}].valueFrom`,
                                value: "",
                                detail: "may not be specified when `value` is not empty",
                            })
                        }
                    })
                })
            const sel = obj.spec?.selector?.matchLabels ?? {}
            const labels = obj.spec?.template?.metadata?.labels ?? {}
            if (isObject(obj.spec?.selector) && !Object.entries(sel).every(([k, v]) => labels[k] === v)) {
                errors.push({
                    type: "Invalid",
                    field: "spec.template.metadata.labels",
                    value: labels,
                    detail: "`selector` does not match template `labels`",
                })
            }
        }
        if (rt.crdSchema) {
            const { metadata: _m, ...rest } = obj
            validate(rest, rt.crdSchema, "", errors)
        }
        if (errors.length > 0) throw invalid(rt.group, rt.kind, typeof name === "string" ? name : "", errors)
    }

    /** Server-side defaults: CRD `default:`s, Secret type, Namespace label, Deployment and pod defaults. */
    defaults(rt: ResourceType, obj: Json): void {
        if (rt.crdSchema) {
            const { metadata, ...rest } = obj
            applyDefaults(rest, rt.crdSchema)
            Object.assign(obj, rest, { metadata })
        }
        if (rt.kind === "Secret" && obj.type === undefined) obj.type = "Opaque"
        if (rt.kind === "ServiceAccount" || rt.kind === "Namespace") {
            // nothing
        }
        if (rt.kind === "Namespace") {
            obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kubernetes.io/metadata.name": obj.metadata.name }
            obj.spec = { finalizers: ["kubernetes"], ...(obj.spec ?? {}) }
        }
        if (rt.kind === "Deployment" && isObject(obj.spec)) {
            const spec = obj.spec
            spec.replicas ??= 1
            spec.revisionHistoryLimit ??= 10
            spec.progressDeadlineSeconds ??= 600
            spec.strategy ??= { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } }
            const pod = spec.template?.spec
            if (isObject(pod)) {
                pod.restartPolicy ??= "Always"
                pod.terminationGracePeriodSeconds ??= 30
                pod.dnsPolicy ??= "ClusterFirst"
                pod.schedulerName ??= "default-scheduler"
                pod.securityContext ??= {}
                for (const c of [...(pod.containers ?? []), ...(pod.initContainers ?? [])]) {
                    if (!isObject(c)) continue
                    c.terminationMessagePath ??= "/dev/termination-log"
                    c.terminationMessagePolicy ??= "File"
                    c.imagePullPolicy ??= String(c.image ?? "").endsWith(":latest") || !String(c.image ?? "").includes(":") ? "Always" : "IfNotPresent"
                    c.resources ??= {}
                    for (const p of c.ports ?? []) if (isObject(p)) p.protocol ??= "TCP"
                    for (const e of c.env ?? []) if (isObject(e?.valueFrom?.fieldRef)) e.valueFrom.fieldRef.apiVersion ??= "v1"
                }
            }
        }
    }

    /**
     * The shared tail of every write: subresource rules, defaults, validation, managed fields, generation,
     * no-op detection, storage.
     */
    private write(
        r: Route,
        old: Json | undefined,
        next: Json,
        o: { manager: string; dryRun: boolean; managers?: Manager[] },
    ): { object: Json; created: boolean } {
        const rt = r.rt
        if (rt.readOnly) throw METHOD_NOT_ALLOWED()
        const sub = r.sub
        if (sub === "status") {
            const merged = clone(old)
            merged.status = next.status
            if (merged.status === undefined) delete merged.status
            next = merged
        } else if (rt.statusSubresource) {
            if (old?.status !== undefined) next.status = clone(old.status)
            else delete next.status
            if (!old && rt.kind === "Namespace") next.status = { phase: "Active" }
        }
        if (old) {
            for (const k of ["uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"]) {
                if (old.metadata[k] !== undefined) next.metadata[k] = old.metadata[k]
                else delete next.metadata[k]
            }
            next.metadata.resourceVersion = old.metadata.resourceVersion
            if (next.metadata.managedFields === undefined && !o.managers) next.metadata.managedFields = old.metadata.managedFields
        } else {
            if (!next.metadata.name && next.metadata.generateName) {
                next.metadata.name = next.metadata.generateName + randomUUID().replace(/-/g, "").slice(0, 5)
            }
            next.metadata.uid = randomUUID()
            next.metadata.creationTimestamp = nowTime()
            delete next.metadata.resourceVersion
            if (rt.generation) next.metadata.generation = 1
            else delete next.metadata.generation
        }
        this.defaults(rt, next)
        this.validateObject(rt, next, old)
        if (rt.namespaced && !this.s.store.get(this.namespaceType(), undefined, next.metadata.namespace)) {
            throw notFound("", "namespaces", next.metadata.namespace)
        }
        const now = nowTime()
        let managers = o.managers
        if (!managers) {
            // like decodeLiveOrNew: managedFields sent with the request replace the live ones ([{}] resets them),
            // except through a subresource
            let start: Manager[] | undefined
            const sent = next.metadata.managedFields
            if (sub === undefined && Array.isArray(sent) && sent.length > 0) {
                start = sent.length === 1 && isObject(sent[0]) && Object.keys(sent[0]).length === 0 ? [] : readManagers(next)
            }
            managers = ssaUpdate(old, next, {
                structure: rt.structure,
                manager: o.manager,
                apiVersion: rt.apiVersion,
                subresource: sub,
                ignore: ignoreFor(rt, sub),
                now,
                start,
            }).managers
        }
        writeManagers(next, managers)
        if (old && sameJson(withoutVolatile(old), withoutVolatile(next)) && sameJson(readManagers(old).map(setOnly), managers.map(setOnly))) {
            return { object: clone(old), created: false }
        }
        if (old && rt.generation && specChanged(rt, old, next)) {
            next.metadata.generation = (old.metadata.generation ?? 0) + 1
        }
        if (o.dryRun) return { object: next, created: !old }
        next.metadata.resourceVersion = this.s.store.nextResourceVersion()
        if (rt.kind === "Deployment" && sub !== "status" && (!old || next.metadata.generation !== old.metadata.generation)) {
            simulateDeploymentController(next)
        }
        if (next.metadata.deletionTimestamp && !(Array.isArray(next.metadata.finalizers) && next.metadata.finalizers.length > 0)) {
            // the last finalizer is gone: the deletion completes
            this.s.store.delete(rt, next.metadata.namespace, next.metadata.name)
            return { object: clone(next), created: false }
        }
        this.s.store.put(rt, next)
        const written = clone(next)
        const hook = this.s.onWrite()
        if (hook) hook(clone(next))
        return { object: written, created: !old }
    }

    private namespaceType(): ResourceType {
        return this.s.store.byResource("", "v1", "namespaces")!
    }

    private create(r: Route, body: Json, q: URLSearchParams, req: IncomingMessage, dryRun: boolean): [number, Json] {
        const obj = this.normalize(r, body, false, q, this.res)
        const name = obj.metadata.name
        if (name && this.s.store.get(r.rt, r.namespace, name)) {
            if (r.rt.readOnly) throw METHOD_NOT_ALLOWED()
            throw alreadyExists(r.rt.group, r.rt.resource, name)
        }
        delete obj.metadata.managedFields
        const out = this.write(r, undefined, obj, { manager: managerName(q, req), dryRun })
        return [201, out.object]
    }

    private checkName(r: Route, obj: Json): void {
        const name = obj.metadata?.name
        if (name !== undefined && name !== r.name) {
            throw badRequest(`the name of the object (${name}) does not match the name on the URL (${r.name})`)
        }
    }

    private update(r: Route, body: Json, q: URLSearchParams, req: IncomingMessage, dryRun: boolean): [number, Json] {
        const obj = this.normalize(r, body, false, q, this.res)
        this.checkName(r, obj)
        obj.metadata.name = r.name
        const old = this.s.store.get(r.rt, r.namespace, r.name!)
        if (!old) throw notFound(r.rt.group, r.rt.resource, r.name!)
        const rv = obj.metadata.resourceVersion
        if (rv === undefined || rv === "") {
            if (!r.rt.unconditionalUpdate) {
                // the storage layer's error: the kind slot holds the resource, the value is a uint64
                throw invalid(r.rt.group, r.rt.resource, r.name!, [
                    { type: "Invalid", field: "metadata.resourceVersion", value: 0, goValue: "0x0", detail: "must be specified for an update" },
                ])
            }
        } else if (rv !== old.metadata.resourceVersion) {
            throw conflict(r.rt.group, r.rt.resource, r.name!, "the object has been modified; please apply your changes to the latest version and try again")
        }
        const out = this.write(r, clone(old), obj, { manager: managerName(q, req), dryRun })
        return [200, out.object]
    }

    private patch(r: Route, body: string, contentType: string, q: URLSearchParams, req: IncomingMessage, dryRun: boolean): [number, Json] {
        const old = this.s.store.get(r.rt, r.namespace, r.name!)
        if (contentType === "application/apply-patch+yaml") return this.apply(r, old, body, q, dryRun)
        if (q.has("force")) {
            throw invalid("meta.k8s.io", "PatchOptions", "", [{ type: "Forbidden", field: "force", detail: "may not be specified for non-apply patch" }])
        }
        if (!old) throw notFound(r.rt.group, r.rt.resource, r.name!)
        let patch: Json
        try {
            patch = JSON.parse(body)
        } catch (e) {
            throw badRequest(`error decoding patch: ${(e as Error).message}`)
        }
        const current = clone(old)
        let next: Json
        switch (contentType) {
            case "application/merge-patch+json":
                next = mergePatch(current, patch)
                break
            case "application/strategic-merge-patch+json":
                if (r.rt.crdSchema) throw unsupportedPatch()
                next = strategicMergePatch(current, patch, r.rt.structure)
                break
            case "application/json-patch+json":
                next = jsonPatch(current, patch)
                break
            default:
                throw unsupportedPatch()
        }
        if (!isObject(next)) throw badRequest("the patch result is not an object")
        const obj = this.normalize(r, next, false, q, this.res)
        this.checkName(r, obj)
        const rv = obj.metadata.resourceVersion
        if (rv !== undefined && rv !== old.metadata.resourceVersion) {
            throw conflict(r.rt.group, r.rt.resource, r.name!, "the object has been modified; please apply your changes to the latest version and try again")
        }
        const out = this.write(r, clone(old), obj, { manager: managerName(q, req), dryRun })
        return [200, out.object]
    }

    private apply(r: Route, old: Json | undefined, body: string, q: URLSearchParams, dryRun: boolean): [number, Json] {
        const manager = q.get("fieldManager")
        if (!manager) {
            throw invalid("meta.k8s.io", "PatchOptions", "", [{ type: "Required", field: "fieldManager", detail: "is required for apply patch" }])
        }
        const forceParam = q.get("force")
        const force = forceParam === "true" || forceParam === "1"
        let config: Json
        try {
            config = parseYaml(body)
        } catch (e) {
            throw badRequest(`error decoding YAML: ${(e as Error).message}`)
        }
        if (!isObject(config)) throw badRequest("the object provided is unrecognized (must be of type Object)")
        config = this.normalize(r, config, true, q)
        this.checkName(r, config)
        config.metadata.name = r.name
        if (config.metadata.namespace === undefined && r.rt.namespaced) config.metadata.namespace = r.namespace
        const rv = config.metadata.resourceVersion
        if (rv !== undefined && rv !== old?.metadata.resourceVersion) {
            throw conflict(r.rt.group, r.rt.resource, r.name!, "the object has been modified; please apply your changes to the latest version and try again")
        }
        if (config.metadata.managedFields !== undefined) {
            throw badRequest("metadata.managedFields must be nil")
        }
        const ignore = ignoreFor(r.rt, r.sub)
        const live = old ? clone(old) : undefined
        const result = ssaApply(live, config, {
            structure: r.rt.structure,
            manager,
            apiVersion: r.rt.apiVersion,
            subresource: r.sub,
            ignore,
            now: nowTime(),
            force,
        })
        if (old && !result.changed) return [200, clone(old)]
        if (!old && r.sub) throw notFound(r.rt.group, r.rt.resource, r.name!)
        const next = result.object
        next.apiVersion = r.rt.apiVersion
        next.kind = r.rt.kind
        next.metadata.name = r.name
        if (r.rt.namespaced) next.metadata.namespace = r.namespace
        const out = this.write(r, old ? clone(old) : undefined, next, { manager, dryRun, managers: result.managers })
        return [out.created ? 201 : 200, out.object]
    }

    private delete(r: Route, body: string, dryRun: boolean): [number, Json] {
        const old = this.s.store.get(r.rt, r.namespace, r.name!)
        if (!old) throw notFound(r.rt.group, r.rt.resource, r.name!)
        if (r.rt.readOnly) throw METHOD_NOT_ALLOWED()
        let opts: Json = {}
        if (body.trim()) {
            try {
                opts = JSON.parse(body)
            } catch {
                throw badRequest("invalid DeleteOptions")
            }
        }
        const pre = opts?.preconditions
        if (pre?.uid && pre.uid !== old.metadata.uid) {
            throw conflict(r.rt.group, r.rt.resource, r.name!, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`)
        }
        if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
            throw conflict(
                r.rt.group,
                r.rt.resource,
                r.name!,
                `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${old.metadata.resourceVersion}`,
            )
        }
        const obj = clone(old)
        if (r.rt.kind !== "Namespace" && Array.isArray(old.metadata.finalizers) && old.metadata.finalizers.length > 0) {
            // graceful deletion: the object stays, marked, until its finalizers are removed
            if (!old.metadata.deletionTimestamp) {
                obj.metadata.deletionTimestamp = nowTime()
                obj.metadata.deletionGracePeriodSeconds = 0
                if (r.rt.generation) obj.metadata.generation = (obj.metadata.generation ?? 0) + 1
                if (!dryRun) {
                    obj.metadata.resourceVersion = this.s.store.nextResourceVersion()
                    this.s.store.put(r.rt, obj)
                    const hook = this.s.onWrite()
                    if (hook) hook(clone(obj))
                }
            }
            return [200, clone(obj)]
        }
        if (!dryRun) {
            if (r.rt.kind === "Namespace") {
                for (const t of this.s.store.types) {
                    if (!t.namespaced) continue
                    for (const o of this.s.store.list(t, r.name)) this.s.store.delete(t, r.name, o.metadata.name)
                }
            }
            this.s.store.delete(r.rt, r.namespace, r.name!)
        }
        if (r.rt.kind === "Namespace") {
            obj.metadata.deletionTimestamp = nowTime()
            obj.status = { phase: "Terminating" }
            return [200, obj]
        }
        if (r.rt.crdSchema) return [200, obj]
        return [
            200,
            {
                kind: "Status",
                apiVersion: "v1",
                metadata: {},
                status: "Success",
                details: { name: r.name, ...(r.rt.group ? { group: r.rt.group } : {}), kind: r.rt.resource, uid: old.metadata.uid },
            },
        ]
    }

    private deleteCollection(r: Route, q: URLSearchParams, dryRun: boolean): [number, Json] {
        if (r.rt.readOnly) throw METHOD_NOT_ALLOWED()
        const items = this.s.store.list(r.rt, r.namespace).filter((o) => matchesSelectors(o, q))
        if (!dryRun) for (const o of items) this.s.store.delete(r.rt, o.metadata.namespace, o.metadata.name)
        return [200, { apiVersion: r.rt.apiVersion, kind: r.rt.listKind, metadata: { resourceVersion: this.s.store.resourceVersion }, items: items.map(clone) }]
    }
}

function setOnly(m: Manager): Json {
    return { manager: m.manager, operation: m.operation, subresource: m.subresource, set: [...m.set].sort() }
}

function unsupportedPatch(): StatusError {
    return new StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    )
}

/** Plays the deployment controller: the rollout completes at once. */
export function simulateDeploymentController(d: Json): void {
    const replicas = d.spec?.replicas ?? 1
    const now = nowTime()
    const prev = d.status ?? {}
    const cond = (type: string, reason: string, message: string) => {
        const old = (prev.conditions ?? []).find((c: Json) => c.type === type)
        return {
            type,
            status: "True",
            lastUpdateTime: old && old.reason === reason ? old.lastUpdateTime : now,
            lastTransitionTime: old?.lastTransitionTime ?? now,
            reason,
            message,
        }
    }
    const rsName = `${d.metadata.name}-${(d.metadata.generation ?? 1).toString(16).padStart(10, "7")}`
    d.status = {
        observedGeneration: d.metadata.generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        conditions: [
            cond("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            cond("Progressing", "NewReplicaSetAvailable", `ReplicaSet "${rsName}" has successfully progressed.`),
        ],
    }
}
