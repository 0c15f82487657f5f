/**
 * AWS KMS master keys (metadata type `kms`), through `@aws-sdk/client-kms`.
 *
 * As sops 3.13.2 (sops-format.md §7.4): `enc` is the padded standard base64 of the `CiphertextBlob` that
 * `Encrypt(KeyId=arn, Plaintext=part, EncryptionContext=context)` returns; decryption sends the same `KeyId` and
 * the same encryption context. `ARN+ROLE_ARN` assumes the role through STS with the session name
 * `sops@<hostname>`; `aws_profile` picks a shared-config profile; otherwise the SDK's default credential chain
 * (environment, shared files, web identity, container and instance metadata) applies. The region comes from the
 * ARN. `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_STS`) point the clients elsewhere.
 *
 * The SDK is imported on first use (not when a spec is parsed), so only runs that call KMS pay for it. Each call
 * is bounded by KUBECTL_SOPS_KEY_SERVICE_TIMEOUT and tried once more on throttling or a server error
 * (src/keys/remote.ts); the SDK's own retries are off.
 */
import { hostname } from "node:os"
import { ErrorKind, KeyProviderError, KsopsError } from "../../src/errors.js"
import type { KeyContext, KeyProvider } from "../../src/keys/provider.js"
import { providerDescriptor } from "../../src/keys/registry.js"
import { isRetryableStatus, remoteTimeoutMs, withOneRetry } from "../../src/keys/remote.js"
import type { KeyParams } from "../../src/sops/keys.js"

/** sops' ARN check; group 1 is the region. */
const ARN_RE = /^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)\/.+$/
const ROLE_SEPARATOR = "+arn:aws:iam::"
const SESSION_NAME_LIMIT = 64

/** The metadata parameters of a KMS key, in the shape sops writes (aws_profile always, role/context when set). */
export function kmsParams(arn: string, role: string, context: Readonly<Record<string, string>> | undefined, profile: string): KeyParams {
    const p: Record<string, string | Readonly<Record<string, string>>> = { arn, aws_profile: profile }
    if (role !== "") p.role = role
    if (context !== undefined && Object.keys(context).length > 0) p.context = { ...context }
    return p
}

function usage(message: string, hint: string): KsopsError {
    return new KsopsError(ErrorKind.Usage, message, { hint })
}

function checkArn(arn: string): void {
    if (!ARN_RE.test(arn)) {
        throw usage(`"${arn}" is not an AWS KMS key ARN`, "give arn:aws:kms:REGION:ACCOUNT:key/KEY-ID or …:alias/NAME, optionally +arn:aws:iam::ACCOUNT:role/ROLE")
    }
}

/**
 * `ARN` or `ARN+ROLE_ARN` (spaces removed, as sops) → params.
 * @throws KsopsError (usage) when the ARN is not a KMS key or alias ARN
 */
export function parseKmsSpec(spec: string): KeyParams {
    const s = spec.replaceAll(" ", "")
    const i = s.indexOf(ROLE_SEPARATOR)
    const arn = i > 0 ? s.slice(0, i) : s
    const role = i > 0 ? s.slice(i + 1) : ""
    checkArn(arn)
    return kmsParams(arn, role, undefined, "")
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v)
}

/** A `.sops.yaml` key-group entry `{arn, role, context, aws_profile}`. */
function parseConfigEntry(entry: unknown): KeyParams {
    if (!isPlainObject(entry)) throw usage("kms entries must be maps", "write kms entries as {arn: …, role: …, context: {…}, aws_profile: …}")
    for (const k of Object.keys(entry)) {
        if (!["arn", "role", "context", "aws_profile"].includes(k)) throw usage(`kms entry: unknown field "${k}"`, "kms entries take arn, role, context and aws_profile")
    }
    const field = (name: string): string => {
        const v = entry[name]
        if (v === undefined || v === null) return ""
        if (typeof v !== "string") throw usage(`kms entry: ${name} must be a string`, "quote the value")
        return v.replaceAll(" ", "")
    }
    const arn = field("arn")
    if (arn === "") throw usage("kms entry: arn is missing", "give the key ARN as arn: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID")
    checkArn(arn)
    let context: Record<string, string> | undefined
    const raw = entry.context
    if (raw !== undefined && raw !== null) {
        if (!isPlainObject(raw)) throw usage("kms entry: context must be a map of strings", "write context: {key: value}")
        context = {}
        for (const [k, v] of Object.entries(raw)) {
            // sops drops a context with a non-string value (and warns); encrypting without the intended context is worse
            if (typeof v !== "string") throw usage(`kms entry: context value of "${k}" is not a string`, "quote the context values")
            context[k] = v
        }
    }
    const profile = entry.aws_profile
    if (profile !== undefined && profile !== null && typeof profile !== "string") throw usage("kms entry: aws_profile must be a string", "quote the value")
    return kmsParams(arn, field("role"), context, typeof profile === "string" ? profile : "")
}

function str(params: KeyParams, name: string): string {
    const v = params[name]
    return typeof v === "string" ? v : ""
}

function contextOf(params: KeyParams): Record<string, string> | undefined {
    const v = params.context
    return typeof v === "object" && v !== null && Object.keys(v).length > 0 ? { ...v } : undefined
}

/** sops' STS session name: `sops@` + the host name without characters outside `[a-zA-Z0-9=,.@-_]`, ≤ 64 chars. */
export function stsSessionName(host: string): string {
    // `@-_` is a range (0x40–0x5F) in sops' Go pattern; the same class here
    return `sops@${host.replace(/[^a-zA-Z0-9=,.@-_]+/g, "")}`.slice(0, SESSION_NAME_LIMIT)
}

type KmsModule = typeof import("@aws-sdk/client-kms")
type KmsClient = InstanceType<KmsModule["KMSClient"]>
type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date }

/** The SDK error fields we use; everything else stays out of messages. */
interface SdkError {
    name?: string
    message?: string
    code?: string
    $metadata?: { httpStatusCode?: number }
}

function endpointFor(ctx: KeyContext, service: "KMS" | "STS"): string | undefined {
    const v = ctx.env[`AWS_ENDPOINT_URL_${service}`] || ctx.env.AWS_ENDPOINT_URL
    return v === undefined || v === "" ? undefined : v
}

/** Static credentials from the context's environment (the first link of the default chain), when complete. */
function envCredentials(ctx: KeyContext): Credentials | undefined {
    const id = ctx.env.AWS_ACCESS_KEY_ID
    const secret = ctx.env.AWS_SECRET_ACCESS_KEY
    if (!id || !secret) return undefined
    const token = ctx.env.AWS_SESSION_TOKEN
    return token ? { accessKeyId: id, secretAccessKey: secret, sessionToken: token } : { accessKeyId: id, secretAccessKey: secret }
}

function region(arn: string): string {
    const m = ARN_RE.exec(arn)
    if (m === null) throw new Error(`No valid ARN found in "${arn}"`)
    return m[1]
}

class Timeout extends Error {}

/**
 * The HTTP handler's own bounds. The default chain's STS calls (web identity, a profile's role) reuse this handler,
 * so a hanging STS is cut too and leaves no socket behind to keep the process alive.
 */
function handlerOptions(ctx: KeyContext): { requestTimeout: number; connectionTimeout: number; throwOnRequestTimeout: boolean } {
    const ms = remoteTimeoutMs(ctx)
    return { requestTimeout: ms, connectionTimeout: ms, throwOnRequestTimeout: true }
}

/** Run one SDK call within the shared time bound, once more on throttling or a 5xx. */
async function call<T>(ctx: KeyContext, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ms = remoteTimeoutMs(ctx)
    const once = async (): Promise<T> => {
        const controller = new AbortController()
        // The SDK honours the signal only in its HTTP handler; resolving credentials (a web-identity or SSO call)
        // comes before it, so the bound is also a race.
        let timer: NodeJS.Timeout | undefined
        const expired = new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
                const reason = new Timeout(`no answer within ${ms / 1000}s`)
                controller.abort(reason)
                reject(reason)
            }, ms)
        })
        try {
            return await Promise.race([run(controller.signal), expired])
        } catch (e) {
            if (controller.signal.aborted) throw controller.signal.reason
            throw e
        } finally {
            clearTimeout(timer)
        }
    }
    return withOneRetry(once, (e) => {
        const s = e as SdkError
        return s.name === "ThrottlingException" || s.name === "KMSInternalException" || isRetryableStatus(s.$metadata?.httpStatusCode)
    })
}

/**
 * The service's message, safe to print: AWS appends the canonical request to a signature error, and its headers
 * carry the session token, so only the first line is kept, bounded, with any credential of the context blanked.
 */
function serviceMessage(message: string, ctx: KeyContext): string {
    let line = (message.split("\n")[0] ?? "").trim().slice(0, 400)
    for (const name of ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]) {
        const secret = ctx.env[name]
        if (secret !== undefined && secret.length >= 8) line = line.replaceAll(secret, "<redacted>")
    }
    return line
}

/** One line for a failed call: the service's error type and message, or the network failure. No secrets. */
function describe(e: unknown, endpoint: string | undefined, ctx: KeyContext): string {
    if (e instanceof Timeout) return `${e.message} (KUBECTL_SOPS_KEY_SERVICE_TIMEOUT)`
    const s = e as SdkError
    const status = s.$metadata?.httpStatusCode
    if (status !== undefined) return `${s.name ?? "error"} (HTTP ${status}): ${serviceMessage(s.message ?? "", ctx)}`.trim()
    const code = s.code ?? (e as { cause?: SdkError })?.cause?.code
    if (code !== undefined) return `cannot reach ${endpoint ?? "the AWS endpoint"}: ${code}`
    if (s.name === "CredentialsProviderError") return `no AWS credentials: ${serviceMessage(s.message ?? "", ctx)}`
    return serviceMessage(s.message ?? String(e), ctx)
}

async function sdk(): Promise<KmsModule> {
    // The SDK warns on every Node 20 run that its future versions will need Node 22: not news for our users.
    const core = await import("@aws-sdk/core")
    core.state.warningEmitted = true
    return import("@aws-sdk/client-kms")
}

/** The SDK's default chain (for a profile: that profile) resolved once, for the STS call. */
async function baseCredentials(mod: KmsModule, ctx: KeyContext, reg: string, profile: string): Promise<Credentials> {
    const fromEnv = profile === "" ? envCredentials(ctx) : undefined
    if (fromEnv !== undefined) return fromEnv
    const resolver = new mod.KMSClient({ region: reg, ...(profile === "" ? {} : { profile }) })
    try {
        const c = await resolver.config.credentials()
        return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) }
    } finally {
        resolver.destroy()
    }
}

async function assumeRole(mod: KmsModule, ctx: KeyContext, role: string, reg: string, profile: string): Promise<Credentials> {
    const sts = await import("@aws-sdk/nested-clients/sts")
    const endpoint = endpointFor(ctx, "STS")
    let client: InstanceType<typeof sts.STSClient> | undefined
    try {
        client = new sts.STSClient({
            region: reg,
            maxAttempts: 1,
            requestHandler: handlerOptions(ctx),
            credentials: await baseCredentials(mod, ctx, reg, profile),
            ...(endpoint === undefined ? {} : { endpoint }),
        })
        const sc = client
        const out = await call(ctx, (abortSignal) =>
            sc.send(new sts.AssumeRoleCommand({ RoleArn: role, RoleSessionName: stsSessionName(hostname()) }), { abortSignal }),
        )
        const c = out.Credentials
        if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error("STS AssumeRole returned no credentials")
        return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}) }
    } catch (e) {
        throw new Error(`cannot assume role ${role}: ${describe(e, endpoint, ctx)}`, { cause: e })
    } finally {
        client?.destroy()
    }
}

/** One client per region, profile and role for the whole run. */
function clientFor(params: KeyParams, ctx: KeyContext): Promise<{ client: KmsClient; mod: KmsModule }> {
    const arn = str(params, "arn")
    const reg = region(arn)
    const role = str(params, "role")
    const profile = str(params, "aws_profile")
    return ctx.memo(`kms:client:${reg}\u0000${profile}\u0000${role}`, async () => {
        const mod = await sdk()
        const endpoint = endpointFor(ctx, "KMS")
        const credentials = role !== "" ? await assumeRole(mod, ctx, role, reg, profile) : profile === "" ? envCredentials(ctx) : undefined
        const client = new mod.KMSClient({
            region: reg,
            maxAttempts: 1,
            requestHandler: handlerOptions(ctx),
            ...(endpoint === undefined ? {} : { endpoint }),
            ...(credentials === undefined ? {} : { credentials }),
            ...(profile === "" || role !== "" ? {} : { profile }),
        })
        return { client, mod }
    })
}

function keyError(params: KeyParams, what: string, e: unknown, ctx: KeyContext): KeyProviderError {
    const id = providerDescriptor("kms")?.keyId(params) ?? str(params, "arn")
    return new KeyProviderError("kms", `AWS KMS key ${id}: ${what}: ${describe(e, endpointFor(ctx, "KMS"), ctx)}`, { cause: e })
}

/** The AWS KMS provider. */
export const provider: KeyProvider = {
    type: "kms",
    hasCreatedAt: true,
    parseSpec: parseKmsSpec,
    parseConfigEntry,
    keyId: (params) => providerDescriptor("kms")?.keyId(params) ?? str(params, "arn"),

    async encrypt(params, part, ctx) {
        try {
            const { client, mod } = await clientFor(params, ctx)
            const context = contextOf(params)
            const out = await call(ctx, (abortSignal) =>
                client.send(new mod.EncryptCommand({ KeyId: str(params, "arn"), Plaintext: part, ...(context ? { EncryptionContext: context } : {}) }), {
                    abortSignal,
                }),
            )
            if (!out.CiphertextBlob) throw new Error("KMS returned no ciphertext")
            return Buffer.from(out.CiphertextBlob).toString("base64")
        } catch (e) {
            throw keyError(params, "Failed to call KMS encryption service", e, ctx)
        }
    },

    async decrypt(params, enc, ctx) {
        const blob = Buffer.from(enc, "base64")
        if (enc === "" || blob.toString("base64") !== enc.replace(/\s+/g, "")) {
            throw new KeyProviderError("kms", `AWS KMS key ${provider.keyId(params)}: Error base64-decoding encrypted data key`)
        }
        try {
            const { client, mod } = await clientFor(params, ctx)
            const context = contextOf(params)
            const out = await call(ctx, (abortSignal) =>
                client.send(
                    new mod.DecryptCommand({ CiphertextBlob: blob, KeyId: str(params, "arn"), ...(context ? { EncryptionContext: context } : {}) }),
                    { abortSignal },
                ),
            )
            if (!out.Plaintext) throw new Error("KMS returned no plaintext")
            return new Uint8Array(out.Plaintext)
        } catch (e) {
            throw keyError(params, "Error decrypting key", e, ctx)
        }
    },
}
