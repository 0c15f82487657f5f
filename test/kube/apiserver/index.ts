/**
 * An in-process Kubernetes API server for tests: real HTTPS with a self-signed CA, bearer tokens, discovery,
 * built-in kinds (namespaces, secrets, configmaps, serviceaccounts, deployments, CRDs read-only) and the Flux CRDs
 * from the shared data's `crds/`, with server-side apply, patches, CRD schema validation and real `Status` errors. Both
 * `@kubernetes/client-node` and the `kubectl` binary work against it.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:https"
import type { AddressInfo } from "node:net"
import os from "node:os"
import path from "node:path"
import { stringify } from "yaml"
import { builtinTypes, crdResourceType, crdTypes, loadCrds, type ResourceType } from "./resources.js"
import { clone } from "./schema.js"
import { Handler, nowTime, type RequestRecord, type ServerState, simulateDeploymentController, specChanged, type UserSpec } from "./server.js"
import { type Manager, update as ssaUpdate, writeManagers } from "./ssa.js"
import { Store } from "./store.js"
import { tlsMaterial } from "./tls.js"
import { crdsDir, requireSharedData } from "../../conformance-data.js"

// biome-ignore lint/suspicious/noExplicitAny: JSON values
type Json = any

/** Options of {@link startApiServer}. */
export interface ApiServerOptions {
    /** Directory of CRD YAML files; default the shared data's `crds/` (test/conformance-data.ts). */
    crdsDir?: string
    /** Default true; false leaves the Flux groups out (404, absent from discovery). */
    installFluxCrds?: boolean
    /** Default true: namespaces default, kube-system, kube-public, flux-system and the kustomize-controller SA and Deployment. */
    fluxSystem?: boolean
    /** Users by name; default one user "admin" with a random token. */
    users?: Record<string, UserSpec>
}

/** A running test API server. */
export interface TestApiServer {
    /** `https://127.0.0.1:PORT` */
    readonly url: string
    /**
     * Writes a kubeconfig (CA data, the user's token; default user: the first one, context "test") and returns its
     * path: `file`, or a new file in a temporary folder that close() removes.
     */
    kubeconfig(opts?: { user?: string; namespace?: string; context?: string; file?: string }): string
    /** A deep copy of a stored object. */
    object(apiVersion: string, kind: string, namespace: string | undefined, name: string): Json | undefined
    /**
     * Stores an object directly, as written by `manager` (default "seed") with operation Update: no validation,
     * server defaults applied, generation bumped when the spec changes, a Deployment without status rolled out.
     */
    seed(obj: Json, manager?: string): void
    /** Replaces an object's status (as its controller would, manager "controller", subresource status). */
    setStatus(apiVersion: string, kind: string, namespace: string, name: string, status: Json): void
    /** Called after every successful (non-dry-run) write through the API with a copy of the stored object. */
    onWrite?: (obj: Json) => void
    /** Every request served, in order. */
    readonly requests: RequestRecord[]
    /** Stops the server. */
    close(): Promise<void>
}

/** The default CRD directory. */
export const DEFAULT_CRDS_DIR = crdsDir

/** Starts a server on an ephemeral port of 127.0.0.1. */
export async function startApiServer(options: ApiServerOptions = {}): Promise<TestApiServer> {
    const types: ResourceType[] = builtinTypes()
    const crdType = crdResourceType()
    types.push(crdType)
    if (options.installFluxCrds !== false && options.crdsDir === undefined) requireSharedData()
    const crds = options.installFluxCrds === false ? [] : loadCrds(options.crdsDir ?? DEFAULT_CRDS_DIR)
    for (const crd of crds) types.push(...crdTypes(crd))
    const store = new Store(types)
    const users: Record<string, UserSpec> = options.users ?? { admin: { token: randomBytes(24).toString("hex") } }
    const requests: RequestRecord[] = []
    const tempDirs: string[] = []
    let kubeconfigs = 0
    const tls = tlsMaterial()
    let url = ""
    let api: TestApiServer
    const state: ServerState = {
        store,
        users,
        requests,
        address: () => url.replace(/^https:\/\//, ""),
        onWrite: () => api.onWrite,
    }
    const handler = new Handler(state)
    const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
        handler.handle(req, res).catch((e) => {
            res.writeHead(500)
            res.end(String(e))
        })
    })
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => resolve())
    })
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`

    const typeOf = (apiVersion: string, kind: string): ResourceType => {
        const rt = store.byKind(apiVersion, kind)
        if (!rt) throw new Error(`test API server: no type ${apiVersion} ${kind}`)
        return rt
    }

    const seed = (input: Json, manager = "seed"): void => {
        const rt = typeOf(input.apiVersion, input.kind)
        const obj = clone(input)
        obj.metadata ??= {}
        if (!rt.namespaced) delete obj.metadata.namespace
        else obj.metadata.namespace ??= "default"
        const old = store.get(rt, obj.metadata.namespace, obj.metadata.name)
        if (rt.kind === "Secret" && obj.stringData) {
            obj.data = { ...(obj.data ?? {}) }
            for (const [k, v] of Object.entries<string>(obj.stringData)) obj.data[k] = Buffer.from(v).toString("base64")
            delete obj.stringData
        }
        handler.defaults(rt, obj)
        obj.metadata.uid = old?.metadata.uid ?? obj.metadata.uid ?? randomUUID()
        obj.metadata.creationTimestamp = old?.metadata.creationTimestamp ?? obj.metadata.creationTimestamp ?? nowTime()
        if (rt.generation) {
            obj.metadata.generation = old ? old.metadata.generation + (specChanged(rt, old, obj) ? 1 : 0) : (obj.metadata.generation ?? 1)
        }
        // a seeded Deployment without status is rolled out; a given status (say, not ready) is kept
        if (rt.kind === "Deployment" && obj.status === undefined) simulateDeploymentController(obj)
        if (obj.metadata.managedFields === undefined) {
            const { managers } = ssaUpdate(old, obj, {
                structure: rt.structure,
                manager,
                apiVersion: rt.apiVersion,
                ignore: (p) =>
                    p[0] === "f:apiVersion" ||
                    p[0] === "f:kind" ||
                    (rt.statusSubresource && p[0] === "f:status") ||
                    (p[0] === "f:metadata" && ["f:name", "f:namespace", "f:uid", "f:resourceVersion", "f:generation", "f:creationTimestamp", "f:managedFields"].includes(p[1])),
                now: nowTime(),
            })
            writeManagers(obj, managers as Manager[])
        }
        obj.metadata.resourceVersion = store.nextResourceVersion()
        store.put(rt, obj)
    }

    // the installed CRDs are visible read-only
    for (const crd of crds) {
        const obj = clone(crd) as Json
        obj.metadata.uid = randomUUID()
        obj.metadata.creationTimestamp = nowTime()
        obj.metadata.generation = 1
        obj.status = {
            acceptedNames: obj.spec.names,
            conditions: [
                { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "no conflicts found", lastTransitionTime: nowTime() },
                { type: "Established", status: "True", reason: "InitialNamesAccepted", message: "the initial names have been accepted", lastTransitionTime: nowTime() },
            ],
            storedVersions: obj.spec.versions.filter((v: Json) => v.storage).map((v: Json) => v.name),
        }
        obj.metadata.resourceVersion = store.nextResourceVersion()
        store.put(crdType, obj)
    }

    const namespaces = options.fluxSystem === false ? ["default", "kube-system", "kube-public"] : ["default", "kube-system", "kube-public", "flux-system"]
    for (const ns of namespaces) {
        seed(
            {
                apiVersion: "v1",
                kind: "Namespace",
                metadata: { name: ns, labels: { "kubernetes.io/metadata.name": ns } },
                spec: { finalizers: ["kubernetes"] },
                status: { phase: "Active" },
            },
            "kube-apiserver",
        )
    }
    if (options.fluxSystem !== false) seedFluxSystem(seed)

    api = {
        url,
        requests,
        kubeconfig(opts = {}) {
            const user = opts.user ?? Object.keys(users)[0]
            const u = users[user]
            if (!u) throw new Error(`test API server: no user ${user}`)
            const context = opts.context ?? "test"
            const config = {
                apiVersion: "v1",
                kind: "Config",
                clusters: [{ name: "test", cluster: { server: url, "certificate-authority-data": Buffer.from(tls.caCert).toString("base64") } }],
                users: [{ name: user, user: { token: u.token } }],
                contexts: [{ name: context, context: { cluster: "test", user, ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
                "current-context": context,
                preferences: {},
            }
            let file = opts.file
            if (!file) {
                if (tempDirs.length === 0) tempDirs.push(mkdtempSync(path.join(os.tmpdir(), "ksops-kubeconfig-")))
                file = path.join(tempDirs[0], `config-${++kubeconfigs}`)
            }
            writeFileSync(file, stringify(config), { mode: 0o600 })
            return file
        },
        object(apiVersion, kind, namespace, name) {
            const rt = store.byKind(apiVersion, kind)
            if (!rt) return undefined
            return clone(store.get(rt, namespace, name))
        },
        seed,
        setStatus(apiVersion, kind, namespace, name, status) {
            const rt = typeOf(apiVersion, kind)
            const old = store.get(rt, namespace, name)
            if (!old) throw new Error(`test API server: no ${kind} ${namespace}/${name}`)
            const next = clone(old)
            next.status = clone(status)
            const { managers } = ssaUpdate(old, next, {
                structure: rt.structure,
                manager: "controller",
                apiVersion: rt.apiVersion,
                subresource: "status",
                ignore: (p) => p[0] !== "f:status",
                now: nowTime(),
            })
            writeManagers(next, managers)
            next.metadata.resourceVersion = store.nextResourceVersion()
            store.put(rt, next)
        },
        close() {
            for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
            return new Promise<void>((resolve) => {
                server.close(() => resolve())
                server.closeAllConnections()
            })
        },
    }
    return api
}

function seedFluxSystem(seed: (obj: Json, manager?: string) => void): void {
    const labels = {
        "app.kubernetes.io/component": "kustomize-controller",
        "app.kubernetes.io/instance": "flux-system",
        "app.kubernetes.io/part-of": "flux",
        "app.kubernetes.io/version": "v2.7.0",
    }
    seed(
        {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { name: "kustomize-controller", namespace: "flux-system", labels },
        },
        "kustomize-controller",
    )
    const deployment: Json = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "kustomize-controller", namespace: "flux-system", labels: { ...labels, "control-plane": "controller" } },
        spec: {
            replicas: 1,
            selector: { matchLabels: { app: "kustomize-controller" } },
            template: {
                metadata: {
                    annotations: { "prometheus.io/port": "8080", "prometheus.io/scrape": "true" },
                    labels: { app: "kustomize-controller" },
                },
                spec: {
                    containers: [
                        {
                            name: "manager",
                            image: "ghcr.io/fluxcd/kustomize-controller:v1.9.4",
                            imagePullPolicy: "IfNotPresent",
                            args: [
                                "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
                                "--watch-all-namespaces=true",
                                "--log-level=info",
                                "--log-encoding=json",
                                "--enable-leader-election",
                            ],
                            env: [
                                { name: "RUNTIME_NAMESPACE", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } } },
                                { name: "GOMAXPROCS", valueFrom: { resourceFieldRef: { containerName: "manager", divisor: "0", resource: "limits.cpu" } } },
                                { name: "GOMEMLIMIT", valueFrom: { resourceFieldRef: { containerName: "manager", divisor: "0", resource: "limits.memory" } } },
                            ],
                            ports: [
                                { containerPort: 8080, name: "http-prom", protocol: "TCP" },
                                { containerPort: 9440, name: "healthz", protocol: "TCP" },
                            ],
                            livenessProbe: { httpGet: { path: "/healthz", port: "healthz", scheme: "HTTP" } },
                            readinessProbe: { httpGet: { path: "/readyz", port: "healthz", scheme: "HTTP" } },
                            resources: { limits: { cpu: "1", memory: "1Gi" }, requests: { cpu: "100m", memory: "64Mi" } },
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                capabilities: { drop: ["ALL"] },
                                readOnlyRootFilesystem: true,
                                runAsNonRoot: true,
                                seccompProfile: { type: "RuntimeDefault" },
                            },
                            terminationMessagePath: "/dev/termination-log",
                            terminationMessagePolicy: "File",
                            volumeMounts: [{ mountPath: "/tmp", name: "temp" }],
                        },
                    ],
                    dnsPolicy: "ClusterFirst",
                    nodeSelector: { "kubernetes.io/os": "linux" },
                    priorityClassName: "system-cluster-critical",
                    restartPolicy: "Always",
                    schedulerName: "default-scheduler",
                    securityContext: { fsGroup: 1337 },
                    serviceAccountName: "kustomize-controller",
                    terminationGracePeriodSeconds: 60,
                    volumes: [{ emptyDir: {}, name: "temp" }],
                },
            },
            progressDeadlineSeconds: 600,
            revisionHistoryLimit: 10,
            strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
        },
    }
    seed(deployment, "kustomize-controller")
}
