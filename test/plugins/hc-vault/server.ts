/**
 * A local HashiCorp Vault transit server for the hc_vault provider's tests: real HTTP or HTTPS on 127.0.0.1 (random
 * port), the Vault REST shapes the real client library (node-vault) talks to, and real encryption.
 *
 * Protocol rules it enforces:
 * - Only `POST` or `PUT` (Vault treats them alike) on `/v1/<mount>/encrypt/<key>` and `/v1/<mount>/decrypt/<key>`,
 *   where `<mount>` is a transit mount given to {@link startVault} (nested paths such as `team/a/transit` too);
 *   any other path → 404 `no handler for route "<path>". route entry not found.`
 * - `X-Vault-Token` must equal the server's token, else 403 `permission denied` (also when missing).
 * - `X-Vault-Namespace` selects the namespace: mounts are declared per namespace (`""` = root); a mount of another
 *   namespace is not found (404), as in Vault Enterprise.
 * - Bodies are JSON objects (else 400 `failed to parse JSON input`). Encrypt: `plaintext` must be standard base64
 *   (400 `failed to decode plaintext as base64`); a key that does not exist is created (transit's upsert).
 *   Decrypt: the key must exist (400 `encryption key not found`), `ciphertext` must be `vault:v<n>:<base64>` with
 *   an existing version (400 `invalid ciphertext: …`), and must authenticate (400 `cipher: message authentication
 *   failed`). `batch_input` (a list of `{plaintext}` / `{ciphertext}` items) answers `batch_results`, each item
 *   its result or its own `error`, as transit does; when an item failed the status is 400 (transit's default
 *   without `partial_failure_response_code`).
 * - Errors are Vault's JSON body `{"errors":[…]}`; successes `{"request_id", "lease_id", "renewable",
 *   "lease_duration", "data", "wrap_info", "warnings", "auth"}`.
 * - Crypto: each key has its own random 256-bit secret; `vault:v1:` + base64(12-byte nonce ‖ AES-256-GCM
 *   ciphertext ‖ 16-byte tag), so a ciphertext of another key, server or a tampered one fails as in Vault.
 * Test knobs: {@link VaultServer.failNext} (answer the next n requests with a status and Vault error), `delayMs`
 * (answer that late, for timeouts), `requests` (what was asked: method, path, namespace, whether the token matched,
 * the batch size; never the token or the payloads).
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto"
import http from "node:http"
import https from "node:https"
import type { AddressInfo } from "node:net"
import { afterEach } from "vitest"
import { tlsMaterial } from "../../kube/apiserver/tls.js"

/** What the server saw of one request. */
export interface SeenRequest {
    method: string
    path: string
    namespace: string
    tokenOk: boolean
    /** Number of `batch_input` items; 0 for a single-item request. */
    batch: number
}

/** Options of {@link startVault}. */
export interface VaultOptions {
    token: string
    /** Transit mount paths per namespace (`""` is the root namespace). Default: `{ "": ["transit"] }`. */
    mounts?: Record<string, string[]>
    /** Serve HTTPS with the test CA's certificate for 127.0.0.1. */
    tls?: boolean
}

/** A running test Vault. */
export interface VaultServer {
    /** `http://127.0.0.1:PORT` or `https://…`. */
    readonly address: string
    readonly requests: SeenRequest[]
    /** Answer every request this late (ms); 0 = at once. */
    delayMs: number
    /** Answer the next `count` requests with `status` and Vault's error body. */
    failNext(status: number, message: string, count?: number): void
    /** The CA certificate (PEM) of an HTTPS server. */
    readonly caCert: string | undefined
    close(): Promise<void>
}

interface Key {
    versions: Buffer[]
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/

class VaultFailure extends Error {
    readonly status: number
    constructor(status: number, message: string) {
        super(message)
        this.status = status
    }
}

function seal(key: Key, plaintext: Buffer): string {
    const version = key.versions.length
    const nonce = randomBytes(12)
    const c = createCipheriv("aes-256-gcm", key.versions[version - 1], nonce)
    const body = Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()])
    return `vault:v${version}:${body.toString("base64")}`
}

function open(key: Key, ciphertext: string): Buffer {
    const m = /^vault:v(\d+):(.*)$/s.exec(ciphertext)
    if (m === null) throw new VaultFailure(400, "invalid ciphertext: no prefix")
    const secret = key.versions[Number(m[1]) - 1]
    if (secret === undefined) throw new VaultFailure(400, "invalid ciphertext: key version is disallowed by policy (minimum version is 1)")
    if (!B64.test(m[2]) || m[2].length % 4 !== 0) throw new VaultFailure(400, "invalid ciphertext: could not decode base64")
    const raw = Buffer.from(m[2], "base64")
    if (raw.length < 28) throw new VaultFailure(400, "invalid ciphertext: unable to decrypt")
    try {
        const d = createDecipheriv("aes-256-gcm", secret, raw.subarray(0, 12))
        d.setAuthTag(raw.subarray(raw.length - 16))
        return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()])
    } catch {
        throw new VaultFailure(400, "cipher: message authentication failed")
    }
}

/**
 * For a test file: a function that starts test Vaults accepting `token` (and any other options), each closed after
 * the test that started it.
 */
export function vaultsFor(token: string): (options?: Partial<VaultOptions>) => Promise<VaultServer> {
    const servers: VaultServer[] = []
    afterEach(async () => {
        await Promise.all(servers.splice(0).map((s) => s.close()))
    })
    return async (options = {}) => {
        const s = await startVault({ token, ...options })
        servers.push(s)
        return s
    }
}

/** Start a test Vault on 127.0.0.1 with a random port. */
export async function startVault(options: VaultOptions): Promise<VaultServer> {
    const mounts = options.mounts ?? { "": ["transit"] }
    const keys = new Map<string, Key>()
    const requests: SeenRequest[] = []
    const failures: { status: number; message: string }[] = []
    const material = options.tls ? tlsMaterial() : undefined

    const encryptOne = (keyPath: string, item: Record<string, unknown>): Record<string, unknown> => {
        const p = item.plaintext
        if (typeof p !== "string" || !B64.test(p) || p.length % 4 !== 0) throw new VaultFailure(400, "failed to decode plaintext as base64")
        let key = keys.get(keyPath)
        if (key === undefined) {
            key = { versions: [randomBytes(32)] }
            keys.set(keyPath, key)
        }
        return { ciphertext: seal(key, Buffer.from(p, "base64")), key_version: key.versions.length }
    }
    const decryptOne = (keyPath: string, item: Record<string, unknown>): Record<string, unknown> => {
        const key = keys.get(keyPath)
        if (key === undefined) throw new VaultFailure(400, "encryption key not found")
        if (typeof item.ciphertext !== "string") throw new VaultFailure(400, "missing ciphertext to decrypt")
        return { plaintext: open(key, item.ciphertext).toString("base64") }
    }

    const handle = (method: string, url: string, headers: http.IncomingHttpHeaders, body: string): { status: number; json: unknown } => {
        const namespace = String(headers["x-vault-namespace"] ?? "").replace(/^\/+|\/+$/g, "")
        const tokenOk = headers["x-vault-token"] === options.token
        let batchSize = 0
        try {
            const b = (JSON.parse(body) as { batch_input?: unknown }).batch_input
            if (Array.isArray(b)) batchSize = b.length
        } catch {
            // not JSON: refused below
        }
        requests.push({ method, path: url, namespace, tokenOk, batch: batchSize })
        const failure = failures.shift()
        if (failure !== undefined) throw new VaultFailure(failure.status, failure.message)
        if (!tokenOk) throw new VaultFailure(403, "permission denied")
        const route = url.replace(/\?.*$/, "")
        const m = /^\/v1\/(.+)\/(encrypt|decrypt)\/([^/]+)$/.exec(route)
        const mount = m?.[1]
        if (m === null || !(method === "POST" || method === "PUT") || !(mounts[namespace] ?? []).includes(mount ?? "")) {
            throw new VaultFailure(404, `no handler for route "${route.replace(/^\/v1\//, "")}". route entry not found.`)
        }
        let input: unknown
        try {
            input = JSON.parse(body)
        } catch {
            throw new VaultFailure(400, "failed to parse JSON input")
        }
        if (typeof input !== "object" || input === null || Array.isArray(input)) throw new VaultFailure(400, "failed to parse JSON input")
        const keyPath = `${namespace}|${mount}|${m[3]}`
        const one = m[2] === "encrypt" ? encryptOne : decryptOne
        const batch = (input as { batch_input?: unknown }).batch_input
        let data: unknown
        let status = 200
        if (batch !== undefined) {
            if (!Array.isArray(batch)) throw new VaultFailure(400, "failed to parse batch input")
            const results = batch.map((item) => {
                try {
                    return one(keyPath, item as Record<string, unknown>)
                } catch (e) {
                    return { error: (e as Error).message }
                }
            })
            if (results.some((r) => "error" in r)) status = 400
            data = { batch_results: results }
        } else data = one(keyPath, input as Record<string, unknown>)
        return {
            status,
            json: { request_id: randomUUID(), lease_id: "", renewable: false, lease_duration: 0, data, wrap_info: null, warnings: null, auth: null },
        }
    }

    const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
        const chunks: Buffer[] = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
            let out: { status: number; json: unknown }
            try {
                out = handle(req.method ?? "", req.url ?? "", req.headers, Buffer.concat(chunks).toString("utf8"))
            } catch (e) {
                if (!(e instanceof VaultFailure)) throw e
                out = { status: e.status, json: { errors: [e.message] } }
            }
            const send = () => {
                if (res.destroyed) return
                res.writeHead(out.status, { "Content-Type": "application/json", "Cache-Control": "no-store" })
                res.end(JSON.stringify(out.json))
            }
            if (server.delayMs > 0) setTimeout(send, server.delayMs).unref()
            else send()
        })
    }

    const http_ = material ? https.createServer({ cert: material.cert, key: material.key }, listener) : http.createServer(listener)
    await new Promise<void>((resolve) => http_.listen(0, "127.0.0.1", resolve))
    const port = (http_.address() as AddressInfo).port
    const server: VaultServer = {
        address: `${material ? "https" : "http"}://127.0.0.1:${port}`,
        requests,
        delayMs: 0,
        caCert: material?.caCert,
        failNext(status, message, count = 1) {
            for (let i = 0; i < count; i++) failures.push({ status, message })
        },
        close() {
            return new Promise<void>((resolve) => {
                http_.close(() => resolve())
                http_.closeAllConnections()
            })
        },
    }
    return server
}
