/**
 * What the `agent …` and `keys …` commands share: where the agent's socket is, how to start it (the same
 * `agent start --foreground` child for `agent start` and for auto-start), durations, passphrases (file, stdin, or a
 * prompt on the terminal with echo off) and `-o json|yaml` output.
 */
import { readFileSync } from "node:fs"
import { homedir } from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import type { AgentClient } from "../../agent/client.js"
import { KEYCHAIN_PASSPHRASE_ENV, type Keychain } from "../../agent/keychain.js"
import { UsageError } from "../../errors.js"
import type { CommandIo, FlagSpec, ParsedFlags } from "../spec.js"

/** Environment variable naming the keychain (`secret-service` or `file:PATH`); `agent start --keychain` overrides it. */
export const KEYCHAIN_ENV = "KUBECTL_SOPS_KEYCHAIN"
/** Environment variable with the Secret Service "service" name (default `kubectl-sops`; tests use their own). */
export const KEYCHAIN_SERVICE_ENV = "KUBECTL_SOPS_KEYCHAIN_SERVICE"
/** Environment variable that turns the agent off for file commands (`--no-agent`). */
export const NO_AGENT_ENV = "KUBECTL_SOPS_NO_AGENT"

/** The user's home folder as the commands see it. */
export function homeOf(io: CommandIo): string {
    return io.env.HOME ?? homedir()
}

/** The agent's socket path: `$KUBECTL_SOPS_AGENT_SOCK`, `$XDG_RUNTIME_DIR/kubectl-sops/agent.sock`, `~/.kubectl-sops/agent.sock`. */
export async function socketPath(io: CommandIo): Promise<string> {
    const { resolveSocketPath } = await import("../../agent/socket.js")
    return resolveSocketPath(io.env, homeOf(io), io.cwd)
}

/** The package version (reported by the agent's status). */
export function packageVersion(io: CommandIo): string {
    try {
        return (JSON.parse(readFileSync(new URL("package.json", io.root), "utf8")) as { version: string }).version
    } catch {
        return "0.0.0"
    }
}

/** Options of the agent process, as `agent start` flags. */
export interface StartOptions {
    idleTtl?: string
    maxTtl?: string
    keychain?: string
}

/**
 * Start the agent in the background (detached; output appended to `<socket folder>/agent.log`) and wait until it
 * answers. @returns its pid and socket
 */
export async function spawnAgent(io: CommandIo, socket: string, options: StartOptions = {}): Promise<{ pid: number; socket: string }> {
    const { agentPaths, checkSocketPath, ensureSocketDir } = await import("../../agent/socket.js")
    const { spawnDaemon } = await import("../../agent/daemon.js")
    checkSocketPath(socket)
    const paths = agentPaths(socket)
    ensureSocketDir(paths.dir)
    const logFile = path.join(paths.dir, `${path.basename(socket).replace(/\.sock$/, "")}.log`)
    const bin = fileURLToPath(new URL("bin/kubectl-sops", io.root))
    const args = [bin, "agent", "start", "--foreground"]
    if (options.idleTtl !== undefined) args.push("--idle-ttl", options.idleTtl)
    if (options.maxTtl !== undefined) args.push("--max-ttl", options.maxTtl)
    if (options.keychain !== undefined) args.push("--keychain", options.keychain)
    return spawnDaemon({ args, env: io.env, homeDir: homeOf(io), cwd: io.cwd, socket, logFile })
}

/**
 * Connect to the running agent; start it first when none runs (the `keys …` commands need it).
 */
export async function connectAgent(io: CommandIo, options: { start?: boolean } = {}): Promise<AgentClient> {
    const { AgentClient } = await import("../../agent/client.js")
    const { AgentError } = await import("../../agent/socket.js")
    const socket = await socketPath(io)
    try {
        return await AgentClient.connect(socket, { clientName: "kubectl-sops" })
    } catch (e) {
        if (!(e instanceof AgentError) || e.reason !== "not-running") throw e
        if (options.start === false) {
            throw new AgentError("not-running", `no agent is running on ${socket}`, {
                cause: e,
                hint: 'start it with `eval "$(kubectl sops agent start)"`',
            })
        }
    }
    try {
        await spawnAgent(io, socket)
    } catch (e) {
        // another invocation may have started it at the same moment
        if (!(e instanceof AgentError) || e.reason !== "already-running") throw e
    }
    return AgentClient.connect(socket, { clientName: "kubectl-sops" })
}

/** Run with a connected client and close it afterwards. */
export async function withAgent<T>(io: CommandIo, options: { start?: boolean }, run: (client: AgentClient) => Promise<T>): Promise<T> {
    const client = await connectAgent(io, options)
    try {
        return await run(client)
    } finally {
        client.close()
    }
}

/** Open the keychain the agent would use: `--keychain`/`KUBECTL_SOPS_KEYCHAIN`, else the Secret Service. */
export async function openAgentKeychain(
    io: CommandIo,
    spec: string | undefined,
    passphrase?: () => Promise<string>,
): Promise<Keychain> {
    const { SecretServiceKeychain, openKeychain } = await import("../../agent/keychain.js")
    const service = io.env[KEYCHAIN_SERVICE_ENV]
    if ((spec === undefined || spec === "" || spec === "secret-service") && service !== undefined && service !== "") {
        return SecretServiceKeychain.open(service)
    }
    return openKeychain(spec, { env: io.env, cwd: io.cwd, ...(passphrase === undefined ? {} : { passphrase }) })
}

// ---------------------------------------------------------------------------------------------------------
// durations

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * A duration: plain seconds (`600`) or numbers with units, Go style (`600s`, `10m`, `2h`, `1h30m`).
 * @returns milliseconds (> 0)
 * @throws UsageError for anything else
 */
export function parseDuration(text: string, flag: string): number {
    const t = text.trim()
    let ms: number
    if (/^\d+$/.test(t)) ms = Number(t) * 1000
    else if (/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(t)) {
        ms = 0
        for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * UNIT_MS[m[2]]
    } else {
        throw new UsageError(`invalid duration for --${flag}: ${JSON.stringify(text)}`, { hint: "use seconds (600) or units: 600s, 10m, 2h, 1h30m" })
    }
    ms = Math.round(ms)
    if (!(ms > 0) || !Number.isSafeInteger(ms)) throw new UsageError(`--${flag} must be a positive duration, got ${JSON.stringify(text)}`)
    return ms
}

// ---------------------------------------------------------------------------------------------------------
// passphrases

/** `--passphrase-file`, `--passphrase-stdin`. */
export const passphraseFlags = {
    "passphrase-file": { type: "string", summary: "Read the passphrase from this file (first line)" },
    "passphrase-stdin": { type: "boolean", summary: "Read the passphrase from standard input" },
} as const satisfies Record<string, FlagSpec>

function firstLine(text: string): string {
    const i = text.search(/\r?\n/)
    return i < 0 ? text : text.slice(0, i)
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
    const chunks: Buffer[] = []
    for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : c)
    return Buffer.concat(chunks).toString("utf8")
}

/** Ask on the terminal with echo off. */
export function promptHidden(io: CommandIo, prompt: string): Promise<string> {
    const stdin = io.stdin
    io.stderr.write(prompt)
    stdin.setRawMode(true)
    stdin.setEncoding("utf8")
    stdin.resume()
    return new Promise((resolve, reject) => {
        let text = ""
        const finish = () => {
            stdin.off("data", onData)
            stdin.setRawMode(false)
            stdin.pause()
            io.stderr.write("\n")
        }
        const onData = (chunk: string) => {
            for (const ch of chunk) {
                if (ch === "\r" || ch === "\n") {
                    finish()
                    resolve(text)
                    return
                }
                if (ch === "\u0003" || (ch === "\u0004" && text === "")) {
                    finish()
                    reject(new UsageError("no passphrase given (interrupted)"))
                    return
                }
                if (ch === "\u007f" || ch === "\b") text = text.slice(0, -1)
                else if (ch >= " ") text += ch
            }
        }
        stdin.on("data", onData)
    })
}

/**
 * The passphrase from `--passphrase-file`, `--passphrase-stdin`, or (when `prompt` is given and stdin is a
 * terminal) asked with echo off.
 * @returns undefined when none was asked for and no prompt applies
 * @throws UsageError when `required` and none can be had, or for an empty passphrase
 */
export async function readPassphrase(
    io: CommandIo,
    flags: ParsedFlags,
    options: { prompt?: string; required?: boolean; stdinTaken?: boolean } = {},
): Promise<string | undefined> {
    const file = flags["passphrase-file"] as string | undefined
    const fromStdin = flags["passphrase-stdin"] === true
    if (file !== undefined && fromStdin) throw new UsageError("use --passphrase-file or --passphrase-stdin, not both")
    let passphrase: string | undefined
    if (file !== undefined) {
        try {
            passphrase = firstLine(readFileSync(path.resolve(io.cwd, file), "utf8"))
        } catch (e) {
            throw new UsageError(`cannot read the passphrase file ${file}: ${(e as Error).message}`)
        }
    } else if (fromStdin) {
        if (options.stdinTaken) throw new UsageError("--passphrase-stdin cannot be used when the key is read from stdin")
        passphrase = firstLine(await readAll(io.stdin))
    } else if (options.prompt !== undefined && io.stdin.isTTY === true && !options.stdinTaken) {
        passphrase = await promptHidden(io, options.prompt)
    } else if (options.required) {
        throw new UsageError("a passphrase is needed", { hint: "use --passphrase-file FILE or --passphrase-stdin (or run on a terminal to be asked)" })
    } else return undefined
    if (passphrase === "") throw new UsageError("the passphrase is empty")
    return passphrase
}

/** The file keychain's passphrase for a process that may prompt: the environment, else the terminal. */
export function keychainPassphrasePrompt(io: CommandIo): (() => Promise<string>) | undefined {
    if (io.env[KEYCHAIN_PASSPHRASE_ENV] !== undefined || io.stdin.isTTY !== true) return undefined
    return () => promptHidden(io, "Keychain passphrase: ")
}

// ---------------------------------------------------------------------------------------------------------
// output

/** `-o json|yaml`. */
export const outputFormatFlag = {
    output: { type: "string", char: "o", options: ["json", "yaml"], summary: "Print as json or yaml instead of a table" },
} as const satisfies Record<string, FlagSpec>

const PLAIN = /^[A-Za-z_/.@+][A-Za-z0-9_/.@+:-]*$/

function yamlScalar(v: unknown): string {
    if (v === null || v === undefined) return "null"
    if (typeof v === "number" || typeof v === "boolean") return String(v)
    const s = String(v)
    return PLAIN.test(s) && !/^(?:true|false|null|yes|no|on|off|~)$/i.test(s) ? s : JSON.stringify(s)
}

/** YAML for plain data (objects, arrays, strings, numbers, booleans). */
export function toYaml(value: unknown, indent = ""): string {
    if (Array.isArray(value)) {
        if (value.length === 0) return `${indent}[]\n`
        return value
            .map((item) => {
                if (item !== null && typeof item === "object") {
                    const body = toYaml(item, `${indent}  `)
                    return `${indent}- ${body.slice(indent.length + 2)}`
                }
                return `${indent}- ${yamlScalar(item)}\n`
            })
            .join("")
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value).filter(([, v]) => v !== undefined)
        if (entries.length === 0) return `${indent}{}\n`
        return entries
            .map(([k, v]) => {
                if (v !== null && typeof v === "object" && (!Array.isArray(v) || v.length > 0)) return `${indent}${yamlScalar(k)}:\n${toYaml(v, `${indent}  `)}`
                return `${indent}${yamlScalar(k)}: ${Array.isArray(v) ? "[]" : yamlScalar(v)}\n`
            })
            .join("")
    }
    return `${indent}${yamlScalar(value)}\n`
}

/** Render data as `-o json` / `-o yaml`. */
export function formatData(format: string, value: unknown): string {
    return format === "yaml" ? toYaml(value) : `${JSON.stringify(value, null, 2)}\n`
}

/** A text table with a header row, columns padded to the widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
    const line = (cells: readonly string[]) =>
        cells
            .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
            .join("  ")
            .trimEnd()
    return `${[line(header), ...rows.map(line)].join("\n")}\n`
}

/** `1h 2m 3s` for a number of seconds. */
export function humanSeconds(total: number): string {
    const d = Math.floor(total / 86400)
    const h = Math.floor((total % 86400) / 3600)
    const m = Math.floor((total % 3600) / 60)
    const s = total % 60
    const parts = [d > 0 ? `${d}d` : "", h > 0 ? `${h}h` : "", m > 0 ? `${m}m` : "", `${s}s`].filter((p) => p !== "")
    return parts.slice(0, 3).join(" ")
}

/** Quote a value for a POSIX shell (single quotes) when it needs it. */
export function shellQuote(s: string): string {
    return /^[A-Za-z0-9_/.:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}
