import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { ErrorKind, KubeError } from "../../src/errors.js"
import { connect, type KubeClient } from "../../src/kube/client.js"
import { KUSTOMIZATION_API, kustomization } from "../../src/kube/manifests.js"
import type { KubeObject } from "../../src/kube/types.js"
import { readiness, waitReady } from "../../src/kube/wait.js"
import { startApiServer, type TestApiServer } from "./apiserver/index.js"
import { describeShared } from "../conformance-data.js"

function ks(generation: number, status: object): KubeObject {
    return { apiVersion: KUSTOMIZATION_API, kind: "Kustomization", metadata: { name: "a", generation }, status }
}
const ready = (extra: object = {}) => ({ type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "Applied revision: main@sha1:abc", ...extra })

describe("readiness (§3.5)", () => {
    test("ready only for the current generation", () => {
        expect(readiness(ks(1, { observedGeneration: 1, lastAppliedRevision: "main@sha1:abc", conditions: [ready({ observedGeneration: 1 })] }))).toEqual({
            state: "ready",
            revision: "main@sha1:abc",
        })
        expect(readiness(ks(2, { observedGeneration: 1, conditions: [ready({ observedGeneration: 1 })] })).state).toBe("progressing")
        // condition without observedGeneration: the status' observedGeneration decides
        expect(readiness(ks(2, { observedGeneration: 2, conditions: [ready()] })).state).toBe("ready")
        expect(readiness(ks(2, { observedGeneration: 1, conditions: [ready()] })).state).toBe("progressing")
        expect(readiness(ks(1, { observedGeneration: -1 })).state).toBe("progressing")
        expect(readiness(ks(1, {})).state).toBe("progressing")
    })

    test("Reconciling=True keeps it in progress", () => {
        const st = { observedGeneration: 1, conditions: [ready(), { type: "Reconciling", status: "True", reason: "Progressing", message: "x" }] }
        expect(readiness(ks(1, st)).state).toBe("progressing")
    })

    test("Ready=False with a failure reason fails at once; transient ArtifactFailed does not", () => {
        const msg = "secrets \"sops-age\" not found"
        expect(
            readiness(
                ks(1, {
                    observedGeneration: 1,
                    conditions: [
                        { type: "Ready", status: "False", reason: "BuildFailed", message: msg },
                        { type: "Reconciling", status: "True", reason: "ProgressingWithRetry" },
                    ],
                }),
            ),
        ).toEqual({ state: "failed", reason: "BuildFailed", message: msg })
        expect(
            readiness(ks(1, { observedGeneration: 1, conditions: [{ type: "Ready", status: "False", reason: "ArtifactFailed", message: "Source artifact not found, retrying in 30s" }] })),
        ).toEqual({ state: "progressing", message: "Source artifact not found, retrying in 30s" })
        expect(
            readiness(ks(1, { observedGeneration: 1, conditions: [{ type: "Ready", status: "False", reason: "ArtifactFailed", message: "kustomization path not found: x" }] })).state,
        ).toBe("failed")
        expect(readiness(ks(1, { observedGeneration: 1, conditions: [{ type: "Ready", status: "False", reason: "DependencyNotReady", message: "dep" }] })).state).toBe("progressing")
    })

    test("Stalled=True fails", () => {
        const m = "to use spec.decryption.serviceAccountName for decryption authentication please enable the ObjectLevelWorkloadIdentity feature gate in the controller"
        expect(
            readiness(
                ks(1, {
                    observedGeneration: 1,
                    conditions: [
                        { type: "Ready", status: "False", reason: "FeatureGateDisabled", message: m },
                        { type: "Stalled", status: "True", reason: "FeatureGateDisabled", message: m },
                    ],
                }),
            ),
        ).toEqual({ state: "failed", reason: "FeatureGateDisabled", message: m })
    })
})

describeShared("waitReady against the API server", () => {
    let api: TestApiServer
    let client: KubeClient
    const ref = { apiVersion: KUSTOMIZATION_API, kind: "Kustomization", namespace: "flux-system", name: "apps" }
    beforeAll(async () => {
        api = await startApiServer()
        client = await connect({ kubeconfig: api.kubeconfig(), env: {} })
        await client.apply(kustomization({ name: "apps", namespace: "flux-system", source: "apps", decryptionProvider: "sops", decryptionSecret: "sops-age" }))
    })
    afterAll(async () => api?.close())

    test("polls until Ready and returns the applied revision; progress lines for status changes", async () => {
        api.setStatus(KUSTOMIZATION_API, "Kustomization", "flux-system", "apps", {
            observedGeneration: 1,
            conditions: [{ type: "Ready", status: "Unknown", reason: "Progressing", message: "Reconciliation in progress" }],
        })
        // The controller finishes once the waiter has seen the in-progress status (an event, not a clock).
        const lines: string[] = []
        const progress = (l: string) => {
            lines.push(l)
            if (lines.length === 1) {
                api.setStatus(KUSTOMIZATION_API, "Kustomization", "flux-system", "apps", {
                    observedGeneration: 1,
                    lastAppliedRevision: "main@sha1:0123",
                    conditions: [ready({ observedGeneration: 1 })],
                })
            }
        }
        const r = await waitReady(client, ref, { timeoutMs: 60_000, intervalMs: 50, progress })
        expect(r).toEqual({ revision: "main@sha1:0123" })
        expect(lines).toEqual(["Reconciliation in progress"])
    })

    test("a BuildFailed condition is reported at once with its message", async () => {
        api.setStatus(KUSTOMIZATION_API, "Kustomization", "flux-system", "apps", {
            observedGeneration: 1,
            conditions: [{ type: "Ready", status: "False", reason: "BuildFailed", message: 'secrets "sops-age" not found', observedGeneration: 1 }],
        })
        // "at once": after the first read of the object, not after more polls or the timeout
        const reads = () => api.requests.filter((q) => q.method === "GET" && q.path.endsWith("/kustomizations/apps")).length
        const before = reads()
        const e = (await waitReady(client, ref, { timeoutMs: 60_000, intervalMs: 50 }).catch((x) => x)) as KubeError
        expect(reads() - before).toBe(1)
        expect(e).toBeInstanceOf(KubeError)
        expect(e.kind).toBe(ErrorKind.ReconcileFailed)
        expect(e.reason).toBe("BuildFailed")
        expect(e.message).toBe('Kustomization flux-system/apps: secrets "sops-age" not found')
    })

    test("timeout names the object and the last status", async () => {
        api.setStatus(KUSTOMIZATION_API, "Kustomization", "flux-system", "apps", {
            observedGeneration: 1,
            conditions: [{ type: "Ready", status: "Unknown", reason: "Progressing", message: "Reconciliation in progress" }],
        })
        const e = (await waitReady(client, ref, { timeoutMs: 200, intervalMs: 50 }).catch((x) => x)) as KubeError
        expect(e.kind).toBe(ErrorKind.Timeout)
        expect(e.message).toBe("timed out after 200ms waiting for Kustomization flux-system/apps to become ready (last status: Reconciliation in progress)")
    })

    test("a deleted object", async () => {
        const e = (await waitReady(client, { ...ref, name: "gone" }, { timeoutMs: 200 }).catch((x) => x)) as KubeError
        expect(e.kind).toBe(ErrorKind.ClusterNotFound)
    })
})
