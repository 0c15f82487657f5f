/**
 * `kubectl sops exec-env FILE COMMAND` and `kubectl sops exec-file FILE COMMAND`: decrypt a file and run
 * `/bin/sh -c COMMAND` with the plaintext in its environment or in a private temporary FIFO/file, as sops does.
 *
 * Differences from sops, all forced by Node (which cannot `exec(2)` or `setgroups(2)` a child to a list):
 * - `--same-process` runs the command as a child with the terminal attached and exits with its status
 *   (sops replaces its own process). Signals are forwarded, so the result is the same for the caller.
 * - `--user` starts the child with the user's uid and primary gid; supplementary groups are dropped (sops sets the
 *   user's groups). The temp folder of `exec-file` is handed to that user.
 * - A command killed by a signal makes kubectl-sops exit 128+signal, like a shell (sops exits 255).
 * - `exec-file --background` is deprecated in sops and removes the temp file before the command can read it;
 *   kubectl-sops warns and runs the command in the foreground instead, so the file exists while it runs.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomInt } from "node:crypto"
import { chownSync, closeSync, constants, fchmodSync, mkdtempSync, open, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { Socket } from "node:net"
import { constants as osConstants, tmpdir } from "node:os"
import path from "node:path"
import { ErrorKind, KsopsError, UsageError } from "../../errors.js"
import { Branch, Comment, type TreeValue } from "../../sops/tree.js"
import { valToString } from "../../stores/text.js"
import { createRuntime, fileOptions, loadDecrypted, type DecryptedFile } from "../file-ops.js"
import { configFlags, decryptionFlags, formatFlags } from "../flags.js"
import { readInput } from "../io.js"
import { shellQuote } from "./agent-support.js"
import type { CommandIo, CommandSpec, FlagSpec, ParsedFlags } from "../spec.js"

/** sops' name of the temporary file (a FIFO, or the prefix of a regular temp file). */
export const FALLBACK_FILENAME = "tmp-file"

/** Signals forwarded to the running command. */
const FORWARDED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"]

/** The account `--user` names: ids for spawn and the variables sops sets for it. */
export interface TargetUser {
    uid: number
    gid: number
    name: string
    home: string
}

function idOf(args: string[], user: string): string {
    const r = spawnSync("id", [...args, user], { encoding: "utf8" })
    if (r.error !== undefined || r.status !== 0) {
        throw new KsopsError(ErrorKind.Generic, `user: unknown user ${user}`, {
            hint: r.stderr?.trim() || "check the name given to --user",
        })
    }
    return r.stdout.trim()
}

function homeOf(uid: number): string {
    const fromPasswd = (text: string) => {
        for (const line of text.split("\n")) {
            const fields = line.split(":")
            if (fields.length >= 7 && fields[2] === String(uid)) return fields[5]
        }
        return undefined
    }
    const r = spawnSync("getent", ["passwd", String(uid)], { encoding: "utf8" })
    if (r.status === 0) {
        const home = fromPasswd(r.stdout)
        if (home !== undefined) return home
    }
    try {
        return fromPasswd(readFileSync("/etc/passwd", "utf8")) ?? "/"
    } catch {
        return "/"
    }
}

/**
 * Look up `--user`: uid and gid from `id -u`/`id -g`, the name from `id -un`, the home folder from the passwd
 * database. Switching users needs root, as in sops.
 * @throws KsopsError Generic (1) for an unknown user or when not running as root
 */
export function lookupUser(user: string): TargetUser {
    const uid = Number(idOf(["-u"], user))
    const gid = Number(idOf(["-g"], user))
    const name = idOf(["-un"], user)
    const me = process.getuid?.() ?? -1
    if (me !== 0 && me !== uid) {
        throw new KsopsError(ErrorKind.Generic, `cannot run the command as user ${user}: operation not permitted`, {
            hint: "--user needs root",
        })
    }
    return { uid, gid, name, home: homeOf(uid) }
}

/** The variables sops sets for `--user`. */
function userEnv(user: TargetUser | undefined): Record<string, string> {
    return user === undefined ? {} : { HOME: user.home, USER: user.name, LOGNAME: user.name }
}

/**
 * The one list of inherited variables that hold keys or open them: private keys and where to find them,
 * passphrases, cloud and Vault credentials, the agent's socket and token. A command run as another user
 * (`--user`) gets none of them; the file's own values are added afterwards and are kept.
 */
export const KEY_VARIABLES: readonly (string | RegExp)[] = [
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    /^SOPS_AGE_SSH_PRIVATE_KEY_/,
    // KUBECTL_SOPS_AGE_PASSPHRASE, KUBECTL_SOPS_PGP_PASSPHRASE, KUBECTL_SOPS_KEYCHAIN_PASSPHRASE, …
    /_PASSPHRASE$/,
    // KUBECTL_SOPS_PGP_KEY_FILE, KUBECTL_SOPS_KEYCHAIN, KUBECTL_SOPS_KEYCHAIN_SERVICE, …
    /^KUBECTL_SOPS_.*KEY/,
    // KUBECTL_SOPS_AGENT_SOCK and any other agent socket or token variable
    /^KUBECTL_SOPS_AGENT_/,
    "GNUPGHOME",
    "VAULT_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CREDENTIALS",
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
]

/** Whether `name` is one of {@link KEY_VARIABLES}. */
export function isKeyVariable(name: string): boolean {
    return KEY_VARIABLES.some((v) => (typeof v === "string" ? v === name : v.test(name)))
}

/** The inherited environment for the command: all of it, or without {@link KEY_VARIABLES} for `--user`. */
function inheritedEnv(env: CommandIo["env"], user: TargetUser | undefined): Record<string, string> {
    const out = definedEnv(env)
    if (user !== undefined) for (const name of Object.keys(out)) if (isKeyVariable(name)) delete out[name]
    return out
}

/**
 * The environment variables `exec-env` adds: the first document's top-level values, strings as they are and
 * other scalars as dotenv prints them (sops `ValToString`). Comments are skipped.
 * @throws KsopsError Generic (1), with sops' message, for a map or list value or a key containing `=`
 */
export function envFromTree(branch: Branch | undefined): [string, string][] {
    const out: [string, string][] = []
    for (const item of branch?.items ?? []) {
        if (item.value instanceof Branch || Array.isArray(item.value)) {
            throw new KsopsError(ErrorKind.Generic, `cannot use complex value in environment; offending key ${keyText(item.key)}`, {
                hint: "exec-env takes flat files (dotenv, or YAML/JSON/INI without nested values); use exec-file for the others",
            })
        }
        if (item.key instanceof Comment) continue
        if (item.key.includes("=")) throw new KsopsError(ErrorKind.Generic, `cannot use keys with '=' in environment: ${item.key}`)
        const value = scalarText(item.value)
        if (item.key.includes("\u0000") || value.includes("\u0000")) {
            throw new KsopsError(ErrorKind.Generic, `cannot use NUL characters in environment; offending key ${item.key.replaceAll("\u0000", "\\0")}`)
        }
        out.push([item.key, value])
    }
    return out
}

function keyText(key: string | Comment): string {
    return key instanceof Comment ? `{${key.value}}` : key
}

function scalarText(v: TreeValue): string {
    if (typeof v === "string") return v
    if (v instanceof Uint8Array) return Buffer.from(v).toString("latin1")
    return valToString(v)
}

/** Go's text for a signal (`signal: terminated`), which sops prints when the command is killed. */
const GO_SIGNAL_NAMES: Readonly<Record<string, string>> = {
    SIGHUP: "hangup",
    SIGINT: "interrupt",
    SIGQUIT: "quit",
    SIGILL: "illegal instruction",
    SIGTRAP: "trace/breakpoint trap",
    SIGABRT: "aborted",
    SIGBUS: "bus error",
    SIGFPE: "floating point exception",
    SIGKILL: "killed",
    SIGUSR1: "user defined signal 1",
    SIGSEGV: "segmentation fault",
    SIGUSR2: "user defined signal 2",
    SIGPIPE: "broken pipe",
    SIGALRM: "alarm clock",
    SIGTERM: "terminated",
}

/** How the command ended. */
interface Ended {
    code: number | null
    signal: NodeJS.Signals | null
}

/**
 * The exit status for how the command ended: its status, or 128+signal. Unless `quiet` (`--same-process`, where
 * sops is the command), prints sops' line for a failure (`exit status 3`, `signal: killed`).
 */
function statusOf(ended: Ended, io: CommandIo, quiet: boolean): number {
    if (ended.signal !== null) {
        if (!quiet) io.stderr.write(`signal: ${GO_SIGNAL_NAMES[ended.signal] ?? ended.signal}\n`)
        return 128 + (osConstants.signals[ended.signal] ?? 0)
    }
    const code = ended.code ?? 1
    if (code !== 0 && !quiet) io.stderr.write(`exit status ${code}\n`)
    return code
}

/** Options of {@link runShell}. */
interface ShellOptions {
    command: string
    env: Record<string, string>
    user: TargetUser | undefined
    background: boolean
    /** Called once the child exists (it may already have exited). */
    started?: (child: ChildProcess) => void
}

/**
 * Run `/bin/sh -c command` with the terminal attached; SIGINT/SIGTERM/SIGHUP received meanwhile are forwarded to
 * it. With `background`, start it with stdin/stdout/stderr on /dev/null and do not wait (sops `cmd.Start`).
 * @returns how it ended, or undefined for a background command.
 */
function runShell(opts: ShellOptions): Promise<Ended | undefined> {
    return new Promise((resolve, reject) => {
        let child: ChildProcess | undefined
        // Listen before spawning: the command may print (and the user or a test react) before spawn() returns here.
        // A signal that arrives before the child exists is forwarded as soon as it does.
        let early: NodeJS.Signals | undefined
        const forward = (signal: NodeJS.Signals) => {
            if (child === undefined) early = signal
            else if (child.exitCode === null && child.signalCode === null) child.kill(signal)
        }
        const done = () => {
            for (const s of FORWARDED) process.off(s, forward)
        }
        if (!opts.background) for (const s of FORWARDED) process.on(s, forward)
        const switchIds = opts.user !== undefined && (opts.user.uid !== process.getuid?.() || opts.user.gid !== process.getgid?.())
        try {
            child = spawn("/bin/sh", ["-c", opts.command], {
                env: opts.env,
                stdio: opts.background ? "ignore" : "inherit",
                ...(switchIds && opts.user !== undefined ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
            })
        } catch (error) {
            done()
            reject(new KsopsError(ErrorKind.Generic, `fork/exec /bin/sh: ${error instanceof Error ? error.message : String(error)}`, { cause: error }))
            return
        }
        const started = child
        if (opts.background) {
            started.once("error", (error) => reject(new KsopsError(ErrorKind.Generic, `fork/exec /bin/sh: ${error.message}`, { cause: error })))
            started.once("spawn", () => {
                started.unref()
                resolve(undefined)
            })
            return
        }
        started.once("error", (error) => {
            done()
            reject(new KsopsError(ErrorKind.Generic, `fork/exec /bin/sh: ${error.message}`, { cause: error }))
        })
        started.once("exit", (code, signal) => {
            done()
            resolve({ code, signal })
        })
        if (early !== undefined) forward(early)
        opts.started?.(started)
    })
}

/** Decrypt FILE with the decrypt options (the shared runtime: local keys, or the agent when configured). */
async function decryptFile(io: CommandIo, file: string, flags: ParsedFlags): Promise<DecryptedFile> {
    const rt = createRuntime(io, { noAgent: flags["no-agent"] === true })
    const input = await readInput(file, () => io.stdin, io.cwd)
    const decrypted = await loadDecrypted(rt, input, file, {
        ...fileOptions(flags, file),
        ignoreMac: flags["ignore-mac"] === true,
        keepIvs: false,
        ...(flags["decryption-order"] === undefined ? {} : { decryptionOrder: flags["decryption-order"] as string }),
    })
    decrypted.dataKey.fill(0)
    return decrypted
}

function backgroundWarning(id: string, io: CommandIo): void {
    io.stderr.write(`warning: ${id}'s --background option is deprecated and will be removed in a future version of sops\n`)
}

const commonFlags = {
    config: configFlags.config,
    "input-type": formatFlags["input-type"],
    ...decryptionFlags,
    user: { type: "string", summary: "Run the command as this user (needs root), without the variables that hold keys" },
} as const satisfies Record<string, FlagSpec>

const ARGS = [
    { name: "file", summary: "Encrypted file to decrypt", required: true },
    { name: "command", summary: "Command for /bin/sh -c", required: true },
] as const

/** The exec-env command. */
export const execEnv: CommandSpec = {
    id: "exec-env",
    summary: "Run a command with the decrypted values in its environment",
    description:
        "Decrypts FILE and runs COMMAND with /bin/sh -c, adding each top-level value as an environment variable (strings as they are, numbers and booleans as dotenv prints them). Nested maps and lists, and keys containing '=', are refused. --pristine passes only those variables. Exits with the command's status (128+N when it is killed by signal N); SIGINT, SIGTERM and SIGHUP are forwarded to it. --same-process behaves the same here: Node cannot replace its own process, so the command runs as a child with the terminal attached.",
    examples: [
        { description: "Print one decrypted value", command: "kubectl sops exec-env app.env 'echo \"$DB_USER\"'" },
        { description: "Run with only the decrypted variables", command: "kubectl sops exec-env --pristine app.env 'env | wc -l'" },
    ],
    flags: {
        ...commonFlags,
        pristine: { type: "boolean", summary: "Pass only the decrypted values, not the current environment" },
        background: { type: "boolean", summary: "Start the command and return at once, its output discarded (deprecated in sops)" },
        "same-process": { type: "boolean", summary: "Run the command in the foreground without sops' exit status line" },
    },
    args: ARGS,
    async run(parsed, io) {
        const [file, command] = parsed.argv as [string, string]
        const flags = parsed.flags
        const background = flags.background === true
        const sameProcess = flags["same-process"] === true
        if (background) {
            backgroundWarning("exec-env", io)
            if (sameProcess) {
                throw new UsageError("Error: The --same-process flag cannot be used with --background", { kind: ErrorKind.ConflictingParameters })
            }
        }
        const user = typeof flags.user === "string" && flags.user !== "" ? lookupUser(flags.user) : undefined
        const decrypted = await decryptFile(io, file, flags)
        const values = envFromTree(decrypted.branches[0])
        const env: Record<string, string> = flags.pristine === true ? {} : inheritedEnv(io.env, user)
        Object.assign(env, userEnv(user))
        for (const [k, v] of values) env[k] = v
        const ended = await runShell({ command, env, user, background })
        return ended === undefined ? 0 : statusOf(ended, io, sameProcess)
    },
}

function definedEnv(env: CommandIo["env"]): Record<string, string> {
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
    return out
}

/**
 * Check `--filename` like sops (`filepath.IsLocal`): relative and not leaving the folder.
 * @throws KsopsError Generic (1) "The provided filename is not a local path."
 */
export function checkLocalName(name: string): void {
    const normalized = path.posix.normalize(name)
    if (path.isAbsolute(name) || normalized === ".." || normalized.startsWith("../")) {
        throw new KsopsError(ErrorKind.Generic, "The provided filename is not a local path.")
    }
}

/** A writer that hands the plaintext to the first reader of a FIFO, once, without blocking the event loop. */
interface FifoFeed {
    /** Settles when the plaintext is written, the reader went away, or {@link FifoFeed.stop} was called. */
    readonly done: Promise<void>
    /** Give up: unblock a pending open and drop what is left. */
    stop(): void
}

/**
 * Start feeding `data` into the FIFO `fifo`. Opening a FIFO for writing waits for a reader, so the open runs in
 * the thread pool; once open, the descriptor is handed to a libuv pipe (non-blocking writes on the event loop).
 */
function feedFifo(fifo: string, data: Uint8Array): FifoFeed {
    let opened = false
    let stopped = false
    let socket: Socket | undefined
    let unblocker: number | undefined
    let finish: () => void = () => {}
    const done = new Promise<void>((resolve) => {
        finish = () => {
            if (unblocker !== undefined) {
                closeSync(unblocker)
                unblocker = undefined
            }
            resolve()
        }
    })
    open(fifo, constants.O_WRONLY, (error, fd) => {
        opened = true
        if (error) {
            finish()
            return
        }
        if (stopped) {
            closeSync(fd)
            finish()
            return
        }
        const s = new Socket({ fd, readable: false, writable: true })
        socket = s
        s.on("error", () => s.destroy())
        s.on("close", finish)
        s.end(data)
    })
    return {
        done,
        stop() {
            if (stopped) return
            stopped = true
            if (!opened) {
                // The open is still waiting for a reader: become one (without blocking) so that it returns.
                try {
                    unblocker = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
                } catch {
                    finish()
                }
            } else socket?.destroy()
        },
    }
}

/** Make the temp file: a FIFO (default) or a 0600 regular file holding the plaintext. */
function makeTempFile(dir: string, flags: ParsedFlags, plaintext: Uint8Array, user: TargetUser | undefined): { file: string; feed?: FifoFeed } {
    const name = typeof flags.filename === "string" && flags.filename !== "" ? flags.filename : undefined
    if (flags["no-fifo"] !== true) {
        const file = path.join(dir, name ?? FALLBACK_FILENAME)
        const r = spawnSync("mkfifo", ["-m", "600", file], { encoding: "utf8" })
        if (r.error !== undefined || r.status !== 0) {
            throw new KsopsError(ErrorKind.Generic, `could not create a FIFO in ${dir}: ${r.error?.message ?? r.stderr.trim()}`, {
                hint: "use --no-fifo for a regular temp file",
            })
        }
        if (user !== undefined) chownSync(file, user.uid, user.gid)
        return { file, feed: feedFifo(file, plaintext) }
    }
    const file = path.join(dir, name ?? `${FALLBACK_FILENAME}${randomInt(0, 2 ** 32 - 1)}`)
    let fd: number
    try {
        fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
    } catch (error) {
        throw new KsopsError(ErrorKind.Generic, `could not create ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
    try {
        fchmodSync(fd, 0o600)
        let offset = 0
        while (offset < plaintext.length) offset += writeSync(fd, plaintext, offset, plaintext.length - offset)
    } finally {
        closeSync(fd)
    }
    if (user !== undefined) chownSync(file, user.uid, user.gid)
    return { file }
}

/** The exec-file command. */
export const execFile: CommandSpec = {
    id: "exec-file",
    summary: "Run a command with the decrypted file in a private temporary FIFO or file",
    description:
        "Decrypts FILE and runs COMMAND with /bin/sh -c, where each {} is replaced by the path (quoted for the shell) of the plaintext inside a private 0700 temp folder. By default the path is a FIFO that receives the plaintext once, while the command reads it, so the plaintext never touches the disk; --no-fifo writes a regular 0600 file instead (for commands that read the file twice or seek in it). --filename sets the name inside the folder (default tmp-file), --output-type the format of the plaintext. The folder is removed when the command ends, fails or is interrupted (SIGINT, SIGTERM and SIGHUP are forwarded to it). Exits with the command's status (128+N when it is killed by signal N).",
    examples: [
        { description: "Print the plaintext through the FIFO", command: "kubectl sops exec-file secret.yaml 'cat {}'" },
        { description: "Use a regular temp file as JSON", command: "kubectl sops exec-file --no-fifo --output-type json secret.yaml 'wc -c {}'" },
    ],
    flags: {
        ...commonFlags,
        indent: configFlags.indent,
        "output-type": formatFlags["output-type"],
        "no-fifo": { type: "boolean", summary: "Use a regular 0600 temp file instead of a FIFO" },
        filename: { type: "string", summary: `Name of the temp file inside the private folder (default ${FALLBACK_FILENAME})` },
        background: { type: "boolean", hidden: true, summary: "Deprecated in sops; the command runs in the foreground here" },
    },
    args: ARGS,
    async run(parsed, io) {
        const [file, command] = parsed.argv as [string, string]
        const flags = parsed.flags
        if (typeof flags.filename === "string" && flags.filename !== "") checkLocalName(flags.filename)
        if (flags.background === true) {
            backgroundWarning("exec-file", io)
            io.stderr.write("warning: kubectl-sops runs exec-file in the foreground: the temp file must outlive the command\n")
        }
        const user = typeof flags.user === "string" && flags.user !== "" ? lookupUser(flags.user) : undefined
        const decrypted = await decryptFile(io, file, flags)
        const plaintext = decrypted.resolved.output.emitPlain(decrypted.branches)
        const env = inheritedEnv(io.env, user)
        Object.assign(env, userEnv(user))
        // Everything from here to the spawn is synchronous, so a signal is handled only once the child exists
        // (and is forwarded to it); the folder is removed in `finally` on every path.
        const dir = mkdtempSync(path.join(tmpdir(), ".sops"))
        let feed: FifoFeed | undefined
        try {
            if (user !== undefined) chownSync(dir, user.uid, user.gid)
            const temp = makeTempFile(dir, flags, plaintext, user)
            feed = temp.feed
            // Quoted for the shell; a function replacement, so `$&` and the like in the path stay literal.
            const quoted = shellQuote(temp.file)
            const ended = (await runShell({ command: command.replaceAll("{}", () => quoted), env, user, background: false })) as Ended
            return statusOf(ended, io, false)
        } finally {
            feed?.stop()
            await feed?.done
            plaintext.fill(0)
            rmSync(dir, { recursive: true, force: true })
        }
    },
}
