/**
 * Running the agent: {@link runDaemon} in this process (what `kubectl sops agent start --foreground` calls),
 * {@link spawnDaemon} to start it detached in the background (a child running the CLI's foreground command) and
 * wait until it answers, {@link stopDaemon}, and {@link connectOrSpawn} for commands that start the agent on first
 * need. No process.exit here: the CLI maps results and errors to exit codes.
 */
import { spawn } from "node:child_process"
import { closeSync, openSync } from "node:fs"
import { homedir } from "node:os"
import { Agent, DEFAULT_IDLE_TTL_MS, DEFAULT_MAX_TTL_MS } from "./agent.js"
import { AgentClient } from "./client.js"
import { type Keychain, openKeychain } from "./keychain.js"
import { type AgentServer, startAgentServer } from "./server.js"
import { AgentError, agentPaths, probeSocket, removeAgentFiles, resolveSocketPath, withStartLock } from "./socket.js"
import { RsaPool } from "./workers.js"

/** Options of {@link runDaemon}. */
export interface DaemonOptions {
    /** Socket path (default: {@link resolveSocketPath} from `env` and `homeDir`). */
    socket?: string
    /** Keychain spec (`--keychain`): undefined → Secret Service; `file:PATH`. Ignored when `keychain` is given. */
    keychainSpec?: string
    /** An opened keychain (tests). */
    keychain?: Keychain
    /** Asks for a file keychain's passphrase when the environment has none. */
    keychainPassphrase?: () => Promise<string>
    /** Idle TTL in ms (default 600 s). */
    idleTtlMs?: number
    /** Maximum TTL in ms (default 7200 s). */
    maxTtlMs?: number
    /** Environment snapshot (default process.env). */
    env?: Readonly<Record<string, string | undefined>>
    homeDir?: string
    cwd?: string
    /** RSA worker threads: a count, or 0 for the main thread (default: os.availableParallelism()). */
    workers?: number
    /** Reported by status and hello. */
    version?: string
    /** Log lines (never secrets). */
    log?: (line: string) => void
    /** scrypt work factor for new passphrase-protected age secrets (tests lower it). */
    scryptLogN?: number
    /** Handle SIGTERM/SIGINT (default true). */
    signals?: boolean
}

/** A daemon running in this process. */
export interface RunningDaemon {
    readonly server: AgentServer
    readonly socket: string
    readonly pid: number
    /** Resolves when the agent has stopped (signal, `agent/stop`, or {@link stop}). */
    readonly done: Promise<void>
    /** Stop it (idempotent). */
    stop(): Promise<void>
}

function socketOf(options: { socket?: string; env?: Readonly<Record<string, string | undefined>>; homeDir?: string; cwd?: string }): string {
    return options.socket ?? resolveSocketPath(options.env ?? process.env, options.homeDir ?? homedir(), options.cwd)
}

/**
 * Run the agent in this process until it is stopped: open the keychain, listen on the socket (refusing a live
 * agent, replacing a stale socket), handle SIGTERM/SIGINT (close cleanly, wipe, remove the socket).
 * @throws AgentError already-running / unsafe-folder / bad-path; KsopsError when the keychain cannot be opened
 */
export async function runDaemon(options: DaemonOptions = {}): Promise<RunningDaemon> {
    const socket = socketOf(options)
    const env = options.env ?? process.env
    const keychain =
        options.keychain ??
        (await openKeychain(options.keychainSpec, { env, cwd: options.cwd, passphrase: options.keychainPassphrase }))
    const size = options.workers
    const pool = size === 0 ? undefined : new RsaPool(size === undefined ? {} : { size })
    const agent = new Agent({
        keychain,
        idleTtlMs: options.idleTtlMs ?? DEFAULT_IDLE_TTL_MS,
        maxTtlMs: options.maxTtlMs ?? DEFAULT_MAX_TTL_MS,
        version: options.version,
        scryptLogN: options.scryptLogN,
        rsaDecrypt: pool === undefined ? undefined : (key, padded) => pool.decrypt(key.privateKey, padded),
    })
    agent.onLock = () => pool?.forgetKeys()
    agent.onKeyWiped = (k) => {
        if (pool !== undefined && k.material.kind === "pgp") for (const r of k.material.rsa) pool.forgetKey(r.privateKey)
    }
    let resolveDone!: () => void
    const done = new Promise<void>((r) => {
        resolveDone = r
    })
    let stopping: Promise<void> | undefined
    const stop = (): Promise<void> => {
        stopping ??= (async () => {
            removeSignals()
            await server.close()
            await pool?.close()
            options.log?.("agent stopped")
            resolveDone()
        })()
        return stopping
    }
    let server: AgentServer
    try {
        server = await startAgentServer({ agent, socket, log: options.log, onStop: () => void stop() })
    } catch (e) {
        agent.close()
        await pool?.close()
        throw e
    }
    const onSignal = (signal: NodeJS.Signals) => {
        options.log?.(`${signal}: stopping`)
        void stop()
    }
    const removeSignals = () => {
        process.off("SIGTERM", onSignal)
        process.off("SIGINT", onSignal)
    }
    if (options.signals !== false) {
        process.on("SIGTERM", onSignal)
        process.on("SIGINT", onSignal)
    }
    options.log?.(`agent listening on ${socket} (pid ${process.pid}, keychain ${keychain.description})`)
    // load the keys in the background so status shows them; failures surface on first use
    agent.preload().catch((e) => options.log?.(`keychain: ${(e as Error).message}`))
    return { server, socket, pid: process.pid, done, stop }
}

/** Options of {@link spawnDaemon}. */
export interface SpawnOptions {
    /** Socket path (default: resolved from `env`/`homeDir`); passed to the child as KUBECTL_SOPS_AGENT_SOCK. */
    socket?: string
    /**
     * The child's arguments after the Node executable, e.g. `[bin, "agent", "start", "--foreground", …flags]`
     * (the CLI builds this; the child must call {@link runDaemon}).
     */
    args: readonly string[]
    /** Node executable (default process.execPath). */
    execPath?: string
    env?: Readonly<Record<string, string | undefined>>
    homeDir?: string
    cwd?: string
    /** Append the child's stdout/stderr to this file (created 0600); default: discarded. */
    logFile?: string
    /** How long to wait for the agent to answer (default 10 s). */
    timeoutMs?: number
}

/**
 * Start the agent detached in the background and wait until it answers `agent/hello`.
 * @returns its pid and socket
 * @throws AgentError already-running when an agent answers there already; start-failed when the child exits or
 *         does not answer in time
 */
export async function spawnDaemon(options: SpawnOptions): Promise<{ pid: number; socket: string }> {
    const env = options.env ?? process.env
    const socket = socketOf({ ...options, env })
    if ((await probeSocket(socket)) === "live") {
        throw new AgentError("already-running", `an agent is already running on ${socket}`)
    }
    const fd = options.logFile === undefined ? undefined : openSync(options.logFile, "a", 0o600)
    const child = spawn(options.execPath ?? process.execPath, [...options.args], {
        detached: true,
        stdio: ["ignore", fd ?? "ignore", fd ?? "ignore"],
        env: { ...env, KUBECTL_SOPS_AGENT_SOCK: socket },
        cwd: options.cwd,
    })
    if (fd !== undefined) closeSync(fd)
    let exited: string | undefined
    child.once("exit", (code, signal) => {
        exited = signal === null ? `exit status ${code}` : `signal ${signal}`
    })
    child.once("error", (e) => {
        exited = e.message
    })
    child.unref()
    const deadline = Date.now() + (options.timeoutMs ?? 20_000)
    const hint = options.logFile === undefined ? "run `kubectl sops agent start --foreground` to see why" : `see ${options.logFile}`
    for (;;) {
        if (exited !== undefined) {
            // it lost the start lock's race to another agent started at the same moment: that one serves
            if ((await probeSocket(socket).catch(() => "absent")) === "live") {
                throw new AgentError("already-running", `an agent is already running on ${socket}`)
            }
            throw new AgentError("start-failed", `the agent did not start (${exited})`, { hint })
        }
        try {
            const c = await AgentClient.connect(socket, { connectTimeoutMs: 5000 })
            const pid = c.hello?.pid ?? child.pid ?? 0
            c.close()
            return { pid, socket }
        } catch (e) {
            // still starting (a busy machine, a slow keychain): keep trying until the deadline
            const retry = ["not-running", "unauthorized", "timeout", "closed"]
            if (!(e instanceof AgentError) || !retry.includes(e.reason)) throw e
        }
        if (Date.now() > deadline) {
            throw new AgentError("start-failed", `the agent did not answer on ${socket} within ${options.timeoutMs ?? 20_000} ms`, { hint })
        }
        await new Promise((r) => setTimeout(r, 50))
    }
}

/**
 * Stop the agent on a socket (`agent/stop`) and wait until its socket is gone.
 * @returns whether an agent was running (a stale socket is cleaned up and counts as not running)
 */
export async function stopDaemon(
    options: { socket?: string; env?: Readonly<Record<string, string | undefined>>; homeDir?: string; timeoutMs?: number } = {},
): Promise<{ wasRunning: boolean; pid?: number }> {
    const socket = socketOf(options)
    let client: AgentClient
    try {
        client = await AgentClient.connect(socket)
    } catch (e) {
        if (e instanceof AgentError && e.reason === "not-running") {
            // under the start lock: a stale socket is not removed while an agent starting now replaces it
            if ((await probeSocket(socket).catch(() => "absent")) === "stale") {
                await withStartLock(socket, async () => {
                    if ((await probeSocket(socket).catch(() => "absent")) === "stale") removeAgentFiles(agentPaths(socket))
                }).catch(() => {})
            }
            return { wasRunning: false }
        }
        throw e
    }
    const pid = client.hello?.pid
    try {
        await client.stop()
    } finally {
        client.close()
    }
    const deadline = Date.now() + (options.timeoutMs ?? 5000)
    while ((await probeSocket(socket).catch(() => "absent")) === "live") {
        if (Date.now() > deadline) throw new AgentError("timeout", `the agent on ${socket} did not stop`)
        await new Promise((r) => setTimeout(r, 25))
    }
    return { wasRunning: true, pid }
}

/**
 * Connect to the agent, starting it first when none runs (like gpg-agent). The caller decides whether to auto-start
 * (`--no-agent`, `KUBECTL_SOPS_NO_AGENT=1`).
 */
export async function connectOrSpawn(options: SpawnOptions): Promise<AgentClient> {
    const socket = socketOf({ ...options, env: options.env ?? process.env })
    try {
        return await AgentClient.connect(socket)
    } catch (e) {
        if (!(e instanceof AgentError) || e.reason !== "not-running") throw e
    }
    try {
        await spawnDaemon({ ...options, socket })
    } catch (e) {
        // another invocation may have started it at the same moment
        if (!(e instanceof AgentError) || e.reason !== "already-running") throw e
    }
    return AgentClient.connect(socket)
}
