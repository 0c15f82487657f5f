/**
 * The Kubernetes API client of kubectl-sops: the only module that loads `@kubernetes/client-node`, and only inside
 * {@link connect} (the import costs about 0.6 s; `--export` and `--dry-run=client` never get here).
 *
 * client-node reads the kubeconfig and authenticates (certificates, tokens, exec and OIDC plugins, proxies); the
 * requests themselves are plain HTTPS with JSON bodies, so custom resources keep every field and API errors are
 * read from their `Status`. Writes are server-side apply with the field manager `kubectl-sops`. Every failure is a
 * {@link KubeError} with one line that never echoes a request or response body (it may hold a Secret).
 */
import { existsSync } from "node:fs"
import type { IncomingMessage, RequestOptions } from "node:http"
import path from "node:path"
import { ErrorKind, KubeError } from "../errors.js"
import type { KubeObject } from "./types.js"

/** The field manager of every write. */
export const FIELD_MANAGER = "kubectl-sops"

/** Options of {@link connect}. */
export interface ConnectOptions {
    /** `--kubeconfig`; else `$KUBECONFIG` (a `:`-separated list), else `~/.kube/config`. */
    kubeconfig?: string
    /** `--context`; else the kubeconfig's current context. */
    context?: string
    env: Readonly<Record<string, string | undefined>>
    /** Relative `--kubeconfig` paths are resolved against this folder (default: the process's). */
    cwd?: string
    /** Per-request timeout in milliseconds (default 30 s). */
    requestTimeoutMs?: number
}

/** What {@link KubeClient.apply} did. */
export type ApplyAction = "created" | "configured" | "unchanged"

/** A connection to one cluster. */
export interface KubeClient {
    /** The API server URL. */
    readonly server: string
    /** The namespace of the kubeconfig context, when it sets one. */
    readonly contextNamespace: string | undefined
    /**
     * Read an object. @returns undefined when the object does not exist
     * @throws KubeError ClusterNotFound when the API itself is missing (for example Flux is not installed)
     */
    get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined>
    /** List objects (all namespaces when `namespace` is undefined and the kind is namespaced). */
    list(apiVersion: string, kind: string, namespace?: string): Promise<KubeObject[]>
    /** Server-side apply with field manager {@link FIELD_MANAGER}; `dryRun` = the server's `dryRun=All`. */
    apply(obj: KubeObject, o?: { dryRun?: boolean; force?: boolean }): Promise<{ object: KubeObject; action: ApplyAction }>
    /** A merge, strategic-merge or JSON patch. */
    patch(
        apiVersion: string,
        kind: string,
        namespace: string,
        name: string,
        body: unknown,
        type: "merge" | "strategic" | "json",
        o?: { dryRun?: boolean },
    ): Promise<KubeObject>
    /** Whether the server serves `kind` in `apiVersion` (discovery). */
    hasApi(apiVersion: string, kind: string): Promise<boolean>
}

const FLUX_GROUPS = /\.toolkit\.fluxcd\.io$/

function firstLine(text: string): string {
    return text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "")
        .join(" ")
}

function errorText(e: unknown): string {
    return firstLine(e instanceof Error ? e.message : String(e))
}

/** Which kubeconfig files apply, in order. */
function kubeconfigFiles(o: ConnectOptions): { files: string[]; inCluster: boolean } {
    const cwd = o.cwd ?? process.cwd()
    if (o.kubeconfig !== undefined && o.kubeconfig !== "") return { files: [path.resolve(cwd, o.kubeconfig)], inCluster: false }
    const env = o.env.KUBECONFIG
    if (env !== undefined && env !== "") return { files: env.split(path.delimiter).filter((f) => f !== ""), inCluster: false }
    const home = o.env.HOME ?? o.env.USERPROFILE
    const file = home === undefined ? undefined : path.join(home, ".kube", "config")
    if (file !== undefined && existsSync(file)) return { files: [file], inCluster: false }
    if (o.env.KUBERNETES_SERVICE_HOST !== undefined && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
        return { files: [], inCluster: true }
    }
    throw new KubeError(ErrorKind.ClusterUnreachable, "no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist", {
        hint: "point --kubeconfig or KUBECONFIG at the cluster's kubeconfig",
    })
}

const NETWORK_REASONS: Readonly<Record<string, string>> = {
    ECONNREFUSED: "connection refused",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host not found (DNS lookup failed)",
    ETIMEDOUT: "timed out",
    ECONNRESET: "connection reset",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    EPIPE: "connection closed",
}
const TLS_CODES = new Set([
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "UNABLE_TO_GET_ISSUER_CERT",
    "CERT_HAS_EXPIRED",
    "CERT_NOT_YET_VALID",
    "ERR_TLS_CERT_ALTNAME_INVALID",
])

/** A network failure → one line naming the server. */
export function networkError(server: string, e: unknown): KubeError {
    const code = (e as { code?: string }).code ?? ""
    if (TLS_CODES.has(code)) {
        return new KubeError(ErrorKind.ClusterUnreachable, `cannot reach the cluster at ${server}: TLS certificate not trusted (${code})`, {
            cause: e,
            hint: "check the cluster's certificate-authority-data (or tls-server-name) in the kubeconfig",
        })
    }
    const why = NETWORK_REASONS[code] ?? (code !== "" ? code : errorText(e))
    return new KubeError(ErrorKind.ClusterUnreachable, `cannot reach the cluster at ${server}: ${why}`, {
        cause: e,
        hint: "check --kubeconfig/--context or KUBECONFIG, and that the cluster is running",
    })
}

interface Status {
    kind?: string
    message?: string
    reason?: string
    details?: { name?: string; kind?: string; group?: string; causes?: unknown[] }
}

/** What a request was about, for messages. */
interface Target {
    verb: string
    apiVersion: string
    kind: string
    resource?: string
    namespace?: string
    name?: string
}

function describe(t: Target): string {
    const where = t.namespace === undefined ? "" : `${t.namespace}/`
    return `${t.kind}${t.name === undefined ? "" : ` ${where}${t.name}`}`
}

/** An HTTP error answer → one KubeError line (the Status message, never the body). */
export function statusError(server: string, status: number, body: string, target: Target): KubeError {
    let st: Status | undefined
    try {
        const parsed = JSON.parse(body) as Status
        if (parsed !== null && typeof parsed === "object" && parsed.kind === "Status") st = parsed
    } catch {
        // not JSON (for example "404 page not found")
    }
    const message = st?.message === undefined || st.message === "" ? undefined : firstLine(st.message)
    const reason = st?.reason
    const o = { status, ...(reason === undefined ? {} : { reason }) }
    switch (status) {
        case 401:
            return new KubeError(ErrorKind.ClusterForbidden, `the cluster at ${server} rejected the credentials (Unauthorized)`, {
                ...o,
                hint: "check the user of the kubeconfig context (expired token or certificate?)",
            })
        case 403:
            return new KubeError(ErrorKind.ClusterForbidden, message ?? `forbidden: cannot ${target.verb} ${describe(target)}`, {
                ...o,
                hint: `ask for RBAC permission to ${target.verb} ${target.resource ?? target.kind}${target.namespace === undefined ? "" : ` in ${target.namespace}`}, or use another --context`,
            })
        case 404:
            return new KubeError(ErrorKind.ClusterNotFound, message ?? `${describe(target)} not found`, o)
        case 409:
            return new KubeError(ErrorKind.ClusterConflict, message ?? `conflict writing ${describe(target)}`, {
                ...o,
                hint:
                    message?.startsWith("Apply failed") === true
                        ? "another field manager owns these fields (see metadata.managedFields); change them with that tool, or take them over with a forced apply"
                        : "the object changed meanwhile; run the command again",
            })
        case 400:
        case 422:
            return new KubeError(ErrorKind.ClusterInvalid, message ?? `the cluster rejected ${describe(target)} as invalid (${status})`, o)
        default:
            return new KubeError(
                ErrorKind.ClusterUnreachable,
                `the cluster at ${server} answered ${status}${message === undefined ? "" : `: ${message}`} (${target.verb} ${describe(target)})`,
                { ...o, hint: "retry later; check the API server's health" },
            )
    }
}

/** The API is not served: one line, with how to install Flux for the Flux groups. */
export function missingApiError(apiVersion: string, kind: string): KubeError {
    const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : ""
    return new KubeError(ErrorKind.ClusterNotFound, `the server has no ${kind} (${apiVersion}) API`, {
        status: 404,
        reason: "NotFound",
        hint: FLUX_GROUPS.test(group) ? "install Flux first: flux install" : "check that the cluster serves this API (kubectl api-resources)",
    })
}

interface ApiResource {
    name: string
    kind: string
    namespaced: boolean
}

/** Fields that change on every write or are the controllers' business: ignored when deciding "unchanged". */
function comparable(obj: KubeObject | undefined): string {
    if (obj === undefined) return ""
    const copy: Record<string, unknown> = { ...obj, metadata: { ...obj.metadata } }
    delete copy.status
    const meta = copy.metadata as Record<string, unknown>
    for (const k of ["resourceVersion", "managedFields", "generation", "creationTimestamp", "uid"]) delete meta[k]
    return JSON.stringify(sortKeys(copy))
}

function sortKeys(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(sortKeys)
    if (v !== null && typeof v === "object") {
        return Object.fromEntries(
            Object.keys(v)
                .sort()
                .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
        )
    }
    return v
}

/**
 * Load the kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`, in-cluster), pick the context and return a
 * client. Nothing is sent to the cluster yet.
 * @throws KubeError ClusterUnreachable for a missing or malformed kubeconfig or an unknown context
 */
export async function connect(o: ConnectOptions): Promise<KubeClient> {
    const { files, inCluster } = kubeconfigFiles(o)
    const k8s = await import("@kubernetes/client-node")
    const kc = new k8s.KubeConfig()
    const where = files.length === 0 ? "(in-cluster)" : files.join(path.delimiter)
    for (const [i, file] of files.entries()) {
        try {
            if (i === 0) kc.loadFromFile(file)
            else {
                const more = new k8s.KubeConfig()
                more.loadFromFile(file)
                kc.mergeConfig(more)
            }
        } catch (e) {
            const code = (e as { code?: string }).code
            const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : errorText(e)
            throw new KubeError(ErrorKind.ClusterUnreachable, `invalid kubeconfig ${file}: ${reason}`, {
                cause: e,
                hint: "point --kubeconfig or KUBECONFIG at a valid kubeconfig file",
            })
        }
    }
    if (inCluster) kc.loadFromCluster()
    if (o.context !== undefined && o.context !== "") {
        if (kc.getContextObject(o.context) === null) {
            throw new KubeError(ErrorKind.ClusterUnreachable, `context "${o.context}" does not exist in kubeconfig ${where}`, {
                hint: `the contexts are: ${kc.getContexts().map((c) => c.name).join(", ") || "(none)"}`,
            })
        }
        kc.setCurrentContext(o.context)
    }
    const current = kc.getCurrentContext()
    if (!inCluster && (current === undefined || current === "" || kc.getContextObject(current) === null)) {
        throw new KubeError(ErrorKind.ClusterUnreachable, `invalid kubeconfig ${where}: current-context is not set`, {
            hint: "choose one with --context",
        })
    }
    const cluster = kc.getCurrentCluster()
    if (cluster === null || cluster.server === undefined || cluster.server === "") {
        throw new KubeError(ErrorKind.ClusterUnreachable, `invalid kubeconfig ${where}: context "${current}" has no cluster server`, {
            hint: "check the clusters section of the kubeconfig",
        })
    }
    const contextNamespace = inCluster ? undefined : (kc.getContextObject(current)?.namespace ?? undefined)
    return new Client(kc, cluster.server, contextNamespace, o.requestTimeoutMs ?? 30_000)
}

type KubeConfig = import("@kubernetes/client-node").KubeConfig

class Client implements KubeClient {
    readonly server: string
    readonly contextNamespace: string | undefined
    readonly #kc: KubeConfig
    readonly #timeoutMs: number
    readonly #resources = new Map<string, Promise<ApiResource[] | undefined>>()

    constructor(kc: KubeConfig, server: string, contextNamespace: string | undefined, timeoutMs: number) {
        this.#kc = kc
        this.server = server
        this.contextNamespace = contextNamespace
        this.#timeoutMs = timeoutMs
    }

    async #request(
        method: string,
        apiPath: string,
        query: Record<string, string | undefined> = {},
        body?: { text: string; contentType: string },
    ): Promise<{ status: number; text: string }> {
        const url = new URL(this.server.replace(/\/+$/, "") + apiPath)
        for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v)
        const opts: RequestOptions & { headers: Record<string, string> } = {
            method,
            headers: { Accept: "application/json", "User-Agent": `${FIELD_MANAGER}/node` },
        }
        try {
            await this.#kc.applyToHTTPSOptions(opts)
        } catch (e) {
            throw new KubeError(ErrorKind.ClusterUnreachable, `cannot authenticate to the cluster at ${this.server}: ${errorText(e)}`, {
                cause: e,
                hint: "check the user of the kubeconfig context (exec plugin, token file)",
            })
        }
        if (body !== undefined) {
            opts.headers["Content-Type"] = body.contentType
            opts.headers["Content-Length"] = String(Buffer.byteLength(body.text))
        }
        const isHttp = url.protocol === "http:"
        if (isHttp) delete opts.agent
        const mod = isHttp ? await import("node:http") : await import("node:https")
        return new Promise((resolve, reject) => {
            const req = mod.request(url, opts, (res: IncomingMessage) => {
                const chunks: Buffer[] = []
                res.on("data", (c: Buffer) => chunks.push(c))
                res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
                res.on("error", (e) => reject(networkError(this.server, e)))
            })
            req.setTimeout(this.#timeoutMs, () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })))
            req.on("error", (e) => reject(networkError(this.server, e)))
            req.end(body?.text)
        })
    }

    /** Discovery for one group/version (cached): undefined when the server does not serve it. */
    #discover(apiVersion: string): Promise<ApiResource[] | undefined> {
        let p = this.#resources.get(apiVersion)
        if (p === undefined) {
            p = (async () => {
                const r = await this.#request("GET", apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`)
                if (r.status === 404) return undefined
                if (r.status < 200 || r.status > 299) throw statusError(this.server, r.status, r.text, { verb: "discover", apiVersion, kind: apiVersion })
                const list = JSON.parse(r.text) as { resources?: ApiResource[] }
                return (list.resources ?? []).filter((x) => !x.name.includes("/"))
            })()
            this.#resources.set(apiVersion, p)
            p.catch(() => this.#resources.delete(apiVersion))
        }
        return p
    }

    async #resource(apiVersion: string, kind: string): Promise<ApiResource> {
        const found = (await this.#discover(apiVersion))?.find((x) => x.kind === kind)
        if (found === undefined) throw missingApiError(apiVersion, kind)
        return found
    }

    async hasApi(apiVersion: string, kind: string): Promise<boolean> {
        return (await this.#discover(apiVersion))?.some((x) => x.kind === kind) ?? false
    }

    #path(apiVersion: string, res: ApiResource, namespace: string | undefined, name?: string): string {
        let p = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`
        if (res.namespaced && namespace !== undefined) p += `/namespaces/${encodeURIComponent(namespace)}`
        p += `/${res.name}`
        if (name !== undefined) p += `/${encodeURIComponent(name)}`
        return p
    }

    #namespace(res: ApiResource, namespace: string | undefined): string | undefined {
        if (!res.namespaced) return undefined
        return namespace ?? this.contextNamespace ?? "default"
    }

    async get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
        const res = await this.#resource(apiVersion, kind)
        const ns = this.#namespace(res, namespace)
        const r = await this.#request("GET", this.#path(apiVersion, res, ns, name))
        if (r.status === 404) return undefined
        if (r.status < 200 || r.status > 299) {
            throw statusError(this.server, r.status, r.text, { verb: "get", apiVersion, kind, resource: res.name, ...(ns === undefined ? {} : { namespace: ns }), name })
        }
        return JSON.parse(r.text) as KubeObject
    }

    async list(apiVersion: string, kind: string, namespace?: string): Promise<KubeObject[]> {
        const res = await this.#resource(apiVersion, kind)
        const r = await this.#request("GET", this.#path(apiVersion, res, res.namespaced ? namespace : undefined))
        if (r.status < 200 || r.status > 299) {
            throw statusError(this.server, r.status, r.text, { verb: "list", apiVersion, kind, resource: res.name, ...(namespace === undefined ? {} : { namespace }) })
        }
        const items = (JSON.parse(r.text) as { items?: KubeObject[] }).items ?? []
        return items.map((i) => ({ ...i, apiVersion, kind }))
    }

    async apply(obj: KubeObject, o: { dryRun?: boolean; force?: boolean } = {}): Promise<{ object: KubeObject; action: ApplyAction }> {
        const res = await this.#resource(obj.apiVersion, obj.kind)
        const ns = this.#namespace(res, obj.metadata.namespace)
        const body = ns === undefined ? obj : { ...obj, metadata: { ...obj.metadata, namespace: ns } }
        const before = await this.get(obj.apiVersion, obj.kind, ns, obj.metadata.name)
        const target: Target = { verb: "apply", apiVersion: obj.apiVersion, kind: obj.kind, resource: res.name, ...(ns === undefined ? {} : { namespace: ns }), name: obj.metadata.name }
        const r = await this.#request(
            "PATCH",
            this.#path(obj.apiVersion, res, ns, obj.metadata.name),
            { fieldManager: FIELD_MANAGER, force: o.force ? "true" : undefined, dryRun: o.dryRun ? "All" : undefined },
            { text: JSON.stringify(body), contentType: "application/apply-patch+yaml" },
        )
        if (r.status < 200 || r.status > 299) throw statusError(this.server, r.status, r.text, target)
        const after = JSON.parse(r.text) as KubeObject
        let action: ApplyAction
        if (before === undefined) action = "created"
        else if (o.dryRun) action = comparable(before) === comparable(after) ? "unchanged" : "configured"
        else action = before.metadata.resourceVersion === after.metadata.resourceVersion ? "unchanged" : "configured"
        return { object: after, action }
    }

    async patch(
        apiVersion: string,
        kind: string,
        namespace: string,
        name: string,
        body: unknown,
        type: "merge" | "strategic" | "json",
        o: { dryRun?: boolean } = {},
    ): Promise<KubeObject> {
        const res = await this.#resource(apiVersion, kind)
        const ns = this.#namespace(res, namespace)
        const contentType = { merge: "application/merge-patch+json", strategic: "application/strategic-merge-patch+json", json: "application/json-patch+json" }[type]
        const r = await this.#request(
            "PATCH",
            this.#path(apiVersion, res, ns, name),
            { fieldManager: FIELD_MANAGER, dryRun: o.dryRun ? "All" : undefined },
            { text: JSON.stringify(body), contentType },
        )
        if (r.status < 200 || r.status > 299) {
            throw statusError(this.server, r.status, r.text, { verb: "patch", apiVersion, kind, resource: res.name, ...(ns === undefined ? {} : { namespace: ns }), name })
        }
        return JSON.parse(r.text) as KubeObject
    }
}
