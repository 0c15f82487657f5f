import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, expect, test } from "vitest"
import { ErrorKind, KubeError } from "../../src/errors.js"
import { connect, FIELD_MANAGER, type KubeClient } from "../../src/kube/client.js"
import { decryptionSecret, gitRepository, identityObjects, kustomization } from "../../src/kube/manifests.js"
import { startApiServer, type TestApiServer } from "./apiserver/index.js"
import { describeShared } from "../conformance-data.js"

let api: TestApiServer
let client: KubeClient
const env = {}

async function rejection(p: Promise<unknown>): Promise<KubeError> {
    try {
        await p
    } catch (e) {
        expect(e).toBeInstanceOf(KubeError)
        return e as KubeError
    }
    throw new Error("expected a rejection")
}

beforeAll(async () => {
    api = await startApiServer({ users: { admin: { token: "admin-token" }, bob: { token: "bob-token", forbid: [{ resource: "secrets" }] } } })
    client = await connect({ kubeconfig: api.kubeconfig(), env })
})
afterAll(async () => api?.close())

describeShared("connect", () => {
    test("server and context namespace from the kubeconfig", async () => {
        const c = await connect({ kubeconfig: api.kubeconfig({ namespace: "apps" }), env })
        expect(c.server).toBe(api.url)
        expect(c.contextNamespace).toBe("apps")
        expect(client.contextNamespace).toBeUndefined()
    })

    test("KUBECONFIG from the given environment, --context chooses", async () => {
        const file = api.kubeconfig({ context: "ctx-a" })
        const c = await connect({ env: { KUBECONFIG: file }, context: "ctx-a" })
        expect(await c.get("v1", "Namespace", undefined, "flux-system")).toMatchObject({ metadata: { name: "flux-system" } })
        const e = await rejection(connect({ env: { KUBECONFIG: file }, context: "nope" }))
        expect(e.kind).toBe(ErrorKind.ClusterUnreachable)
        expect(e.message).toBe(`context "nope" does not exist in kubeconfig ${file}`)
        expect(e.hint).toBe("the contexts are: ctx-a")
    })

    test("malformed and missing kubeconfig files: one line naming the file", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "ksops-kc-"))
        const bad = path.join(dir, "bad")
        writeFileSync(bad, "clusters: [\n  - name: x\n  bad")
        let e = await rejection(connect({ kubeconfig: bad, env }))
        expect(e.kind).toBe(ErrorKind.ClusterUnreachable)
        expect(e.message).toMatch(new RegExp(`^invalid kubeconfig ${bad}: \\S`))
        expect(e.message).not.toContain("\n")
        e = await rejection(connect({ kubeconfig: path.join(dir, "missing"), env }))
        expect(e.message).toBe(`invalid kubeconfig ${path.join(dir, "missing")}: no such file`)
        const empty = path.join(dir, "empty")
        writeFileSync(empty, "apiVersion: v1\nkind: Config\n")
        e = await rejection(connect({ kubeconfig: empty, env }))
        expect(e.message).toBe(`invalid kubeconfig ${empty}: current-context is not set`)
        e = await rejection(connect({ env: { HOME: dir } }))
        expect(e.message).toBe("no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist")
    })

    test("an unreachable server: connection refused, with a hint", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "ksops-kc-"))
        const file = path.join(dir, "config")
        writeFileSync(
            file,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: t\ncurrent-context: c\n",
        )
        const c = await connect({ kubeconfig: file, env })
        const e = await rejection(c.get("v1", "Secret", "flux-system", "x"))
        expect(e.kind).toBe(ErrorKind.ClusterUnreachable)
        expect(e.message).toBe("cannot reach the cluster at https://127.0.0.1:1: connection refused")
        expect(e.hint).toContain("--kubeconfig")
    })

    test("a server whose certificate is not in the kubeconfig", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "ksops-kc-"))
        const file = path.join(dir, "config")
        writeFileSync(
            file,
            `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${api.url}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: admin-token\ncurrent-context: c\n`,
        )
        const c = await connect({ kubeconfig: file, env })
        const e = await rejection(c.get("v1", "Secret", "flux-system", "x"))
        expect(e.message).toMatch(new RegExp(`^cannot reach the cluster at ${api.url}: TLS certificate not trusted \\(\\w+\\)$`))
    })
})

describeShared("get, list, apply", () => {
    const secret = decryptionSecret({ name: "sops-age", namespace: "flux-system", entries: { "age.agekey": "AGE-SECRET-KEY-1X\n" } })

    test("get: undefined for a missing object; list", async () => {
        expect(await client.get("v1", "Secret", "flux-system", "absent")).toBeUndefined()
        const sas = await client.list("v1", "ServiceAccount", "flux-system")
        expect(sas.map((s) => s.metadata.name)).toContain("kustomize-controller")
        expect(sas[0]).toMatchObject({ apiVersion: "v1", kind: "ServiceAccount" })
    })

    test("apply: created, then unchanged, then configured; field manager kubectl-sops", async () => {
        const first = await client.apply(secret)
        expect(first.action).toBe("created")
        expect(first.object.data).toEqual(secret.data)
        expect((await client.apply(secret)).action).toBe("unchanged")
        const changed = decryptionSecret({ name: "sops-age", namespace: "flux-system", entries: { "age.agekey": "AGE-SECRET-KEY-1Y\n" } })
        expect((await client.apply(changed)).action).toBe("configured")
        const stored = api.object("v1", "Secret", "flux-system", "sops-age")
        expect(stored.data["age.agekey"]).toBe(changed.data && (changed.data as Record<string, string>)["age.agekey"])
        expect(stored.metadata.managedFields.map((m: { manager: string; operation: string }) => [m.manager, m.operation])).toContainEqual([FIELD_MANAGER, "Apply"])
        const patch = api.requests.filter((r) => r.method === "PATCH").at(-1)
        expect(patch?.contentType).toBe("application/apply-patch+yaml")
        expect(patch?.query.get("fieldManager")).toBe(FIELD_MANAGER)
    })

    test("dry run on the server: nothing stored, action computed from content", async () => {
        const obj = gitRepository({ name: "dry", namespace: "flux-system", url: "https://github.com/x/y", branch: "main" })
        const r = await client.apply(obj, { dryRun: true })
        expect(r.action).toBe("created")
        expect(r.object.spec).toMatchObject({ url: "https://github.com/x/y", timeout: "60s" })
        expect(api.object("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "dry")).toBeUndefined()
        expect(api.requests.filter((r) => r.method === "PATCH").at(-1)?.query.get("dryRun")).toBe("All")
        await client.apply(obj)
        expect((await client.apply(obj, { dryRun: true })).action).toBe("unchanged")
        expect((await client.apply({ ...obj, spec: { ...(obj.spec as object), interval: "5m0s" } }, { dryRun: true })).action).toBe("configured")
    })

    test("Flux objects validated by their CRD: 422 as one line with the server's message", async () => {
        const bad = kustomization({ name: "bad", namespace: "flux-system", source: "x" })
        ;(bad.spec as Record<string, unknown>).interval = "soon"
        const e = await rejection(client.apply(bad))
        expect(e.kind).toBe(ErrorKind.ClusterInvalid)
        expect(e.status).toBe(422)
        expect(e.message).toMatch(/^Kustomization\.kustomize\.toolkit\.fluxcd\.io "bad" is invalid: .*spec\.interval/)
        expect(e.message).not.toContain("\n")
    })

    test("403: the Status message, an RBAC hint", async () => {
        const bob = await connect({ kubeconfig: api.kubeconfig({ user: "bob" }), env })
        const e = await rejection(bob.apply(secret))
        expect(e.kind).toBe(ErrorKind.ClusterForbidden)
        expect(e.status).toBe(403)
        expect(e.message).toMatch(/^secrets "sops-age" is forbidden: User "bob" cannot get resource "secrets"/)
        expect(e.hint).toContain("RBAC")
    })

    test("409: a field owned by another manager", async () => {
        api.seed(
            { apiVersion: "v1", kind: "Secret", metadata: { name: "owned", namespace: "flux-system" }, type: "Opaque", data: { a: "eA==" } },
            "kubectl",
        )
        // a field another manager set conflicts when apply changes its value
        const e = await rejection(client.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "owned", namespace: "flux-system" }, data: { a: "eg==" } }))
        expect(e.kind).toBe(ErrorKind.ClusterConflict)
        expect(e.status).toBe(409)
        expect(e.message).toBe('Apply failed with 1 conflict: conflict with "kubectl" using v1: .data.a')
        expect(e.hint).toContain("another field manager owns these fields")
        expect(e.message).not.toContain("eg==")
        const forced = await client.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "owned", namespace: "flux-system" }, data: { a: "eg==" } }, { force: true })
        expect(forced.action).toBe("configured")
    })

    test("patch: merge and JSON patch", async () => {
        await client.patch("v1", "ServiceAccount", "flux-system", "kustomize-controller", { metadata: { annotations: { a: "1" } } }, "merge")
        const sa = await client.patch("v1", "ServiceAccount", "flux-system", "kustomize-controller", [{ op: "add", path: "/metadata/annotations/b", value: "2" }], "json")
        expect(sa.metadata.annotations).toMatchObject({ a: "1", b: "2" })
        const e = await rejection(client.patch("v1", "ServiceAccount", "flux-system", "nope", { metadata: {} }, "merge"))
        expect(e.kind).toBe(ErrorKind.ClusterNotFound)
        expect(e.message).toBe('serviceaccounts "nope" not found')
    })
})

describeShared("kustomize-controller identity (apply configurations)", () => {
    test("SA annotations and Deployment pod labels / manager env are applied without touching the rest", async () => {
        const before = api.object("apps/v1", "Deployment", "flux-system", "kustomize-controller")
        const results = []
        for (const obj of identityObjects({ azureClientId: "cid", azureTenantId: "tid", azurePodIdentity: "sops-akv" })) results.push(await client.apply(obj))
        expect(results.map((r) => r.action)).toEqual(["configured", "configured"])
        const sa = api.object("v1", "ServiceAccount", "flux-system", "kustomize-controller")
        expect(sa.metadata.annotations).toMatchObject({ "azure.workload.identity/client-id": "cid", "azure.workload.identity/tenant-id": "tid" })
        const d = api.object("apps/v1", "Deployment", "flux-system", "kustomize-controller")
        expect(d.spec.template.metadata.labels).toMatchObject({ ...before.spec.template.metadata.labels, "azure.workload.identity/use": "true", aadpodidbinding: "sops-akv" })
        const manager = d.spec.template.spec.containers.find((c: { name: string }) => c.name === "manager")
        const beforeManager = before.spec.template.spec.containers.find((c: { name: string }) => c.name === "manager")
        expect(manager.image).toBe(beforeManager.image)
        expect(manager.env).toContainEqual({ name: "AZURE_AUTH_METHOD", value: "msi" })
        for (const e of beforeManager.env ?? []) expect(manager.env).toContainEqual(e)
        for (const obj of identityObjects({ azureClientId: "cid", azureTenantId: "tid", azurePodIdentity: "sops-akv" })) {
            expect((await client.apply(obj)).action).toBe("unchanged")
        }
    })
})

describeShared("Flux not installed", () => {
    test("a missing API is ClusterNotFound with the install hint; a missing object is undefined", async () => {
        const bare = await startApiServer({ installFluxCrds: false })
        try {
            const c = await connect({ kubeconfig: bare.kubeconfig(), env })
            const e = await rejection(c.get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "x"))
            expect(e.kind).toBe(ErrorKind.ClusterNotFound)
            expect(e.message).toBe("the server has no Kustomization (kustomize.toolkit.fluxcd.io/v1) API")
            expect(e.hint).toBe("install Flux first: flux install")
            expect(await c.hasApi("source.toolkit.fluxcd.io/v1", "GitRepository")).toBe(false)
            expect(await c.hasApi("v1", "Secret")).toBe(true)
            const e2 = await rejection(c.apply(gitRepository({ name: "ab", namespace: "flux-system", url: "https://x/y", branch: "main" })))
            expect(e2.message).toBe("the server has no GitRepository (source.toolkit.fluxcd.io/v1) API")
        } finally {
            await bare.close()
        }
    })
})
