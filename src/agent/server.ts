/**
 * The agent's server: an http.Server on the Unix socket with a WebSocketServer on it. Every connection must
 * first send `agent/hello` with the token (compared in constant time) and a supported protocol version; then each
 * JSON-RPC request is dispatched to the {@link Agent}. Malformed input gets JSON-RPC errors, never a crash;
 * frames over the size limit close the connection (WebSocket status 1009).
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { createServer, type Server as HttpServer } from "node:http"
import { type WebSocket, WebSocketServer } from "ws"
import type { Agent } from "./agent.js"
import { encodeError, encodeResult, parseRequest, type RequestId } from "./codec.js"
import {
    AgentErrorCode,
    AgentProtocolError,
    type Method,
    METHODS_BY_NAME,
    MAX_REQUEST_BYTES,
    Methods,
    PROTOCOL_VERSION,
    type StatusResult,
    SUPPORTED_PROTOCOL_VERSIONS,
    type UnwrapResult,
} from "./protocol.js"
import {
    AgentError,
    type AgentFilesOwner,
    type AgentPaths,
    agentPaths,
    checkSocketPath,
    ensureSocketDir,
    listenOnSocket,
    prepareSocket,
    removeAgentFiles,
    socketInode,
    withStartLock,
    writePidFile,
    writeTokenFile,
} from "./socket.js"

/** Options of {@link startAgentServer}. */
export interface AgentServerOptions {
    agent: Agent
    /** Socket path (already resolved). */
    socket: string
    /** Largest accepted frame in bytes (default {@link MAX_REQUEST_BYTES}). */
    maxPayload?: number
    /** Unauthenticated connections are closed after this many ms (default 10 s). */
    helloTimeoutMs?: number
    /** Log lines (never secrets). */
    log?: (line: string) => void
    /** Called when a client asks the agent to stop (after the reply is sent); default: close the server. */
    onStop?: () => void
}

/** WebSocket close codes used by the server. */
export const CloseCode = {
    Normal: 1000,
    GoingAway: 1001,
    PolicyViolation: 1008,
    TooBig: 1009,
} as const

function tokenDigest(t: string): Buffer {
    return createHash("sha256").update(t, "utf8").digest()
}

/** A running agent server. */
export class AgentServer {
    readonly paths: AgentPaths
    readonly agent: Agent
    readonly #http: HttpServer
    readonly #wss: WebSocketServer
    readonly #token: Buffer
    readonly #log: (line: string) => void
    readonly #helloTimeoutMs: number
    readonly #onStop: () => void
    readonly #clients = new Set<WebSocket>()
    readonly #owner: AgentFilesOwner
    #closing: Promise<void> | undefined

    /** @internal use {@link startAgentServer} */
    constructor(options: AgentServerOptions, http: HttpServer, wss: WebSocketServer, owner: AgentFilesOwner) {
        this.paths = agentPaths(options.socket)
        this.#owner = owner
        const token = owner.token
        this.agent = options.agent
        this.#http = http
        this.#wss = wss
        this.#token = tokenDigest(token)
        this.#log = options.log ?? (() => {})
        this.#helloTimeoutMs = options.helloTimeoutMs ?? 10_000
        this.#onStop = options.onStop ?? (() => void this.close())
        wss.on("connection", (ws) => this.#accept(ws))
    }

    /** Number of connected clients. */
    get clients(): number {
        return this.#clients.size
    }

    /** Whether {@link close} was called. */
    get closing(): boolean {
        return this.#closing !== undefined
    }

    #accept(ws: WebSocket): void {
        if (this.#closing !== undefined) {
            ws.close(CloseCode.GoingAway, "agent shutting down")
            return
        }
        this.#clients.add(ws)
        let authed = false
        const timer = setTimeout(() => {
            if (!authed) ws.close(CloseCode.PolicyViolation, "no hello")
        }, this.#helloTimeoutMs)
        timer.unref()
        ws.on("error", (e) => {
            // oversized frames (1009) and protocol violations land here; the socket is closed by ws
            this.#log(`client error: ${e.message}`)
        })
        ws.on("close", () => {
            clearTimeout(timer)
            this.#clients.delete(ws)
        })
        ws.on("message", (data, isBinary) => {
            const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
            void isBinary
            const parsed = parseRequest(buf)
            if (!parsed.ok) {
                this.#send(ws, JSON.stringify(parsed.response))
                if (!authed) ws.close(CloseCode.PolicyViolation, "hello expected")
                return
            }
            const { id, method, params } = parsed.request
            if (!authed) {
                if (method !== Methods.hello.name) {
                    this.#fail(ws, id, new AgentProtocolError(AgentErrorCode.Unauthorized, "unauthorized: send agent/hello with the token first"))
                    ws.close(CloseCode.PolicyViolation, "hello expected")
                    return
                }
                try {
                    const p = Methods.hello.parse(params)
                    if (!SUPPORTED_PROTOCOL_VERSIONS.includes(p.version)) {
                        throw new AgentProtocolError(
                            AgentErrorCode.UnsupportedVersion,
                            `protocol version ${p.version} is not supported (this agent speaks ${SUPPORTED_PROTOCOL_VERSIONS.join(", ")})`,
                            "restart the agent with the same kubectl-sops version as the client",
                        )
                    }
                    if (!timingSafeEqual(tokenDigest(p.token), this.#token)) {
                        throw new AgentProtocolError(AgentErrorCode.Unauthorized, "unauthorized: wrong agent token")
                    }
                } catch (e) {
                    this.#fail(ws, id, e)
                    ws.close(CloseCode.PolicyViolation, "hello refused")
                    return
                }
                authed = true
                clearTimeout(timer)
                this.#send(ws, encodeResult(id, { protocol: PROTOCOL_VERSION, agentVersion: this.agent.version, pid: process.pid }))
                return
            }
            this.#dispatch(ws, id, method, params).catch((e) => this.#fail(ws, id, e))
        })
    }

    #send(ws: WebSocket, text: string): void {
        if (ws.readyState === ws.OPEN) ws.send(text)
    }

    #fail(ws: WebSocket, id: RequestId | null, e: unknown): void {
        let wire: AgentProtocolError
        if (e instanceof AgentProtocolError) wire = e
        else {
            this.#log(`internal error: ${(e as Error)?.message ?? String(e)}`)
            wire = new AgentProtocolError(AgentErrorCode.InternalError, `internal error: ${(e as Error)?.message ?? String(e)}`)
        }
        this.#send(ws, encodeError(id, wire.toWire()))
    }

    async #dispatch(ws: WebSocket, id: RequestId, name: string, rawParams: unknown): Promise<void> {
        const m = METHODS_BY_NAME.get(name)
        if (m === undefined) {
            throw new AgentProtocolError(AgentErrorCode.MethodNotFound, `method not found: ${name}`)
        }
        if (this.#closing !== undefined) throw new AgentProtocolError(AgentErrorCode.ShuttingDown, "the agent is shutting down")
        const result = await this.#handle(m, m.parse(rawParams))
        this.#send(ws, encodeResult(id, result))
        if (m === Methods.stop) setImmediate(() => this.#onStop())
    }

    async #handle(m: Method<unknown, unknown>, p: unknown): Promise<unknown> {
        const agent = this.agent
        switch (m) {
            case Methods.hello:
                return { protocol: PROTOCOL_VERSION, agentVersion: agent.version, pid: process.pid }
            case Methods.status:
                return this.status()
            case Methods.lock:
                return agent.lock()
            case Methods.unlock: {
                const q = p as ReturnType<typeof Methods.unlock.parse>
                return { unlocked: await agent.unlock(q.id, q.passphrase) }
            }
            case Methods.stop:
                return { stopping: true }
            case Methods.list:
                return { keys: await agent.listKeys() }
            case Methods.generate:
                return { key: await agent.generate(p as ReturnType<typeof Methods.generate.parse>) }
            case Methods.import:
                return { keys: await agent.importKeys(p as ReturnType<typeof Methods.import.parse>) }
            case Methods.export: {
                const q = p as ReturnType<typeof Methods.export.parse>
                return agent.exportKey(q.id, q.secret === true)
            }
            case Methods.remove:
                await agent.removeKey((p as { id: string }).id)
                return { removed: true }
            case Methods.unwrap: {
                const q = p as ReturnType<typeof Methods.unwrap.parse>
                const outcomes = await agent.unwrap(q.entries)
                const results: UnwrapResult[] = outcomes.map((o) => {
                    if ("error" in o) return { error: o.error.toWire() }
                    const part = Buffer.from(o.part.buffer, o.part.byteOffset, o.part.byteLength).toString("base64")
                    o.part.fill(0)
                    return { part }
                })
                return { results }
            }
        }
        throw new AgentProtocolError(AgentErrorCode.MethodNotFound, `method not found: ${m.name}`)
    }

    /** The full status (agent counters plus pid, socket, clients). */
    status(): StatusResult {
        return { ...this.agent.status(), pid: process.pid, socket: this.paths.socket, clients: this.#clients.size }
    }

    /**
     * Stop: refuse new connections, close clients, wipe the agent's caches, remove the socket, token and pid files.
     * Idempotent.
     */
    close(): Promise<void> {
        this.#closing ??= (async () => {
            for (const ws of this.#clients) ws.close(CloseCode.GoingAway, "agent stopping")
            const httpClosed = new Promise<void>((resolve) => this.#http.close(() => resolve()))
            await new Promise<void>((resolve) => this.#wss.close(() => resolve()))
            // clients that do not answer the close handshake promptly are cut
            const cut = setTimeout(() => {
                for (const ws of this.#clients) ws.terminate()
                this.#http.closeAllConnections()
            }, 500)
            this.agent.close()
            removeAgentFiles(this.paths, this.#owner) // only if still ours
            await httpClosed
            clearTimeout(cut)
        })()
        return this.#closing
    }
}

/**
 * Start an agent server: check and prepare the socket folder (refusing a live agent), write the token file, listen
 * (socket created 0600), write the pid file.
 * @throws AgentError already-running / unsafe-folder / bad-path
 */
export async function startAgentServer(options: AgentServerOptions): Promise<AgentServer> {
    const paths = agentPaths(options.socket)
    checkSocketPath(paths.socket)
    ensureSocketDir(paths.dir)
    // probe, stale-socket removal and bind under the start lock: of concurrent starts, one binds, the others
    // then find it live
    return withStartLock(paths.socket, async () => {
        await prepareSocket(paths.socket)
        const http = createServer((_req, res) => {
            res.writeHead(426, { "content-type": "text/plain" })
            res.end("kubectl-sops agent: WebSocket only\n")
        })
        http.on("clientError", (_e, socket) => socket.destroy())
        const wss = new WebSocketServer({ server: http, maxPayload: options.maxPayload ?? MAX_REQUEST_BYTES, perMessageDeflate: false })
        wss.on("error", () => {})
        try {
            await listenOnSocket(http, paths.socket)
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") {
                throw new AgentError("already-running", `an agent is already running on ${paths.socket}`, { cause: e })
            }
            throw e
        }
        // the socket is ours now: the token and pid files beside it are too
        const token = writeTokenFile(paths.token)
        writePidFile(paths.pid)
        return new AgentServer(options, http, wss, { socketIno: socketInode(paths.socket), token })
    })
}
