/**
 * HashiCorp Vault transit keys (`hc_vault` metadata entries, `{engine_path, key_name, vault_address}`), as sops
 * 3.13.2 uses them: the data key (or Shamir share) is sent base64-encoded to `<engine path>/encrypt/<key>` and `enc`
 * is the `vault:v1:…` ciphertext verbatim; `<engine path>/decrypt/<key>` gives it back. Any mount path works,
 * nested ones too, because requests go through node-vault's generic `write`.
 *
 * Settings come from the {@link KeyContext} only (node-vault's own reads of `process.env` are overridden):
 * the token from `VAULT_TOKEN`, else `~/.vault-token`; `VAULT_NAMESPACE` (`X-Vault-Namespace`); TLS from
 * `VAULT_CACERT` (else `VAULT_CAPATH`), `VAULT_CLIENT_CERT`/`VAULT_CLIENT_KEY` and `VAULT_SKIP_VERIFY` (parsed as Go's ParseBool, as the
 * Vault client does); `SOPS_HC_VAULT_ALLOWLIST` (`all`, `none`, or URL prefixes) as sops. The key's address always
 * comes from the URI (sops sets it over `VAULT_ADDR`). Every request is bounded by
 * `KUBECTL_SOPS_KEY_SERVICE_TIMEOUT` and retried once on 429 or 5xx (src/keys/remote.ts).
 */
import { readFile, readdir } from "node:fs/promises"
import path from "node:path"
import vault from "node-vault"
import { KeyProviderError } from "../../src/errors.js"
import type { KeyParams } from "../../src/sops/keys.js"
import type { KeyContext, KeyProvider } from "../../src/keys/provider.js"
import { REMOTE_TIMEOUT_ENV, isRetryableStatus, remoteTimeoutMs, withOneRetry } from "../../src/keys/remote.js"
import { type VaultKey, parseVaultUri, vaultKeyId, vaultKeyOf } from "./uri.js"

const TYPE = "hc_vault"

/** What every request of this process uses, read once from the context. */
interface Settings {
    readonly token: string
    readonly namespace: string
    readonly timeoutMs: number
    readonly skipVerify: boolean
    readonly ca?: Buffer[]
    readonly cert?: Buffer
    readonly key?: Buffer
    /** null: every address is allowed. */
    readonly allowlist: readonly string[] | null
}

function fail(key: VaultKey, message: string, hint?: string): KeyProviderError {
    return new KeyProviderError(TYPE, `Vault transit key ${vaultKeyId(key)}: ${message}`, { hint })
}

/** Go's strconv.ParseBool, which the Vault client applies to VAULT_SKIP_VERIFY. */
function parseBool(name: string, text: string): boolean {
    if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true
    if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false
    throw new KeyProviderError(TYPE, `could not parse ${name}: not a boolean`, { hint: `set ${name} to true or false` })
}

async function readVarFile(env: KeyContext["env"], name: string): Promise<Buffer | undefined> {
    const file = env[name]
    if (file === undefined || file === "") return undefined
    try {
        return await readFile(file)
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? "unreadable"
        throw new KeyProviderError(TYPE, `cannot read ${name} file ${file} (${code})`, { hint: `point ${name} at a PEM file` })
    }
}

/** VAULT_CACERT (one PEM file) and VAULT_CAPATH (a folder of PEM files), as the Vault client reads them. */
async function trustedCas(env: KeyContext["env"]): Promise<Buffer[] | undefined> {
    const cas: Buffer[] = []
    const file = await readVarFile(env, "VAULT_CACERT")
    if (file !== undefined) cas.push(file)
    const dir = env.VAULT_CAPATH
    if (file === undefined && dir !== undefined && dir !== "") {
        try {
            for (const name of (await readdir(dir)).sort()) cas.push(await readFile(path.join(dir, name)))
        } catch (e) {
            const code = (e as NodeJS.ErrnoException).code ?? "unreadable"
            throw new KeyProviderError(TYPE, `cannot read VAULT_CAPATH folder ${dir} (${code})`, { hint: "point VAULT_CAPATH at a folder of PEM files" })
        }
    }
    return cas.length > 0 ? cas : undefined
}

async function userToken(ctx: KeyContext): Promise<string> {
    const fromEnv = ctx.env.VAULT_TOKEN ?? ""
    if (fromEnv !== "") return fromEnv
    const file = path.join(ctx.homeDir, ".vault-token")
    try {
        return (await readFile(file, "utf8")).trim()
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        if (code === "ENOENT") return ""
        throw new KeyProviderError(TYPE, `cannot get Vault token: cannot read ${file} (${code ?? "unreadable"})`)
    }
}

function parseAllowlist(text: string | undefined): readonly string[] | null {
    const value = text === undefined || text === "" ? "all" : text
    if (value === "all") return null
    if (value === "none") return []
    return value.split(",").map((entry, i) => {
        const uri = entry.trim()
        if (uri === "") {
            throw new KeyProviderError(TYPE, `SOPS_HC_VAULT_ALLOWLIST's entry ${i + 1} is empty`, {
                hint: "give all, none, or a comma-separated list of Vault URL prefixes",
            })
        }
        return uri.endsWith("/") ? uri : `${uri}/`
    })
}

async function loadSettings(ctx: KeyContext): Promise<Settings> {
    const skip = ctx.env.VAULT_SKIP_VERIFY
    return {
        token: await userToken(ctx),
        namespace: ctx.env.VAULT_NAMESPACE ?? "",
        timeoutMs: remoteTimeoutMs(ctx),
        skipVerify: skip !== undefined && skip !== "" && parseBool("VAULT_SKIP_VERIFY", skip),
        ca: await trustedCas(ctx.env),
        cert: await readVarFile(ctx.env, "VAULT_CLIENT_CERT"),
        key: await readVarFile(ctx.env, "VAULT_CLIENT_KEY"),
        allowlist: parseAllowlist(ctx.env.SOPS_HC_VAULT_ALLOWLIST),
    }
}

type Client = ReturnType<typeof vault>

/** One node-vault client per Vault address, configured from the settings alone. */
async function clientFor(ctx: KeyContext, key: VaultKey): Promise<{ client: Client; settings: Settings }> {
    const settings = await ctx.memo(`${TYPE}:settings`, () => loadSettings(ctx))
    const address = key.vault_address
    if (settings.allowlist !== null) {
        const withSlash = address.endsWith("/") ? address : `${address}/`
        if (!settings.allowlist.some((prefix) => withSlash.startsWith(prefix))) {
            throw fail(key, `Allowlist does not allow ${address}`, "add the address to SOPS_HC_VAULT_ALLOWLIST")
        }
    }
    if (settings.token === "") {
        throw fail(key, "no Vault token", "set VAULT_TOKEN or log in with `vault login` (which writes ~/.vault-token)")
    }
    const client = await ctx.memo(`${TYPE}:client:${address}`, async () => {
        const tls: Record<string, unknown> = {}
        if (settings.ca !== undefined) tls.ca = settings.ca
        if (settings.cert !== undefined) tls.cert = settings.cert
        if (settings.key !== undefined) tls.key = settings.key
        const c = vault({
            apiVersion: "v1",
            endpoint: address,
            token: settings.token,
            namespace: settings.namespace,
            // TLS options and strictSSL go into node-vault's one https.Agent; timeout bounds each request (axios)
            requestOptions: { ...tls, strictSSL: !settings.skipVerify, timeout: settings.timeoutMs },
        })
        // node-vault falls back to process.env for empty options; the context is the only source here.
        c.endpoint = address.replace(/\/$/, "")
        c.token = settings.token
        Object.assign(c, { namespace: settings.namespace, pathPrefix: "" })
        return c
    })
    return { client, settings }
}

/** The HTTP status of a failed node-vault call, when the server answered. */
function statusOf(error: unknown): number | undefined {
    const status = (error as { response?: { statusCode?: unknown } })?.response?.statusCode
    return typeof status === "number" ? status : undefined
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|EPROTO/

/** The service's text as part of one line: no control characters, no token, bounded. */
function serviceText(text: string, settings: Settings): string {
    const line = text.replace(/[\s\x00-\x1f\x7f]+/g, " ").trim()
    const redacted = settings.token === "" ? line : line.split(settings.token).join("<token>")
    return redacted.length > 300 ? `${redacted.slice(0, 300)}…` : redacted
}

/** One line for a failed request: the service's own errors, or what went wrong on the way; never the token. */
function describe(error: unknown, key: VaultKey, settings: Settings): { message: string; hint?: string } {
    const redact = (text: string) => serviceText(text, settings)
    const status = statusOf(error)
    if (status !== undefined) {
        const body = (error as { response: { body?: unknown } }).response.body as { errors?: unknown } | undefined
        const errors = Array.isArray(body?.errors) ? body.errors.filter((e) => typeof e === "string") : []
        const text = errors.length > 0 ? errors.join("; ") : "no error message"
        const hint =
            status === 403
                ? "check VAULT_TOKEN (or ~/.vault-token), its policy for this transit key and VAULT_NAMESPACE"
                : status === 404
                  ? "check the engine path and key name in the URI, and VAULT_NAMESPACE"
                  : undefined
        return { message: `Vault answered ${status}: ${redact(text)}`, hint }
    }
    const e = error as { code?: string; message?: string }
    const code = e?.code ?? ""
    if (code === "ECONNABORTED" || code === "ETIMEDOUT" || /timeout/i.test(e?.message ?? "")) {
        return {
            message: `no answer from ${key.vault_address} within ${settings.timeoutMs} ms`,
            hint: `check that Vault is reachable, or raise ${REMOTE_TIMEOUT_ENV}`,
        }
    }
    if (code === "ECONNREFUSED") {
        return { message: `cannot connect to ${key.vault_address}: connection refused`, hint: "check that Vault runs at this address" }
    }
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
        return { message: `cannot resolve the host of ${key.vault_address} (${code})` }
    }
    if (TLS_CODES.test(code)) {
        return {
            message: `TLS error talking to ${key.vault_address}: ${code}`,
            hint: "set VAULT_CACERT to the CA certificate of the Vault server (VAULT_SKIP_VERIFY=true skips verification)",
        }
    }
    return { message: redact(`request to ${key.vault_address} failed: ${code !== "" ? `${code} ` : ""}${e?.message ?? String(error)}`.trim()) }
}

/** Largest `batch_input` sent at once, and how many requests per key may be in flight. */
const MAX_BATCH = 128
const MAX_IN_FLIGHT = 4

interface Waiting {
    readonly enc: string
    resolve(data: Record<string, unknown>): void
    reject(error: unknown): void
}

/**
 * Decrypt requests of one key, coalesced: bulk runs unwrap many files' data keys at once, and what arrives while
 * {@link MAX_IN_FLIGHT} requests are under way goes out together as one transit `batch_input` request. A request
 * with one item is sent exactly as sops sends it (`{"ciphertext": …}`); a batch item's own error fails only its file.
 */
class DecryptBatcher {
    readonly #ctx: KeyContext
    readonly #key: VaultKey
    readonly #queue: Waiting[] = []
    #inFlight = 0
    #scheduled = false

    constructor(ctx: KeyContext, key: VaultKey) {
        this.#ctx = ctx
        this.#key = key
    }

    decrypt(enc: string): Promise<Record<string, unknown>> {
        return new Promise((resolve, reject) => {
            this.#queue.push({ enc, resolve, reject })
            this.#schedule()
        })
    }

    #schedule(): void {
        if (this.#scheduled || this.#queue.length === 0 || this.#inFlight >= MAX_IN_FLIGHT) return
        this.#scheduled = true
        // after the current I/O phase, so that requests made together leave together
        setImmediate(() => {
            this.#scheduled = false
            this.#flush()
        })
    }

    #flush(): void {
        if (this.#queue.length === 0 || this.#inFlight >= MAX_IN_FLIGHT) return
        const items = this.#queue.splice(0, MAX_BATCH)
        this.#inFlight++
        this.#send(items).finally(() => {
            this.#inFlight--
            this.#schedule()
        })
        this.#schedule()
    }

    async #send(items: Waiting[]): Promise<void> {
        if (items.length === 1) {
            await transit(this.#ctx, this.#key, "decrypt", { ciphertext: items[0].enc }).then(items[0].resolve, items[0].reject)
            return
        }
        let results: unknown
        try {
            const data = await transit(this.#ctx, this.#key, "decrypt", { batch_input: items.map((i) => ({ ciphertext: i.enc })) }, true)
            results = data.batch_results
        } catch (error) {
            for (const i of items) i.reject(error)
            return
        }
        const settings = await this.#ctx.memo(`${TYPE}:settings`, () => loadSettings(this.#ctx))
        const what = `failed to decrypt sops data key from Vault transit backend '${transitPath(this.#key, "decrypt")}'`
        if (!Array.isArray(results) || results.length !== items.length) {
            for (const i of items) i.reject(fail(this.#key, `${what}: Vault's batch answer does not match the request`))
            return
        }
        items.forEach((item, n) => {
            const r = results[n] as Record<string, unknown> | null
            if (typeof r?.error === "string" && r.error !== "") item.reject(fail(this.#key, `${what}: Vault answered: ${serviceText(r.error, settings)}`))
            else if (typeof r === "object" && r !== null) item.resolve(r)
            else item.reject(fail(this.#key, `${what}: transit backend is empty`))
        })
    }
}

function transitPath(key: VaultKey, op: "encrypt" | "decrypt"): string {
    return path.posix.join(key.engine_path, op, key.key_name)
}

async function transit(
    ctx: KeyContext,
    key: VaultKey,
    op: "encrypt" | "decrypt",
    data: Record<string, unknown>,
    batch = false,
): Promise<Record<string, unknown>> {
    const { client, settings } = await clientFor(ctx, key)
    const fullPath = transitPath(key, op)
    const what =
        op === "encrypt"
            ? `failed to encrypt sops data key to Vault transit backend '${fullPath}'`
            : `failed to decrypt sops data key from Vault transit backend '${fullPath}'`
    let body: unknown
    try {
        body = await withOneRetry(
            () => client.write(fullPath, data),
            (error) => isRetryableStatus(statusOf(error)),
        )
    } catch (error) {
        // transit answers a batch whose items all failed with 400 and the items' errors: those are per file
        const partial = (error as { response?: { body?: { data?: { batch_results?: unknown } } } }).response?.body?.data
        if (batch && Array.isArray(partial?.batch_results)) return partial
        const d = describe(error, key, settings)
        throw fail(key, `${what}: ${d.message}`, d.hint)
    }
    const result = (body as { data?: unknown } | undefined)?.data
    if (typeof result !== "object" || result === null) throw fail(key, `${what}: transit backend is empty`)
    return result as Record<string, unknown>
}

/** The Vault transit provider. */
export const provider: KeyProvider = {
    type: TYPE,
    hasCreatedAt: true,

    parseSpec(spec: string): KeyParams {
        return { ...parseVaultUri(spec) }
    },

    keyId(params: KeyParams): string {
        return vaultKeyId(vaultKeyOf(params))
    },

    async encrypt(params: KeyParams, part: Uint8Array, ctx: KeyContext): Promise<string> {
        const key = vaultKeyOf(params)
        const data = await transit(ctx, key, "encrypt", { plaintext: Buffer.from(part).toString("base64") })
        if (typeof data.ciphertext !== "string" || data.ciphertext === "") {
            throw fail(key, "failed to encrypt sops data key: no encrypted data in Vault's answer")
        }
        return data.ciphertext
    },

    async decrypt(params: KeyParams, enc: string, ctx: KeyContext): Promise<Uint8Array> {
        const key = vaultKeyOf(params)
        if (enc === "") throw fail(key, "the file has no encrypted data key for this key")
        const batcher = await ctx.memo(`${TYPE}:decrypt:${vaultKeyId(key)}`, async () => new DecryptBatcher(ctx, key))
        const data = await batcher.decrypt(enc)
        const plaintext = data.plaintext
        if (typeof plaintext !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(plaintext) || plaintext.length % 4 !== 0) {
            throw fail(key, "failed to decrypt sops data key: cannot decode base64 plaintext into data key bytes")
        }
        return new Uint8Array(Buffer.from(plaintext, "base64"))
    },
}
