/**
 * Where the agent's socket lives and how it is made safe: path resolution, a 0700 folder owned by the user, the
 * socket created 0600 under a umask (no chmod gap), stale-socket detection, the token and pid files beside it.
 */
import { randomBytes } from "node:crypto"
import { closeSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs"
import { connect, type Server } from "node:net"
import path from "node:path"
import { ErrorKind, KsopsError } from "../errors.js"

/** Why an agent operation failed, for callers that act on it (the CLI auto-starts on `not-running`). */
export type AgentErrorReason =
    | "not-running"
    | "already-running"
    | "unsafe-folder"
    | "bad-path"
    | "unauthorized"
    | "protocol"
    | "timeout"
    | "closed"
    | "remote"
    | "start-failed"

/** An agent error: a {@link KsopsError} with a machine-readable reason (and the JSON-RPC code for remote errors). */
export class AgentError extends KsopsError {
    readonly reason: AgentErrorReason
    /** JSON-RPC error code when the agent answered with an error. */
    readonly code: number | undefined

    constructor(reason: AgentErrorReason, message: string, options: { hint?: string; cause?: unknown; code?: number } = {}) {
        super(ErrorKind.Generic, message, options)
        this.reason = reason
        this.code = options.code
    }
}

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107

/** Name of the socket file in the default folders. */
export const SOCKET_NAME = "agent.sock"

/**
 * The socket path: `$KUBECTL_SOPS_AGENT_SOCK`, else `$XDG_RUNTIME_DIR/kubectl-sops/agent.sock`, else
 * `~/.kubectl-sops/agent.sock`. Relative paths are made absolute against `cwd`.
 */
export function resolveSocketPath(
    env: Readonly<Record<string, string | undefined>>,
    homeDir: string,
    cwd: string = process.cwd(),
): string {
    const explicit = env.KUBECTL_SOPS_AGENT_SOCK
    if (explicit !== undefined && explicit !== "") return path.resolve(cwd, explicit)
    const runtime = env.XDG_RUNTIME_DIR
    if (runtime !== undefined && runtime !== "" && path.isAbsolute(runtime)) {
        return path.join(runtime, "kubectl-sops", SOCKET_NAME)
    }
    return path.join(homeDir, ".kubectl-sops", SOCKET_NAME)
}

/** The files of one agent: its socket, and beside it the token, pid and start-lock files. */
export interface AgentPaths {
    socket: string
    dir: string
    token: string
    pid: string
    /** Held (created O_EXCL, holding the starter's pid) while an agent probes and binds the socket. */
    lock: string
}

/**
 * Paths of the files beside a socket: `agent.sock` → `agent.token`, `agent.pid`, `agent.lock` (other names:
 * `<name>.token`, …).
 */
export function agentPaths(socket: string): AgentPaths {
    const dir = path.dirname(socket)
    const base = path.basename(socket).replace(/\.sock$/, "")
    const beside = (ext: string) => path.join(dir, `${base}.${ext}`)
    return { socket, dir, token: beside("token"), pid: beside("pid"), lock: beside("lock") }
}

/** @throws AgentError bad-path when the path does not fit in a sockaddr_un. */
export function checkSocketPath(socket: string): void {
    const n = Buffer.byteLength(socket, "utf8")
    if (n > MAX_SOCKET_PATH_BYTES) {
        throw new AgentError(
            "bad-path",
            `agent socket path is ${n} bytes long, more than the ${MAX_SOCKET_PATH_BYTES} a Unix socket allows: ${socket}`,
            { hint: "set KUBECTL_SOPS_AGENT_SOCK to a shorter path" },
        )
    }
    if (socket.includes("\0")) throw new AgentError("bad-path", "agent socket path contains a NUL byte")
}

function currentUid(): number {
    return typeof process.getuid === "function" ? process.getuid() : 0
}

/**
 * Check that a folder is safe for the agent's files: a real directory (not a symlink), owned by this user, not
 * accessible to group or others. @throws AgentError unsafe-folder
 */
export function checkSocketDir(dir: string, uid = currentUid()): void {
    let st: ReturnType<typeof lstatSync>
    try {
        st = lstatSync(dir)
    } catch (e) {
        throw new AgentError("unsafe-folder", `agent folder ${dir} cannot be read: ${(e as Error).message}`, { cause: e })
    }
    if (!st.isDirectory()) {
        throw new AgentError("unsafe-folder", `agent folder ${dir} is not a directory (or is a symbolic link)`, {
            hint: "remove it, or set KUBECTL_SOPS_AGENT_SOCK elsewhere",
        })
    }
    if (st.uid !== uid) {
        throw new AgentError("unsafe-folder", `agent folder ${dir} is owned by uid ${st.uid}, not by you (uid ${uid})`, {
            hint: "use a folder you own, e.g. set KUBECTL_SOPS_AGENT_SOCK",
        })
    }
    if ((st.mode & 0o077) !== 0) {
        const mode = (st.mode & 0o777).toString(8).padStart(4, "0")
        throw new AgentError("unsafe-folder", `agent folder ${dir} has mode ${mode}; it must not be accessible to group or others`, {
            hint: `run: chmod 700 ${dir}`,
        })
    }
}

/** Create the socket folder (0700, parents too) if missing, then {@link checkSocketDir}. */
export function ensureSocketDir(dir: string, uid = currentUid()): void {
    try {
        mkdirSync(dir, { recursive: true, mode: 0o700 })
    } catch (e) {
        throw new AgentError("unsafe-folder", `cannot create agent folder ${dir}: ${(e as Error).message}`, { cause: e })
    }
    checkSocketDir(dir, uid)
}

/** State of a socket path: nothing there, a socket nobody listens on, or a live listener. */
export type SocketState = "absent" | "stale" | "live"

/**
 * Probe a socket path by connecting to it.
 * @throws AgentError bad-path when something other than a socket is in the way
 */
export async function probeSocket(socket: string, timeoutMs = 1000): Promise<SocketState> {
    let st: ReturnType<typeof lstatSync>
    try {
        st = lstatSync(socket)
    } catch {
        return "absent"
    }
    if (!st.isSocket()) {
        throw new AgentError("bad-path", `${socket} exists and is not a socket`, { hint: "remove it or choose another path" })
    }
    return new Promise((resolve) => {
        const s = connect(socket)
        const done = (state: SocketState) => {
            clearTimeout(timer)
            s.destroy()
            resolve(state)
        }
        // a listener that accepts nothing within the timeout is wedged; treat it as live (do not steal it)
        const timer = setTimeout(() => done("live"), timeoutMs)
        s.once("connect", () => done("live"))
        s.once("error", (e: NodeJS.ErrnoException) => done(e.code === "ENOENT" ? "absent" : "stale"))
    })
}

/**
 * Make the socket path ready to listen on: folder created and checked, a stale socket removed.
 * @throws AgentError already-running when an agent answers on it
 */
export async function prepareSocket(socket: string): Promise<void> {
    checkSocketPath(socket)
    const { dir } = agentPaths(socket)
    ensureSocketDir(dir)
    const state = await probeSocket(socket)
    if (state === "live") {
        throw new AgentError("already-running", `an agent is already running on ${socket}`, {
            hint: "use it, or stop it first with `kubectl sops agent stop`",
        })
    }
    if (state === "stale") unlinkSync(socket)
}

/** Whether a process runs (EPERM: it does, as another user). */
function processAlive(pid: number): boolean {
    if (pid === process.pid) return true
    try {
        process.kill(pid, 0)
        return true
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM"
    }
}

/** A lock file with no pid this long after it was created is left over from a crash. */
const EMPTY_LOCK_GRACE_MS = 5000

/** Options of {@link withStartLock}. */
export interface StartLockOptions {
    /** Give up after this long (default 15 s). */
    timeoutMs?: number
    /** Poll period while another process holds the lock (default 20 ms). */
    pollMs?: number
}

/** Try to take the lock once. @returns the release function, or undefined when another process holds it */
function tryLock(lock: string, stamp: string): (() => void) | undefined {
    let fd: number
    try {
        fd = openSync(lock, "wx", 0o600)
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined
        throw new AgentError("start-failed", `cannot create the agent start lock ${lock}: ${(e as Error).message}`, { cause: e })
    }
    try {
        writeSync(fd, stamp)
    } finally {
        closeSync(fd)
    }
    return () => {
        // only our own lock: a stale-lock breaker may have replaced it meanwhile
        try {
            if (readFileSync(lock, "utf8") === stamp) unlinkSync(lock)
        } catch {}
    }
}

/**
 * Remove the lock when its holder is gone (its pid does not run, or it never wrote one). Atomic against other
 * breakers: the lock is renamed away first, then put back if what was taken turns out to be a live one.
 */
function breakStaleLock(lock: string, now: number): void {
    let text: string
    let mtimeMs: number
    try {
        text = readFileSync(lock, "utf8")
        mtimeMs = statSync(lock).mtimeMs
    } catch {
        return // released meanwhile
    }
    const pid = Number.parseInt(text, 10)
    const stale = Number.isSafeInteger(pid) && pid > 0 ? !processAlive(pid) : now - mtimeMs > EMPTY_LOCK_GRACE_MS
    if (!stale) return
    const taken = `${lock}.${process.pid}.${randomBytes(4).toString("hex")}.stale`
    try {
        renameSync(lock, taken)
    } catch {
        return // another breaker was first
    }
    try {
        if (readFileSync(taken, "utf8") !== text) {
            // a live holder's lock was taken by mistake (it replaced the stale one in between): give it back
            try {
                linkSync(taken, lock)
            } catch {}
        }
    } finally {
        try {
            unlinkSync(taken)
        } catch {}
    }
}

/**
 * Run `run` while holding the socket's start lock (`agent.lock` beside it, created O_EXCL with our pid), so that
 * probing, removing a stale socket and binding are one step for concurrent starts: the second start finds the
 * first agent live. A lock whose process is gone is broken. The folder must have been checked before.
 * @throws AgentError start-failed when the lock stays held longer than the timeout
 */
export async function withStartLock<T>(socket: string, run: () => Promise<T>, options: StartLockOptions = {}): Promise<T> {
    const { lock } = agentPaths(socket)
    const stamp = `${process.pid} ${randomBytes(8).toString("hex")}\n`
    const timeoutMs = options.timeoutMs ?? 15_000
    const deadline = Date.now() + timeoutMs
    let release = tryLock(lock, stamp)
    while (release === undefined) {
        breakStaleLock(lock, Date.now())
        release = tryLock(lock, stamp)
        if (release !== undefined) break
        if (Date.now() > deadline) {
            throw new AgentError("start-failed", `another agent start has held ${lock} for more than ${timeoutMs} ms`, {
                hint: `if no agent is starting, remove ${lock}`,
            })
        }
        await new Promise((r) => setTimeout(r, options.pollMs ?? 20))
    }
    try {
        return await run()
    } finally {
        release()
    }
}

/**
 * `server.listen(socket)` with the umask set to 0177, so the socket is created 0600 with no chmod gap.
 * Resolves once listening.
 */
export function listenOnSocket(server: Server, socket: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const onError = (e: Error) => reject(e)
        server.once("error", onError)
        const old = process.umask(0o177)
        try {
            // the bind happens synchronously inside listen(); 'listening' is emitted later
            server.listen(socket, () => {
                server.off("error", onError)
                resolve()
            })
        } finally {
            process.umask(old)
        }
    })
}

/** Write a file exclusively with mode 0600 (a leftover is replaced). */
function writePrivateFile(file: string, text: string): void {
    try {
        unlinkSync(file)
    } catch {}
    const fd = openSync(file, "wx", 0o600)
    try {
        writeSync(fd, text)
    } finally {
        closeSync(fd)
    }
}

/** Create a fresh token (32 random bytes, hex) in a 0600 file. @returns the token */
export function writeTokenFile(file: string): string {
    const token = randomBytes(32).toString("hex")
    writePrivateFile(file, `${token}\n`)
    return token
}

/**
 * Read an agent's token file.
 * @throws AgentError not-running when it is missing; unauthorized when it cannot be read
 */
export function readTokenFile(file: string): string {
    let text: string
    try {
        text = readFileSync(file, "utf8")
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        if (code === "ENOENT") throw new AgentError("not-running", `no agent token file at ${file}`, { cause: e })
        throw new AgentError("unauthorized", `cannot read the agent token file ${file}: ${(e as Error).message}`, { cause: e })
    }
    const token = text.trim()
    if (!/^[0-9a-f]{64}$/.test(token)) throw new AgentError("unauthorized", `agent token file ${file} is malformed`)
    return token
}

/** Write the pid file (0600). */
export function writePidFile(file: string, pid: number = process.pid): void {
    writePrivateFile(file, `${pid}\n`)
}

/** Read a pid file. @returns the pid, or undefined when missing or malformed */
export function readPidFile(file: string): number | undefined {
    try {
        const n = Number.parseInt(readFileSync(file, "utf8").trim(), 10)
        return Number.isSafeInteger(n) && n > 0 ? n : undefined
    } catch {
        return undefined
    }
}

/** What identifies one agent's files: the socket's inode and the token it wrote. */
export interface AgentFilesOwner {
    socketIno: number
    token: string
}

/** The inode of the socket file (after listening), for {@link removeAgentFiles}. */
export function socketInode(socket: string): number {
    return lstatSync(socket).ino
}

/**
 * Remove the agent's files (socket, token, pid), ignoring missing ones. With `owner`, only files that are still
 * this agent's: a socket with another inode, or another token, belongs to an agent started since (left alone).
 */
export function removeAgentFiles(paths: AgentPaths, owner?: AgentFilesOwner): void {
    if (owner !== undefined) {
        let ours = false
        try {
            ours = lstatSync(paths.socket).ino === owner.socketIno
        } catch {}
        if (ours) unlinkQuiet(paths.socket)
        let tokenOurs = false
        try {
            tokenOurs = readFileSync(paths.token, "utf8").trim() === owner.token
        } catch {}
        if (tokenOurs) unlinkQuiet(paths.token)
        if (readPidFile(paths.pid) === process.pid) unlinkQuiet(paths.pid)
        return
    }
    for (const f of [paths.socket, paths.token, paths.pid]) unlinkQuiet(f)
}

function unlinkQuiet(file: string): void {
    try {
        unlinkSync(file)
    } catch {}
}
