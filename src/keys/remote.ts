/**
 * What every remote key service (Vault transit, AWS KMS, GCP KMS, Azure Key Vault) shares: a bounded time per call
 * and one retry on throttling or a server error. Providers in `plugins/` use these so that the rules are the same
 * for all of them.
 */
import { ErrorKind, KsopsError } from "../errors.js"
import type { KeyContext } from "./provider.js"

/** Default time a single request to a key service may take. */
export const DEFAULT_REMOTE_TIMEOUT_MS = 30_000

/** The environment variable that changes it (seconds, or a Go duration such as `500ms`, `10s`, `1m`). */
export const REMOTE_TIMEOUT_ENV = "KUBECTL_SOPS_KEY_SERVICE_TIMEOUT"

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * The time a single key-service request may take, from {@link REMOTE_TIMEOUT_ENV} or the default.
 * @throws KsopsError when the variable is set to something that is not a positive duration
 */
export function remoteTimeoutMs(ctx: Pick<KeyContext, "env">): number {
    const text = ctx.env[REMOTE_TIMEOUT_ENV]?.trim()
    if (text === undefined || text === "") return DEFAULT_REMOTE_TIMEOUT_MS
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text)
    const ms = m === null ? Number.NaN : Number(m[1]) * UNIT_MS[m[2] ?? "s"]
    if (!(ms > 0) || !Number.isFinite(ms)) {
        throw new KsopsError(ErrorKind.Generic, `${REMOTE_TIMEOUT_ENV} is not a duration`, {
            hint: "give seconds (30) or a duration with a unit (500ms, 10s, 1m)",
        })
    }
    return Math.round(ms)
}

/** Whether a failed call may be tried once more: throttling (429) or a server error (5xx). */
export function isRetryableStatus(status: number | undefined): boolean {
    return status === 429 || (status !== undefined && status >= 500 && status <= 599)
}

/**
 * Run `call`; when it fails and `retryable(error)` says so, wait `backoffMs` (with jitter from `random`, default
 * Math.random) and run it once more. The second failure is thrown as it is.
 */
export async function withOneRetry<T>(
    call: () => Promise<T>,
    retryable: (error: unknown) => boolean,
    backoffMs = 200,
    random: () => number = Math.random,
): Promise<T> {
    try {
        return await call()
    } catch (error) {
        if (!retryable(error)) throw error
        await new Promise((resolve) => setTimeout(resolve, backoffMs * (0.5 + random())))
        return call()
    }
}
