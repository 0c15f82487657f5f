/**
 * Waiting for a Flux object to become ready (spec §3.5), but reporting a failure as soon as the object says so
 * (§9.5) instead of waiting out the timeout like the flux CLI.
 */
import { ErrorKind, KubeError } from "../errors.js"
import type { KubeClient } from "./client.js"
import { formatGoDuration } from "./manifests.js"
import type { KubeObject, ObjectRef } from "./types.js"

/** A status condition. */
export interface Condition {
    type: string
    status: string
    reason?: string
    message?: string
    observedGeneration?: number
}

/** `Ready=False` reasons that will not go away without a change (reported at once). */
export const FAILURE_REASONS: ReadonlySet<string> = new Set([
    "BuildFailed",
    "ReconciliationFailed",
    "ArtifactFailed",
    "FeatureGateDisabled",
    "HealthCheckFailed",
    "GitOperationFailed",
    "AuthenticationFailed",
])

/** ArtifactFailed while the source has not produced an artifact yet is transient (kustomize-controller retries). */
const TRANSIENT_MESSAGE = /^Source (artifact not found|'[^']*' not found|is not ready)/

/** What the object says about itself. */
export type Readiness =
    | { state: "ready"; revision?: string }
    | { state: "failed"; reason: string; message: string }
    | { state: "progressing"; message?: string }

function conditions(obj: KubeObject): Condition[] {
    const st = obj.status as { conditions?: Condition[] } | undefined
    return Array.isArray(st?.conditions) ? st.conditions : []
}

/** §3.5 + §9.5: ready, failed (Stalled=True, or Ready=False with a failure reason) or still progressing. */
export function readiness(obj: KubeObject): Readiness {
    const status = (obj.status ?? {}) as { observedGeneration?: number; lastAppliedRevision?: string; artifact?: { revision?: string } }
    const generation = (obj.metadata.generation as number | undefined) ?? 0
    const observed = status.observedGeneration ?? -1
    const conds = conditions(obj)
    const ready = conds.find((c) => c.type === "Ready")
    const current = (c: Condition) =>
        c.observedGeneration !== undefined && c.observedGeneration !== 0 ? c.observedGeneration === generation : observed === generation
    const stalled = conds.find((c) => c.type === "Stalled" && c.status === "True")
    if (stalled !== undefined && current(stalled)) {
        return { state: "failed", reason: stalled.reason ?? "Stalled", message: stalled.message ?? "stalled" }
    }
    if (observed < 1 || ready === undefined || !current(ready)) return { state: "progressing" }
    if (ready.status === "False" && ready.reason !== undefined && FAILURE_REASONS.has(ready.reason) && !TRANSIENT_MESSAGE.test(ready.message ?? "")) {
        return { state: "failed", reason: ready.reason, message: ready.message ?? ready.reason }
    }
    const reconciling = conds.find((c) => c.type === "Reconciling" && c.status === "True")
    if (ready.status !== "True" || reconciling !== undefined) return { state: "progressing", ...(ready.message === undefined ? {} : { message: ready.message }) }
    const revision = status.lastAppliedRevision ?? status.artifact?.revision
    return revision === undefined ? { state: "ready" } : { state: "ready", revision }
}

/**
 * Poll until `ref` is ready.
 * @returns the applied (Kustomization) or fetched (source) revision
 * @throws KubeError ReconcileFailed with the object's own message, Timeout, or ClusterNotFound if it disappears
 */
export async function waitReady(
    client: KubeClient,
    ref: ObjectRef,
    o: { timeoutMs: number; intervalMs?: number; progress?: (line: string) => void },
): Promise<{ revision?: string }> {
    const interval = o.intervalMs ?? 2000
    const deadline = Date.now() + o.timeoutMs
    const what = `${ref.kind} ${ref.namespace}/${ref.name}`
    let last: string | undefined
    for (;;) {
        const obj = await client.get(ref.apiVersion, ref.kind, ref.namespace, ref.name)
        if (obj === undefined) throw new KubeError(ErrorKind.ClusterNotFound, `${what} not found while waiting for it`, { status: 404, reason: "NotFound" })
        const r = readiness(obj)
        if (r.state === "ready") return r.revision === undefined ? {} : { revision: r.revision }
        if (r.state === "failed") {
            throw new KubeError(ErrorKind.ReconcileFailed, `${what}: ${r.message}`, {
                reason: r.reason,
                hint: `see \`kubectl -n ${ref.namespace} describe ${ref.kind.toLowerCase()} ${ref.name}\``,
            })
        }
        if (r.message !== undefined && r.message !== last) {
            last = r.message
            o.progress?.(r.message)
        }
        const left = deadline - Date.now()
        if (left <= 0) {
            throw new KubeError(
                ErrorKind.Timeout,
                `timed out after ${formatGoDuration(BigInt(o.timeoutMs) * 1_000_000n)} waiting for ${what} to become ready${last === undefined ? "" : ` (last status: ${last})`}`,
                { hint: "raise --timeout, or check the controller logs: kubectl -n flux-system logs deploy/kustomize-controller" },
            )
        }
        await new Promise((res) => setTimeout(res, Math.min(interval, left)))
    }
}
