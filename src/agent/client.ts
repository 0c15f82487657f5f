/**
 * The agent client: one WebSocket over the agent's Unix socket, `agent/hello` with the token, then typed,
 * pipelined JSON-RPC calls with timeouts. {@link AgentKeyService} puts it behind the core's {@link KeyService}
 * interface, falling back to a local key service for entries the agent cannot unwrap (sops' key-service model:
 * services are tried in order).
 */
import WebSocket from "ws"
import type { KeyEntry, KeyService } from "../sops/keys.js"
import { encodeRequest, parseResponse } from "./codec.js"
import {
    AgentErrorCode,
    type AnyMethod,
    type ExportResult,
    type GenerateParams,
    type HelloResult,
    type ImportParams,
    type KeyInfo,
    type LockResult,
    MAX_REQUEST_BYTES,
    MAX_UNWRAP_ENTRIES,
    Methods,
    PROTOCOL_VERSION,
    type ParamsOf,
    type ResultOf,
    type StatusResult,
    type UnwrapResult,
    type WireError,
    type WireKeyEntry,
} from "./protocol.js"
import { AgentError, agentPaths, checkSocketDir, readTokenFile } from "./socket.js"

/** Options of {@link AgentClient.connect}. */
export interface AgentClientOptions {
    /** The token (default: read from the token file beside the socket). */
    token?: string
    /** Connect + hello timeout in ms (default 3 s). */
    connectTimeoutMs?: number
    /** Per-request timeout in ms (default 60 s; unwraps of many RSA entries take a while). */
    requestTimeoutMs?: number
    /** Client name sent in hello. */
    clientName?: string
}

interface Pending {
    resolve(v: unknown): void
    reject(e: Error): void
    timer: ReturnType<typeof setTimeout>
}

function remoteError(e: { code: number; message: string; data?: { hint?: string } }): AgentError {
    const reason = e.code === AgentErrorCode.Unauthorized || e.code === AgentErrorCode.UnsupportedVersion ? "unauthorized" : "remote"
    return new AgentError(reason, `agent: ${e.message}`, { code: e.code, hint: e.data?.hint })
}

/** A connected, authenticated agent client. Calls may be issued concurrently (pipelined). */
export class AgentClient {
    readonly socket: string
    /** The agent's hello answer. */
    hello: HelloResult | undefined
    readonly #ws: WebSocket
    readonly #pending = new Map<number, Pending>()
    readonly #requestTimeoutMs: number
    #nextId = 1
    #closedError: AgentError | undefined

    private constructor(socket: string, ws: WebSocket, requestTimeoutMs: number) {
        this.socket = socket
        this.#ws = ws
        this.#requestTimeoutMs = requestTimeoutMs
        ws.on("message", (data) => this.#onMessage(data as Buffer))
        ws.on("close", (code, reason) => {
            const why = reason.length > 0 ? reason.toString("utf8") : `code ${code}`
            this.#shutdown(new AgentError("closed", `agent connection closed (${why})`))
        })
        ws.on("error", (e) => this.#shutdown(new AgentError("closed", `agent connection failed: ${e.message}`, { cause: e })))
    }

    /**
     * Connect and authenticate.
     * @throws AgentError not-running (no socket, nobody listening, no token file), unauthorized (wrong token or
     *         version, no permission on the socket), timeout
     */
    static async connect(socket: string, options: AgentClientOptions = {}): Promise<AgentClient> {
        const token = options.token ?? readTokenFile(agentPaths(socket).token)
        const connectTimeoutMs = options.connectTimeoutMs ?? 3000
        const ws = await new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(`ws+unix:${socket}:/`, { perMessageDeflate: false, handshakeTimeout: connectTimeoutMs })
            ws.once("open", () => {
                ws.removeAllListeners("error")
                resolve(ws)
            })
            ws.once("error", (e: NodeJS.ErrnoException) => {
                ws.terminate()
                if (e.code === "ENOENT" || e.code === "ECONNREFUSED") {
                    reject(new AgentError("not-running", `no agent is running on ${socket}`, { cause: e, hint: "start it with `kubectl sops agent start`" }))
                } else if (e.code === "EACCES" || e.code === "EPERM") {
                    reject(new AgentError("unauthorized", `no permission to connect to the agent on ${socket}`, { cause: e }))
                } else reject(new AgentError("not-running", `cannot connect to the agent on ${socket}: ${e.message}`, { cause: e }))
            })
        })
        const client = new AgentClient(socket, ws, options.requestTimeoutMs ?? 60_000)
        try {
            client.hello = await client.#call(
                Methods.hello,
                { version: PROTOCOL_VERSION, token, ...(options.clientName ? { client: options.clientName } : {}) },
                connectTimeoutMs,
            )
        } catch (e) {
            client.close()
            if (e instanceof AgentError && e.reason === "closed") {
                throw new AgentError("unauthorized", `the agent on ${socket} refused the connection`, { cause: e })
            }
            throw e
        }
        return client
    }

    #onMessage(data: Buffer): void {
        const r = parseResponse(data)
        if (r === null || typeof r.id !== "number") return
        const p = this.#pending.get(r.id)
        if (p === undefined) return
        this.#pending.delete(r.id)
        clearTimeout(p.timer)
        if ("error" in r) p.reject(remoteError(r.error))
        else p.resolve(r.result)
    }

    #shutdown(e: AgentError): void {
        this.#closedError ??= e
        for (const p of this.#pending.values()) {
            clearTimeout(p.timer)
            p.reject(e)
        }
        this.#pending.clear()
    }

    #call<M extends AnyMethod>(m: M, params: ParamsOf<M>, timeoutMs = this.#requestTimeoutMs): Promise<ResultOf<M>> {
        if (this.#closedError !== undefined) return Promise.reject(this.#closedError)
        const id = this.#nextId++
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.#pending.delete(id)
                reject(new AgentError("timeout", `agent did not answer ${m.name} within ${timeoutMs} ms`))
            }, timeoutMs)
            this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
            this.#ws.send(encodeRequest(id, m.name, params), (e) => {
                if (e === undefined || e === null) return
                const p = this.#pending.get(id)
                if (p === undefined) return
                this.#pending.delete(id)
                clearTimeout(p.timer)
                reject(new AgentError("closed", `cannot send to the agent: ${e.message}`, { cause: e }))
            })
        })
    }

    /** Call any method (typed by its descriptor). */
    call<M extends AnyMethod>(m: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
        return this.#call(m, params)
    }

    /** `agent/status`. */
    status(): Promise<StatusResult> {
        return this.#call(Methods.status, {})
    }

    /** `agent/lock`. */
    lock(): Promise<LockResult> {
        return this.#call(Methods.lock, {})
    }

    /**
     * Before sending a passphrase or a private key: the socket's folder must be the user's and closed to group and
     * others (what the agent checks when it starts), or whoever could replace the socket would receive them.
     * @throws AgentError unsafe-folder
     */
    #checkSafeFolder(what: string): void {
        try {
            checkSocketDir(agentPaths(this.socket).dir)
        } catch (e) {
            if (!(e instanceof AgentError)) throw e
            throw new AgentError("unsafe-folder", `not sending ${what} to the agent: ${e.message}`, { hint: e.hint })
        }
    }

    /** `agent/unlock`: one key, or every locked key the passphrase opens. @returns ids unlocked */
    async unlock(passphrase: string, id?: string): Promise<string[]> {
        this.#checkSafeFolder("a passphrase")
        return (await this.#call(Methods.unlock, id === undefined ? { passphrase } : { id, passphrase })).unlocked
    }

    /** `agent/stop`. */
    async stop(): Promise<void> {
        await this.#call(Methods.stop, {})
    }

    /** `keys/list`. */
    async listKeys(): Promise<KeyInfo[]> {
        return (await this.#call(Methods.list, {})).keys
    }

    /** `keys/generate`. */
    async generateKey(params: GenerateParams): Promise<KeyInfo> {
        this.#checkSafeFolder(params.passphrase === undefined ? "a key request" : "a passphrase")
        return (await this.#call(Methods.generate, params)).key
    }

    /** `keys/import`. */
    async importKeys(params: ImportParams): Promise<KeyInfo[]> {
        this.#checkSafeFolder("a private key")
        return (await this.#call(Methods.import, params)).keys
    }

    /** `keys/export`. */
    exportKey(id: string, secret = false): Promise<ExportResult> {
        return this.#call(Methods.export, secret ? { id, secret } : { id })
    }

    /** `keys/remove`. */
    async removeKey(id: string): Promise<void> {
        await this.#call(Methods.remove, { id })
    }

    /** `datakey/unwrap` (one batch; see {@link AgentKeyService} for automatic batching). */
    async unwrap(entries: readonly KeyEntry[]): Promise<UnwrapResult[]> {
        return (await this.#call(Methods.unwrap, { entries: entries.map(toWire) })).results
    }

    /** Whether the connection is usable. */
    get connected(): boolean {
        return this.#closedError === undefined && this.#ws.readyState === WebSocket.OPEN
    }

    /**
     * Let the process exit while the connection is idle (the CLI's file commands keep it open without closing it).
     * A pending call still keeps the process alive through its timeout timer.
     */
    unref(): void {
        ;(this.#ws as unknown as { _socket?: { unref?: () => void } })._socket?.unref?.()
    }

    /** Close the connection (pending calls fail). */
    close(): void {
        this.#shutdown(new AgentError("closed", "agent connection closed by the client"))
        this.#ws.close()
    }
}

function toWire(e: KeyEntry): WireKeyEntry {
    const w: WireKeyEntry = { type: e.type, params: e.params as WireKeyEntry["params"], enc: e.enc }
    if (e.createdAt !== undefined) w.createdAt = e.createdAt
    return w
}

/** Rough size budget of one unwrap batch (below the agent's frame limit). */
const BATCH_BYTES = Math.floor(MAX_REQUEST_BYTES * 0.8)

/**
 * Entries per unwrap request. The agent answers a request when all its entries are done, so small requests
 * stream results back: with RSA-4096 PGP entries (~4.4 ms each) a bulk run gets each file's data key as soon as
 * it is ready, turns the file around and sends the next entry while the agent's workers are still busy, instead
 * of both sides taking turns. Requests are pipelined on one connection; a cached entry costs microseconds, so
 * the extra requests are cheap.
 */
const BATCH_ENTRIES = 4

interface Queued {
    entry: KeyEntry
    size: number
    resolve(r: UnwrapResult): void
    reject(e: Error): void
}

/**
 * A {@link KeyService} that unwraps through the agent and falls back to another service (usually the local
 * providers) for entries the agent cannot unwrap. Concurrent `decrypt` calls (e.g. many files in a bulk run)
 * are coalesced into batched `datakey/unwrap` requests. `encrypt` and `keyId` are the fallback's (public-key
 * operations need no agent).
 */
export class AgentKeyService implements KeyService {
    readonly #client: AgentClient
    readonly #fallback: KeyService
    #queue: Queued[] = []
    #scheduled = false

    constructor(client: AgentClient, fallback: KeyService) {
        this.#client = client
        this.#fallback = fallback
    }

    keyId(entry: KeyEntry): string {
        return this.#fallback.keyId(entry)
    }

    encrypt(entry: KeyEntry, part: Uint8Array): Promise<string> {
        return this.#fallback.encrypt(entry, part)
    }

    async decrypt(entry: KeyEntry): Promise<Uint8Array> {
        if (entry.type !== "age" && entry.type !== "pgp") return this.#fallback.decrypt(entry)
        let remote: WireError | undefined
        try {
            const r = await this.#enqueue(entry)
            if ("part" in r) return new Uint8Array(Buffer.from(r.part, "base64"))
            remote = r.error
        } catch {
            // the agent is unreachable or failed: the fallback decides
        }
        try {
            return await this.#fallback.decrypt(entry)
        } catch (e) {
            // a locked agent key is the more useful story when the fallback has nothing either
            if (remote?.code === AgentErrorCode.Locked) {
                throw new AgentError("remote", `agent: ${remote.message}`, { code: remote.code, hint: remote.data?.hint, cause: e })
            }
            throw e
        }
    }

    #enqueue(entry: KeyEntry): Promise<UnwrapResult> {
        return new Promise((resolve, reject) => {
            const size = entry.enc.length + 256
            this.#queue.push({ entry, size, resolve, reject })
            if (!this.#scheduled) {
                this.#scheduled = true
                setImmediate(() => this.#flush())
            }
        })
    }

    #flush(): void {
        this.#scheduled = false
        const queue = this.#queue
        this.#queue = []
        let i = 0
        while (i < queue.length) {
            const batch: Queued[] = []
            let bytes = 0
            while (i < queue.length && batch.length < Math.min(BATCH_ENTRIES, MAX_UNWRAP_ENTRIES) && (batch.length === 0 || bytes + queue[i].size <= BATCH_BYTES)) {
                bytes += queue[i].size
                batch.push(queue[i++])
            }
            this.#client.unwrap(batch.map((q) => q.entry)).then(
                (results) => {
                    batch.forEach((q, j) => {
                        const r = results[j]
                        if (r === undefined) q.reject(new AgentError("protocol", "agent: short unwrap answer"))
                        else q.resolve(r)
                    })
                },
                (e: Error) => {
                    for (const q of batch) q.reject(e)
                },
            )
        }
    }
}
