/**
 * The in-process test API server, exercised with the real @kubernetes/client-node and the real kubectl binary.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { needs, run, which } from "../cli/run.js"
import { startApiServer, type TestApiServer } from "./apiserver/index.js"
import { objectMeta } from "./apiserver/resources.js"
import { apply as ssaApply, fromFieldsV1, toFieldsV1, update as ssaUpdate } from "./apiserver/ssa.js"
import { describeShared, sharedData } from "../conformance-data.js"

// biome-ignore lint/suspicious/noExplicitAny: JSON objects under test
type Json = any

const k8s = await import("@kubernetes/client-node")

function clients(kubeconfig: string) {
    const kc = new k8s.KubeConfig()
    kc.loadFromFile(kubeconfig)
    return { objects: k8s.KubernetesObjectApi.makeApiClient(kc), core: kc.makeApiClient(k8s.CoreV1Api) }
}

/** The Status body of a failed client-node call. */
async function failure(p: Promise<unknown>): Promise<{ code: number; status: Json }> {
    try {
        await p
    } catch (e) {
        const err = e as { code?: number; body?: unknown }
        if (typeof err.code !== "number") throw e
        const status = typeof err.body === "string" ? JSON.parse(err.body) : err.body
        return { code: err.code, status }
    }
    throw new Error("expected the call to fail")
}

const SSA = k8s.PatchStrategy.ServerSideApply

function kustomization(name: string, spec: Json = {}): Json {
    return {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name, namespace: "flux-system" },
        spec: { interval: "10m0s", prune: true, sourceRef: { kind: "GitRepository", name: "my-secrets" }, ...spec },
    }
}

function secret(name: string, data: Record<string, string>, extra: Json = {}): Json {
    return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "flux-system", ...extra }, data }
}

const b64 = (s: string) => Buffer.from(s).toString("base64")

describeShared("test API server with @kubernetes/client-node", () => {
    let server: TestApiServer
    let c: ReturnType<typeof clients>

    beforeAll(async () => {
        server = await startApiServer({
            users: {
                admin: { token: "admin-token" },
                reader: { token: "reader-token", forbid: [{ verb: "get", resource: "secrets", namespace: "flux-system" }, { resource: "kustomizations" }] },
            },
        })
        c = clients(server.kubeconfig())
    })
    afterAll(async () => {
        await server.close()
    })

    it("serves the flux-system install", async () => {
        const ns = await c.core.listNamespace()
        expect(ns.items.map((n) => n.metadata?.name)).toEqual(["default", "flux-system", "kube-public", "kube-system"])
        const d: Json = await c.objects.read({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "kustomize-controller", namespace: "flux-system" } })
        const manager = d.spec.template.spec.containers[0]
        expect(manager.name).toBe("manager")
        expect(manager.image).toBe("ghcr.io/fluxcd/kustomize-controller:v1.9.4")
        expect(manager.args).toContain("--watch-all-namespaces=true")
        expect(manager.env[0]).toEqual({ name: "RUNTIME_NAMESPACE", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } } })
        const sa = await c.core.readNamespacedServiceAccount({ name: "kustomize-controller", namespace: "flux-system" })
        expect(sa.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/)
    })

    it("creates, reads, lists, patches and deletes a Secret", async () => {
        const created: Json = await c.objects.create({ ...secret("s1", { a: b64("1") }), stringData: { b: "two" } })
        expect(created.data).toEqual({ a: b64("1"), b: b64("two") })
        expect(created.stringData).toBeUndefined()
        expect(created.type).toBe("Opaque")
        expect(created.metadata.generation).toBeUndefined()
        expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0)
        expect(created.metadata.creationTimestamp).toBeTruthy()
        const again = await failure(c.objects.create(secret("s1", {})))
        expect(again.code).toBe(409)
        expect(again.status).toMatchObject({ reason: "AlreadyExists", message: 'secrets "s1" already exists', details: { name: "s1", kind: "secrets" } })

        const read = await c.core.readNamespacedSecret({ name: "s1", namespace: "flux-system" })
        expect(read.data?.b).toBe(b64("two"))
        await c.objects.create(secret("s2", { x: b64("x") }, { labels: { app: "web", tier: "db" } }))
        const byLabel = await c.core.listNamespacedSecret({ namespace: "flux-system", labelSelector: "app=web" })
        expect(byLabel.items.map((s) => s.metadata?.name)).toEqual(["s2"])
        const byIn = await c.core.listNamespacedSecret({ namespace: "flux-system", labelSelector: "tier in (db,cache),app" })
        expect(byIn.items.map((s) => s.metadata?.name)).toEqual(["s2"])
        const all = await c.objects.list("v1", "Secret")
        expect(all.items.map((s) => s.metadata?.name)).toEqual(expect.arrayContaining(["s1", "s2"]))

        const merged: Json = await c.objects.patch(
            { apiVersion: "v1", kind: "Secret", metadata: { name: "s1", namespace: "flux-system", annotations: { note: "x" } }, data: { a: null } } as Json,
            undefined,
            undefined,
            "tester",
            undefined,
            k8s.PatchStrategy.MergePatch,
        )
        expect(merged.data).toEqual({ b: b64("two") })
        expect(merged.metadata.annotations).toEqual({ note: "x" })
        expect(merged.metadata.managedFields.map((m: Json) => m.manager)).toContain("tester")
        expect(Number(merged.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion))

        const jp: Json = await c.core.patchNamespacedSecret(
            { name: "s1", namespace: "flux-system", body: [{ op: "add", path: "/data/c", value: b64("3") }] },
            k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
        )
        expect(jp.data.c).toBe(b64("3"))
        const jpBad = await fetchApi(
            server,
            "PATCH",
            "/api/v1/namespaces/flux-system/secrets/s1",
            "application/json-patch+json",
            JSON.stringify([{ op: "replace", path: "/data/zzz", value: b64("z") }]),
        )
        expect(jpBad.status).toBe(422)
        expect(jpBad.body).toMatchObject({
            reason: "Invalid",
            message: "the server rejected our request due to an error in our request",
            details: { causes: [{ reason: "UnexpectedServerResponse", message: 'replace operation does not apply: doc is missing path: "/data/zzz": missing value' }] },
        })

        const bad = await failure(c.objects.create(secret("s3", { k: "not base64!" })))
        expect(bad.code).toBe(400)
        expect(bad.status.message).toBe('Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3')

        await c.objects.delete({ apiVersion: "v1", kind: "Secret", metadata: { name: "s1", namespace: "flux-system" } })
        const gone = await failure(c.core.readNamespacedSecret({ name: "s1", namespace: "flux-system" }))
        expect(gone.code).toBe(404)
        expect(gone.status).toMatchObject({ kind: "Status", status: "Failure", reason: "NotFound", message: 'secrets "s1" not found', code: 404 })
    })

    it("rejects writes into a missing namespace and bad names", async () => {
        const r = await failure(c.objects.create({ ...secret("x", {}), metadata: { name: "x", namespace: "nope" } }))
        expect(r.code).toBe(404)
        expect(r.status.message).toBe('namespaces "nope" not found')
        const n = await failure(c.objects.create(secret("Bad_Name", {})))
        expect(n.code).toBe(422)
        expect(n.status.message).toMatch(/^Secret "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/)
    })

    it("server-side apply is idempotent, prunes dropped fields and reports conflicts", async () => {
        const first: Json = await c.objects.patch(secret("sops-gpg", { "sops.asc": b64("key1"), extra: b64("e") }, { labels: { app: "x" } }), undefined, undefined, "kubectl-sops", false, SSA)
        const stored = server.object("v1", "Secret", "flux-system", "sops-gpg")
        expect(stored.metadata.managedFields).toEqual([
            {
                manager: "kubectl-sops",
                operation: "Apply",
                apiVersion: "v1",
                time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
                fieldsType: "FieldsV1",
                fieldsV1: { "f:data": { "f:extra": {}, "f:sops.asc": {} }, "f:metadata": { "f:labels": { "f:app": {} } } },
            },
        ])
        const rv = first.metadata.resourceVersion
        const writes = server.requests.length
        const second: Json = await c.objects.patch(secret("sops-gpg", { "sops.asc": b64("key1"), extra: b64("e") }, { labels: { app: "x" } }), undefined, undefined, "kubectl-sops", false, SSA)
        expect(server.requests.length).toBeGreaterThan(writes)
        expect(second.metadata.resourceVersion).toBe(rv)
        expect(server.object("v1", "Secret", "flux-system", "sops-gpg").metadata.managedFields).toEqual(stored.metadata.managedFields)

        // dropping a field removes it; another manager's field stays
        await c.objects.patch(
            { apiVersion: "v1", kind: "Secret", metadata: { name: "sops-gpg", namespace: "flux-system", annotations: { owner: "other" } } } as Json,
            undefined,
            undefined,
            "other-tool",
            undefined,
            k8s.PatchStrategy.MergePatch,
        )
        const third: Json = await c.objects.patch(secret("sops-gpg", { "sops.asc": b64("key1") }), undefined, undefined, "kubectl-sops", false, SSA)
        expect(third.data).toEqual({ "sops.asc": b64("key1") })
        expect(third.metadata.labels).toBeUndefined()
        expect(third.metadata.annotations).toEqual({ owner: "other" })
        expect(Number(third.metadata.resourceVersion)).toBeGreaterThan(Number(rv))

        // a value owned by someone else conflicts, the same value is shared, force takes over
        server.seed({ ...secret("legacy", { "sops.asc": b64("old"), other: b64("o") }) }, "kubectl-client-side-apply")
        const conflict = await failure(c.objects.patch(secret("legacy", { "sops.asc": b64("new") }), undefined, undefined, "kubectl-sops", false, SSA))
        expect(conflict.code).toBe(409)
        expect(conflict.status).toMatchObject({
            reason: "Conflict",
            message: 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.sops.asc',
            details: { causes: [{ reason: "FieldManagerConflict", message: 'conflict with "kubectl-client-side-apply" using v1', field: ".data.sops.asc" }] },
        })
        const shared: Json = await c.objects.patch(secret("legacy", { other: b64("o") }), undefined, undefined, "kubectl-sops", false, SSA)
        expect(shared.metadata.managedFields.map((m: Json) => m.manager).sort()).toEqual(["kubectl-client-side-apply", "kubectl-sops"])
        const forced: Json = await c.objects.patch(secret("legacy", { other: b64("o"), "sops.asc": b64("new") }), undefined, undefined, "kubectl-sops", true, SSA)
        expect(forced.data["sops.asc"]).toBe(b64("new"))
        const legacy = server.object("v1", "Secret", "flux-system", "legacy").metadata.managedFields.find((m: Json) => m.manager === "kubectl-client-side-apply")
        expect(legacy.fieldsV1).toEqual({ "f:data": { ".": {}, "f:other": {} }, "f:type": {} })
    })

    it("applying creates (201) and needs a fieldManager", async () => {
        const before = server.requests.length
        await c.objects.patch(kustomization("apply-new"), undefined, undefined, "kubectl-sops", false, SSA)
        expect(server.requests[before].status === 201 || server.requests.slice(before).some((r) => r.method === "PATCH" && r.status === 201)).toBe(true)
        const stored = server.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apply-new")
        expect(stored.metadata.generation).toBe(1)
        expect(stored.spec.force).toBe(false)
        expect(stored.status).toEqual({ observedGeneration: -1 })
        const res = await fetchApi(server, "PATCH", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apply-new", "application/apply-patch+yaml", "{}")
        expect(res.status).toBe(422)
        expect(res.body.message).toBe('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    })

    it("bumps generation only when spec changes and keeps status out of the main endpoint", async () => {
        const ks = kustomization("gen")
        const a: Json = await c.objects.patch(ks, undefined, undefined, "m", false, SSA)
        expect(a.metadata.generation).toBe(1)
        const b: Json = await c.objects.patch({ ...ks, metadata: { ...ks.metadata, labels: { l: "1" } } }, undefined, undefined, "m", false, SSA)
        expect(b.metadata.generation).toBe(1)
        const d: Json = await c.objects.patch({ ...ks, spec: { ...ks.spec, interval: "5m" }, status: { observedGeneration: 7 } }, undefined, undefined, "m", false, SSA)
        expect(d.metadata.generation).toBe(2)
        expect(d.status).toEqual({ observedGeneration: -1 })
        server.setStatus("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "gen", {
            observedGeneration: 2,
            conditions: [{ type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "Applied revision: main@sha1:abc", lastTransitionTime: "2026-01-01T00:00:00Z" }],
        })
        const e: Json = await c.objects.read({ apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "gen", namespace: "flux-system" } })
        expect(e.status.conditions[0].reason).toBe("ReconciliationSucceeded")
        expect(e.metadata.generation).toBe(2)
        const st = await fetchApi(
            server,
            "PATCH",
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/gen/status",
            "application/merge-patch+json",
            JSON.stringify({ spec: { interval: "1h" }, status: { lastAppliedRevision: "main@sha1:def" } }),
        )
        expect(st.status).toBe(200)
        expect(st.body.status.lastAppliedRevision).toBe("main@sha1:def")
        expect(st.body.spec.interval).toBe("5m")
        expect(st.body.metadata.generation).toBe(2)
    })

    it("validates custom resources against the CRD schema", async () => {
        const { interval: _, ...noInterval } = kustomization("x").spec
        const missing = await failure(c.objects.create({ ...kustomization("x"), spec: noInterval }))
        expect(missing.code).toBe(422)
        expect(missing.status).toMatchObject({
            reason: "Invalid",
            message: 'Kustomization.kustomize.toolkit.fluxcd.io "x" is invalid: spec.interval: Required value',
            details: { name: "x", group: "kustomize.toolkit.fluxcd.io", kind: "Kustomization", causes: [{ reason: "FieldValueRequired", message: "Required value", field: "spec.interval" }] },
        })
        const kind = await failure(c.objects.patch(kustomization("x", { sourceRef: { kind: "Foo", name: "y" } }), undefined, undefined, "m", false, SSA))
        expect(kind.code).toBe(422)
        expect(kind.status.message).toBe(
            'Kustomization.kustomize.toolkit.fluxcd.io "x" is invalid: spec.sourceRef.kind: Unsupported value: "Foo": supported values: "OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"',
        )
        const url = await failure(
            c.objects.create({
                apiVersion: "source.toolkit.fluxcd.io/v1",
                kind: "GitRepository",
                metadata: { name: "x", namespace: "flux-system" },
                spec: { interval: "1m", url: "ftp://x" },
            }),
        )
        expect(url.code).toBe(422)
        expect(url.status.message).toBe(
            `GitRepository.source.toolkit.fluxcd.io "x" is invalid: spec.url: Invalid value: "ftp://x": spec.url in body should match '^(http|https|ssh)://.*$'`,
        )
        const two = await failure(c.objects.create({ ...kustomization("x"), spec: { sourceRef: { kind: "GitRepository", name: "y" } } }))
        expect(two.status.message).toBe('Kustomization.kustomize.toolkit.fluxcd.io "x" is invalid: [spec.interval: Required value, spec.prune: Required value]')
        const type = await failure(c.objects.create(kustomization("x", { prune: "yes" })))
        expect(type.status.message).toBe('Kustomization.kustomize.toolkit.fluxcd.io "x" is invalid: spec.prune: Invalid value: "string": spec.prune in body must be of type boolean: "string"')
        // unknown fields are pruned, defaults applied
        const ok: Json = await c.objects.create(kustomization("pruned", { bogus: 1 }))
        expect(ok.spec.bogus).toBeUndefined()
        expect(ok.spec.force).toBe(false)
    })

    it("treats unknown fields like the real server: apply fails, fieldValidation=Strict fails, otherwise pruned", async () => {
        const applied = await failure(c.objects.patch(kustomization("unknown", { bogus: 1 }), undefined, undefined, "m", false, SSA))
        expect(applied.code).toBe(500)
        expect(applied.status.message).toBe(
            "failed to create typed patch object (flux-system/unknown; kustomize.toolkit.fluxcd.io/v1, Kind=Kustomization): .spec.bogus: field not declared in schema",
        )
        const strict = await fetchApi(
            server,
            "POST",
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations?fieldValidation=Strict",
            "application/json",
            JSON.stringify(kustomization("unknown", { bogus: 1 })),
        )
        expect(strict.status).toBe(400)
        expect(strict.body.message).toBe('Kustomization in version "v1" cannot be handled as a Kustomization: strict decoding error: unknown field "spec.bogus"')
        expect(server.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "unknown")).toBeUndefined()
    })

    it("dryRun=All stores nothing", async () => {
        const rv = (await c.core.listNamespace()).metadata?.resourceVersion
        const created: Json = await c.objects.create(kustomization("dry"), undefined, "All")
        expect(created.metadata.uid).toBeTruthy()
        expect(server.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "dry")).toBeUndefined()
        await c.objects.patch(secret("dry", { a: b64("a") }), undefined, "All", "m", false, SSA)
        expect(server.object("v1", "Secret", "flux-system", "dry")).toBeUndefined()
        await c.objects.delete({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "kustomize-controller", namespace: "flux-system" } }, undefined, "All")
        expect(server.object("v1", "ServiceAccount", "flux-system", "kustomize-controller")).toBeDefined()
        expect((await c.core.listNamespace()).metadata?.resourceVersion).toBe(rv)
    })

    it("strategic merge patches merge containers and env by name", async () => {
        // client-node's typed serializer drops "$patch", so this one goes over plain HTTPS
        const res = await fetchApi(
            server,
            "PATCH",
            "/apis/apps/v1/namespaces/flux-system/deployments/kustomize-controller?fieldManager=tester",
            "application/strategic-merge-patch+json",
            JSON.stringify({
                spec: {
                    template: {
                        metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": "now" } },
                        spec: {
                            containers: [{ name: "manager", env: [{ name: "SOPS_AGE_KEY_FILE", value: "/keys/age.agekey" }, { name: "GOMEMLIMIT", $patch: "delete" }] }],
                        },
                    },
                },
            }),
        )
        expect(res.status).toBe(200)
        const patched = res.body
        const container = patched.spec.template.spec.containers[0]
        expect(patched.spec.template.spec.containers).toHaveLength(1)
        expect(container.image).toBe("ghcr.io/fluxcd/kustomize-controller:v1.9.4")
        expect(container.env.map((e: Json) => e.name)).toEqual(["RUNTIME_NAMESPACE", "GOMAXPROCS", "SOPS_AGE_KEY_FILE"])
        expect(patched.metadata.generation).toBe(2)
        expect(patched.status.observedGeneration).toBe(2)
        const crd = await failure(
            c.objects.patch(kustomization("gen"), undefined, undefined, "m", undefined, k8s.PatchStrategy.StrategicMergePatch),
        )
        expect(crd.code).toBe(415)
    })

    it("answers 401 for a bad token and 403 for forbidden requests", async () => {
        const bad = clients(server.kubeconfig())
        const cfg = path.join(mkdtempSync(path.join(os.tmpdir(), "ksops-kc-")), "config")
        writeFileSync(cfg, (await import("node:fs")).readFileSync(server.kubeconfig(), "utf8").replace("admin-token", "wrong"))
        const unauth = await failure(clients(cfg).core.listNamespace())
        expect(unauth.code).toBe(401)
        expect(bad).toBeDefined()
        const raw = await fetchApi(server, "GET", "/api/v1/namespaces", undefined, undefined, "wrong")
        expect(raw.status).toBe(401)
        expect(raw.body).toEqual({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 })

        const reader = clients(server.kubeconfig({ user: "reader" }))
        const forbidden = await failure(reader.core.readNamespacedSecret({ name: "x", namespace: "flux-system" }))
        expect(forbidden.code).toBe(403)
        expect(forbidden.status).toMatchObject({
            reason: "Forbidden",
            message: 'secrets "x" is forbidden: User "reader" cannot get resource "secrets" in API group "" in the namespace "flux-system"',
            details: { name: "x", kind: "secrets" },
        })
        const list = await failure(reader.objects.list("kustomize.toolkit.fluxcd.io/v1", "Kustomization"))
        expect(list.status.message).toBe(
            'kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User "reader" cannot list resource "kustomizations" in API group "kustomize.toolkit.fluxcd.io" at the cluster scope',
        )
        // what is not forbidden works
        const sa = await reader.core.readNamespacedServiceAccount({ name: "kustomize-controller", namespace: "flux-system" })
        expect(sa.metadata?.name).toBe("kustomize-controller")
        expect(server.requests.some((r) => r.user === "reader" && r.status === 403)).toBe(true)
    })

    it("answers 404 for unknown paths and rejects stale updates", async () => {
        const unknown = await fetchApi(server, "GET", "/apis/example.com/v1/foos", undefined, undefined)
        expect(unknown.status).toBe(404)
        expect(unknown.body.message).toBe("the server could not find the requested resource")
        const ks: Json = await c.objects.create(kustomization("stale"))
        await c.objects.patch({ ...ks, spec: { ...ks.spec, path: "./a" } }, undefined, undefined, "m", undefined, k8s.PatchStrategy.MergePatch)
        const stale = await failure(c.objects.replace({ ...ks, spec: { ...ks.spec, path: "./b" } }))
        expect(stale.code).toBe(409)
        expect(stale.status.message).toBe(
            'Operation cannot be fulfilled on kustomizations.kustomize.toolkit.fluxcd.io "stale": the object has been modified; please apply your changes to the latest version and try again',
        )
        const { resourceVersion: _rv, ...meta } = ks.metadata
        const unconditional = await failure(c.objects.replace({ ...ks, metadata: meta }))
        expect(unconditional.code).toBe(422)
        expect(unconditional.status.message).toBe(
            'kustomizations.kustomize.toolkit.fluxcd.io "stale" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
        )
    })

    it("deletes objects with finalizers gracefully", async () => {
        server.seed({ ...kustomization("final"), metadata: { name: "final", namespace: "flux-system", finalizers: ["finalizers.fluxcd.io"] } })
        const ref = { apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "final", namespace: "flux-system" } }
        await c.objects.delete(ref)
        const marked = server.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "final")
        expect(marked.metadata.deletionTimestamp).toMatch(/Z$/)
        expect(marked.metadata.generation).toBe(2)
        await c.objects.patch({ ...ref, metadata: { ...ref.metadata, finalizers: null } } as Json, undefined, undefined, "controller", undefined, k8s.PatchStrategy.MergePatch)
        expect(server.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "final")).toBeUndefined()
    })

    it("calls onWrite after each write", async () => {
        const seen: string[] = []
        server.onWrite = (obj) => {
            seen.push(`${obj.kind}/${obj.metadata.name}`)
            if (obj.kind === "Kustomization" && !obj.status?.conditions) {
                server.setStatus(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name, { observedGeneration: obj.metadata.generation, conditions: [{ type: "Ready", status: "True" }] })
            }
        }
        await c.objects.create(kustomization("hooked"))
        server.onWrite = undefined
        expect(seen).toEqual(["Kustomization/hooked"])
        expect(server.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "hooked").status.conditions[0].type).toBe("Ready")
    })
})

describe("test API server options", () => {
    it("leaves the Flux APIs out without the CRDs", async () => {
        const server = await startApiServer({ installFluxCrds: false, fluxSystem: false })
        try {
            const c = clients(server.kubeconfig({ namespace: "default" }))
            const groups = await fetchApi(server, "GET", "/apis", undefined, undefined)
            expect(groups.body.groups.map((g: Json) => g.name)).toEqual(["apps", "apiextensions.k8s.io"])
            const get = await fetchApi(server, "GET", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/default/kustomizations", undefined, undefined)
            expect(get.status).toBe(404)
            const missing = await failure(c.objects.list("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "default"))
            expect(missing.code).toBe(404)
            const ns = await c.core.listNamespace()
            expect(ns.items.map((n) => n.metadata?.name)).toEqual(["default", "kube-public", "kube-system"])
            expect(server.object("apps/v1", "Deployment", "flux-system", "kustomize-controller")).toBeUndefined()
            const crds = await fetchApi(server, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", undefined, undefined)
            expect(crds.body.items).toEqual([])
        } finally {
            await server.close()
        }
    })

    it("lists the installed CRDs read-only and seeds objects with server defaults", async () => {
        const server = await startApiServer()
        try {
            const crds = await fetchApi(server, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", undefined, undefined)
            expect(crds.body.items.map((c: Json) => c.metadata.name)).toEqual([
                "gitrepositories.source.toolkit.fluxcd.io",
                "kustomizations.kustomize.toolkit.fluxcd.io",
                "ocirepositories.source.toolkit.fluxcd.io",
            ])
            const post = await fetchApi(server, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", JSON.stringify(crds.body.items[0]))
            expect(post.status).toBe(405)
            server.seed({ apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", metadata: { name: "r", namespace: "flux-system" }, spec: { interval: "1m", url: "https://x/y" } }, "flux")
            const repo = server.object("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "r")
            expect(repo.spec.timeout).toBe("60s")
            expect(repo.status).toEqual({ observedGeneration: -1 })
            expect(repo.metadata.generation).toBe(1)
            expect(repo.metadata.managedFields[0]).toMatchObject({ manager: "flux", operation: "Update" })
            server.seed({ ...repo, metadata: { ...repo.metadata, labels: { a: "b" }, managedFields: undefined } })
            expect(server.object("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "r").metadata.generation).toBe(1)
        } finally {
            await server.close()
        }
    })

    it("applies partial Deployment and ServiceAccount configurations next to the installer's fields", async () => {
        const server = await startApiServer()
        try {
            const c = clients(server.kubeconfig())
            const partial = (env: Json[] | undefined): Json => ({
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: "kustomize-controller", namespace: "flux-system" },
                spec: env ? { template: { spec: { containers: [{ name: "manager", env }] } } } : {},
            })
            const a: Json = await c.objects.patch(partial([{ name: "AWS_REGION", value: "eu-west-1" }]), undefined, undefined, "kubectl-sops", false, SSA)
            const manager = a.spec.template.spec.containers[0]
            expect(manager.env.map((e: Json) => e.name)).toEqual(["RUNTIME_NAMESPACE", "GOMAXPROCS", "GOMEMLIMIT", "AWS_REGION"])
            expect(manager.image).toBe("ghcr.io/fluxcd/kustomize-controller:v1.9.4")
            expect(a.metadata.generation).toBe(2)
            const owned = server.object("apps/v1", "Deployment", "flux-system", "kustomize-controller").metadata.managedFields.find((m: Json) => m.manager === "kubectl-sops")
            expect(owned.fieldsV1).toEqual({
                "f:spec": {
                    "f:template": {
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"manager"}': { ".": {}, "f:env": { 'k:{"name":"AWS_REGION"}': { ".": {}, "f:name": {}, "f:value": {} } }, "f:name": {} },
                            },
                        },
                    },
                },
            })
            const again: Json = await c.objects.patch(partial([{ name: "AWS_REGION", value: "eu-west-1" }]), undefined, undefined, "kubectl-sops", false, SSA)
            expect(again.metadata.resourceVersion).toBe(a.metadata.resourceVersion)
            // another value for the installer's image conflicts
            const image = partial([{ name: "AWS_REGION", value: "eu-west-1" }])
            image.spec.template.spec.containers[0].image = "example/other:v1"
            const clash = await failure(c.objects.patch(image, undefined, undefined, "kubectl-sops", false, SSA))
            expect(clash.status.message).toBe(
                'Apply failed with 1 conflict: conflict with "kustomize-controller" using apps/v1: .spec.template.spec.containers[name="manager"].image',
            )
            // value next to the installer's valueFrom merges, then fails validation
            const both = await failure(c.objects.patch(partial([{ name: "GOMEMLIMIT", value: "1" }]), undefined, undefined, "kubectl-sops", false, SSA))
            expect(both.code).toBe(422)
            expect(both.status.message).toBe(
                'Deployment.apps "kustomize-controller" is invalid: spec.template.spec.containers[0].env[2].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
            )
            // dropping everything removes only what kubectl-sops added
            const dropped: Json = await c.objects.patch(partial(undefined), undefined, undefined, "kubectl-sops", false, SSA)
            const container = dropped.spec.template.spec.containers[0]
            expect(container.env.map((e: Json) => e.name)).toEqual(["RUNTIME_NAMESPACE", "GOMAXPROCS", "GOMEMLIMIT"])
            expect(container.image).toBe("ghcr.io/fluxcd/kustomize-controller:v1.9.4")
            expect(dropped.metadata.generation).toBe(3)

            const sa: Json = await c.objects.patch(
                { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "kustomize-controller", namespace: "flux-system", annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/flux" } } },
                undefined,
                undefined,
                "kubectl-sops",
                false,
                SSA,
            )
            expect(sa.metadata.annotations).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/flux" })
            expect(sa.metadata.labels["app.kubernetes.io/part-of"]).toBe("flux")
        } finally {
            await server.close()
        }
    })

    it("keeps a seeded or set Deployment status (a controller that is not ready)", async () => {
        const server = await startApiServer()
        try {
            const dep = server.object("apps/v1", "Deployment", "flux-system", "kustomize-controller")
            expect(dep.status).toMatchObject({ observedGeneration: 1, readyReplicas: 1, availableReplicas: 1 })
            server.seed({ ...dep, status: { observedGeneration: 1, replicas: 1, unavailableReplicas: 1 } })
            expect(server.object("apps/v1", "Deployment", "flux-system", "kustomize-controller").status.readyReplicas).toBeUndefined()
            server.setStatus("apps/v1", "Deployment", "flux-system", "kustomize-controller", { observedGeneration: 1, replicas: 1, readyReplicas: 0 })
            expect(server.object("apps/v1", "Deployment", "flux-system", "kustomize-controller").status.readyReplicas).toBe(0)
        } finally {
            await server.close()
        }
    })

    it("keeps immutable Secrets immutable", async () => {
        const server = await startApiServer()
        try {
            const c = clients(server.kubeconfig())
            await c.objects.create({ ...secret("frozen", { a: b64("1") }), immutable: true })
            const r = await failure(c.objects.patch({ ...secret("frozen", { a: b64("2") }), immutable: true }, undefined, undefined, "m", true, SSA))
            expect(r.code).toBe(422)
            expect(r.status.message).toBe('Secret "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set')
        } finally {
            await server.close()
        }
    })
})

describe("field sets", () => {
    const structure: Json = {
        type: "object",
        "x-struct": true,
        properties: {
            metadata: objectMeta,
            data: { type: "object", additionalProperties: { type: "string" } },
            items: {
                type: "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                items: { type: "object", "x-struct": true },
            },
        },
    }
    const o = { structure, apiVersion: "v1", now: "2026-01-01T00:00:00Z", ignore: (p: string[]) => p[0] === "f:metadata" && p[1] === "f:name" }

    it("encodes FieldsV1 like the API server and decodes it back", () => {
        const { managers } = ssaUpdate(undefined, { metadata: { name: "x", labels: { a: "1" } }, data: { k: "v" }, items: [{ name: "i", v: 1 }] }, { ...o, manager: "m" })
        const fields = toFieldsV1(managers[0].set)
        expect(fields).toEqual({
            "f:data": { ".": {}, "f:k": {} },
            "f:items": { ".": {}, 'k:{"name":"i"}': { ".": {}, "f:name": {}, "f:v": {} } },
            "f:metadata": { "f:labels": { ".": {}, "f:a": {} } },
        })
        expect(toFieldsV1(fromFieldsV1(fields))).toEqual(fields)
    })

    it("keeps an item another manager still owns a field of, with its key", () => {
        const live = { metadata: { name: "x" }, items: [{ name: "i", v: 1, w: 2 }] }
        const first = ssaApply(live, { items: [{ name: "i", v: 1 }] }, { ...o, manager: "a", force: false })
        const withOther = { ...first.object, metadata: { name: "x" } }
        const { managers } = ssaUpdate({ ...first.object, metadata: { name: "x", managedFields: [] } }, { ...withOther, items: [{ name: "i", v: 1, w: 3 }] }, { ...o, manager: "b", start: first.managers })
        const obj = { ...withOther, items: [{ name: "i", v: 1, w: 3 }], metadata: { name: "x", managedFields: managers.map((m) => ({ ...m, fieldsV1: toFieldsV1(m.set), set: undefined })) } }
        const dropped = ssaApply(obj, {}, { ...o, manager: "a", force: false })
        expect(dropped.object.items).toEqual([{ name: "i", w: 3 }])
    })
})

async function fetchApi(
    server: TestApiServer,
    method: string,
    p: string,
    contentType: string | undefined,
    body: string | undefined,
    tokenOverride?: string,
): Promise<{ status: number; body: Json }> {
    const { request } = await import("node:https")
    const kc = new k8s.KubeConfig()
    kc.loadFromFile(server.kubeconfig())
    const ca = Buffer.from(kc.getCurrentCluster()!.caData!, "base64")
    const token = tokenOverride ?? kc.getCurrentUser()!.token!
    return new Promise((resolve, reject) => {
        const req = request(
            `${server.url}${p}`,
            { method, ca, headers: { Authorization: `Bearer ${token}`, ...(contentType ? { "Content-Type": contentType } : {}) } },
            (res) => {
                const chunks: Buffer[] = []
                res.on("data", (ch: Buffer) => chunks.push(ch))
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }))
            },
        )
        req.on("error", reject)
        req.end(body)
    })
}

const kubectl = which("kubectl")

describe.runIf(sharedData && needs("kubectl"))("test API server with the real kubectl", () => {
    let server: TestApiServer
    let env: Record<string, string>
    let dir: string
    const k = (args: string[], input?: string) => run(args, { command: kubectl ?? "kubectl", env, input })

    beforeAll(async () => {
        server = await startApiServer()
        dir = mkdtempSync(path.join(os.tmpdir(), "ksops-kubectl-"))
        env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, KUBECONFIG: server.kubeconfig() }
    })
    afterAll(async () => {
        await server.close()
    })

    it("gets objects as YAML and lists Kustomizations across namespaces", async () => {
        server.seed(secret("x", { "sops.asc": b64("k") }))
        const got = await k(["get", "secret", "-n", "flux-system", "x", "-o", "yaml"])
        expect(got.stderr).toBe("")
        expect(got.code).toBe(0)
        expect(got.stdout).toContain("sops.asc: aw==")
        expect(got.stdout).toContain("name: x")
        const none = await k(["get", "kustomizations.kustomize.toolkit.fluxcd.io", "-A"])
        expect(none.code).toBe(0)
        expect(none.stderr).toContain("No resources found")
        server.seed(kustomization("flux-system"))
        server.setStatus("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "flux-system", {
            conditions: [{ type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "Applied revision: main@sha1:1234", lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 1 }],
        })
        const ks = await k(["get", "ks", "-A"])
        expect(ks.code).toBe(0)
        expect(ks.stdout).toMatch(/^NAMESPACE\s+NAME\s+AGE\s+READY\s+STATUS\n/)
        expect(ks.stdout).toMatch(/flux-system\s+flux-system\s+\d+s\s+True\s+Applied revision: main@sha1:1234/)
    })

    it("applies server-side, re-applies, deletes", async () => {
        const file = path.join(dir, "objs.yaml")
        writeFileSync(
            file,
            `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: my-secrets
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: https://github.com/example/repo
---
${JSON.stringify(kustomization("my-secrets", { decryption: { provider: "sops", secretRef: { name: "sops-gpg" } } }))}
`,
        )
        const first = await k(["apply", "--server-side", "-f", file])
        expect(first.stderr).toBe("")
        expect(first.stdout).toBe(
            "gitrepository.source.toolkit.fluxcd.io/my-secrets serverside-applied\nkustomization.kustomize.toolkit.fluxcd.io/my-secrets serverside-applied\n",
        )
        const rv = server.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "my-secrets").metadata.resourceVersion
        const second = await k(["apply", "--server-side", "-f", file])
        expect(second.code).toBe(0)
        expect(second.stdout).toContain("kustomization.kustomize.toolkit.fluxcd.io/my-secrets serverside-applied")
        expect(server.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "my-secrets").metadata.resourceVersion).toBe(rv)
        const repo = await k(["get", "gitrepository", "-n", "flux-system", "my-secrets", "-o", "yaml"])
        expect(repo.stdout).toContain("url: https://github.com/example/repo")
        expect(repo.stdout).toContain("timeout: 60s")

        writeFileSync(path.join(dir, "bad.yaml"), JSON.stringify(kustomization("bad", { sourceRef: { kind: "Foo", name: "x" } })))
        const bad = await k(["apply", "--server-side", "-f", path.join(dir, "bad.yaml")])
        expect(bad.code).toBe(1)
        expect(bad.stderr).toContain('spec.sourceRef.kind: Unsupported value: "Foo"')

        const del = await k(["delete", "-f", file])
        expect(del.code).toBe(0)
        expect(del.stdout).toContain('gitrepository.source.toolkit.fluxcd.io "my-secrets" deleted')
        expect(server.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "my-secrets")).toBeUndefined()
    })

    it("creates a generic secret, annotates and patches it", async () => {
        // (vitest's child stdin is a socket, which kubectl cannot open as /dev/stdin, so the key comes from a file)
        const keyFile = path.join(dir, "key.asc")
        writeFileSync(keyFile, "-----BEGIN PGP PRIVATE KEY BLOCK-----\n")
        const created = await k(["create", "secret", "generic", "sops-gpg", "-n", "flux-system", `--from-file=sops.asc=${keyFile}`])
        expect(created.stderr).toBe("")
        expect(created.stdout).toBe("secret/sops-gpg created\n")
        const s = server.object("v1", "Secret", "flux-system", "sops-gpg")
        expect(Buffer.from(s.data["sops.asc"], "base64").toString()).toBe("-----BEGIN PGP PRIVATE KEY BLOCK-----\n")
        expect(s.type).toBe("Opaque")
        expect(s.metadata.managedFields[0].manager).toBe("kubectl-create")
        const dup = await k(["create", "secret", "generic", "sops-gpg", "-n", "flux-system", "--from-literal=a=b"])
        expect(dup.code).toBe(1)
        expect(dup.stderr).toContain('secrets "sops-gpg" already exists')

        const ann = await k(["annotate", "secret", "sops-gpg", "-n", "flux-system", "reconcile.fluxcd.io/watch=Enabled"])
        expect(ann.stdout).toBe("secret/sops-gpg annotated\n")
        const label = await k(["patch", "secret", "sops-gpg", "-n", "flux-system", "--type=merge", "-p", '{"metadata":{"labels":{"a":"b"}}}'])
        expect(label.stdout).toBe("secret/sops-gpg patched\n")
        const noop = await k(["patch", "secret", "sops-gpg", "-n", "flux-system", "--type=merge", "-p", '{"metadata":{"labels":{"a":"b"}}}'])
        expect(noop.stdout).toBe("secret/sops-gpg patched (no change)\n")
        const after = server.object("v1", "Secret", "flux-system", "sops-gpg")
        expect(after.metadata.annotations).toEqual({ "reconcile.fluxcd.io/watch": "Enabled" })
        expect(after.metadata.labels).toEqual({ a: "b" })
    })

    it("rejects unknown fields with kubectl's strict validation, reports NotFound, waits for Ready", async () => {
        writeFileSync(path.join(dir, "bogus.yaml"), JSON.stringify(kustomization("bogus", { bogus: 1 })))
        const strict = await k(["create", "-f", path.join(dir, "bogus.yaml")])
        expect(strict.code).toBe(1)
        expect(strict.stderr).toBe(
            'Error from server (BadRequest): error when creating "' +
                path.join(dir, "bogus.yaml") +
                '": Kustomization in version "v1" cannot be handled as a Kustomization: strict decoding error: unknown field "spec.bogus"\n',
        )
        const missing = await k(["delete", "secret", "nope", "-n", "flux-system"])
        expect(missing.stderr).toBe('Error from server (NotFound): secrets "nope" not found\n')

        server.onWrite = (obj) => {
            if (obj.kind !== "Kustomization") return
            setTimeout(() => {
                server.setStatus(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name, {
                    observedGeneration: obj.metadata.generation,
                    conditions: [{ type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "ok", lastTransitionTime: "2026-01-01T00:00:00Z" }],
                })
            }, 300)
        }
        try {
            writeFileSync(path.join(dir, "waited.yaml"), JSON.stringify(kustomization("waited")))
            expect((await k(["apply", "--server-side", "-f", path.join(dir, "waited.yaml")])).code).toBe(0)
            const waited = await k(["wait", "--for=condition=Ready", "kustomization/waited", "-n", "flux-system", "--timeout=20s"])
            expect(waited.stderr).toBe("")
            expect(waited.stdout).toBe("kustomization.kustomize.toolkit.fluxcd.io/waited condition met\n")
        } finally {
            server.onWrite = undefined
        }
    })

    it("migrates client-side apply ownership when switching to --server-side", async () => {
        const file = path.join(dir, "csa.yaml")
        writeFileSync(file, JSON.stringify(secret("csa", { a: b64("1") })))
        expect((await k(["apply", "-f", file])).stdout).toBe("secret/csa created\n")
        expect((await k(["apply", "-f", file])).stdout).toBe("secret/csa unchanged\n")
        const ssa = await k(["apply", "--server-side", "-f", file])
        expect(ssa.stdout).toBe("secret/csa serverside-applied\n")
        const managers = server.object("v1", "Secret", "flux-system", "csa").metadata.managedFields.map((m: Json) => `${m.manager}/${m.operation}`)
        expect(managers.sort()).toEqual(["kubectl-last-applied/Apply", "kubectl/Apply"])
        // now a changed value is simply applied, and a competing update conflicts
        writeFileSync(file, JSON.stringify(secret("csa", { a: b64("2") })))
        expect((await k(["apply", "--server-side", "-f", file])).code).toBe(0)
        expect((await k(["patch", "secret", "csa", "-n", "flux-system", "--type=merge", "-p", JSON.stringify({ data: { a: b64("3") } })])).code).toBe(0)
        const conflict = await k(["apply", "--server-side", "-f", file])
        expect(conflict.code).toBe(1)
        expect(conflict.stderr).toContain('error: Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.a')
        expect((await k(["apply", "--server-side", "--force-conflicts", "-f", file])).code).toBe(0)
        expect(server.object("v1", "Secret", "flux-system", "csa").data.a).toBe(b64("2"))
    })

    it("restarts the kustomize-controller rollout", async () => {
        const before = server.object("apps/v1", "Deployment", "flux-system", "kustomize-controller")
        const r = await k(["rollout", "restart", "deployment/kustomize-controller", "-n", "flux-system"])
        expect(r.stderr).toBe("")
        expect(r.stdout).toBe("deployment.apps/kustomize-controller restarted\n")
        const after = server.object("apps/v1", "Deployment", "flux-system", "kustomize-controller")
        expect(after.metadata.generation).toBe(before.metadata.generation + 1)
        expect(after.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]).toMatch(/^\d{4}-\d\d-\d\dT/)
        expect(after.spec.template.spec.containers[0].image).toBe("ghcr.io/fluxcd/kustomize-controller:v1.9.4")
        const status = await k(["rollout", "status", "deployment/kustomize-controller", "-n", "flux-system", "--timeout=10s"])
        expect(status.stdout).toContain('deployment "kustomize-controller" successfully rolled out')
    })
})
