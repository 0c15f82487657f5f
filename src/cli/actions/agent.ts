/**
 * `kubectl sops agent start|stop|status|lock|unlock`: the key agent's life cycle. The agent keeps private keys
 * (persisted in the OS keychain) and unwraps data keys for the file commands; see docs/agent-protocol.md.
 */
import { UsageError } from "../../errors.js"
import { writeOut } from "../io.js"
import type { CommandIo, CommandSpec } from "../spec.js"
import {
    connectAgent,
    formatData,
    homeOf,
    humanSeconds,
    KEYCHAIN_ENV,
    keychainPassphrasePrompt,
    openAgentKeychain,
    outputFormatFlag,
    packageVersion,
    parseDuration,
    passphraseFlags,
    readPassphrase,
    shellQuote,
    socketPath,
    spawnAgent,
    withAgent,
} from "./agent-support.js"

/** The lines that point a shell at the agent (ssh-agent style). */
function exportLines(socket: string, pid: number, shell: "sh" | "csh"): string {
    if (shell === "csh") return `setenv KUBECTL_SOPS_AGENT_SOCK ${shellQuote(socket)};\necho Agent pid ${pid};\n`
    return `export KUBECTL_SOPS_AGENT_SOCK=${shellQuote(socket)};\necho Agent pid ${pid};\n`
}

function shellOf(io: CommandIo, flags: { c?: unknown; s?: unknown }): "sh" | "csh" {
    if (flags.c === true && flags.s === true) throw new UsageError("use -s or -c, not both")
    if (flags.c === true) return "csh"
    if (flags.s === true) return "sh"
    return /csh$/.test(io.env.SHELL ?? "") ? "csh" : "sh"
}

/** `agent start`. */
export const agentStart: CommandSpec = {
    id: "agent start",
    summary: "Start the key agent",
    description:
        "Starts the agent in the background and prints the shell commands that point KUBECTL_SOPS_AGENT_SOCK at it, like ssh-agent: run it under eval. The agent keeps unlocked keys and data keys in memory for --idle-ttl after their last use and at most --max-ttl (gpg-agent's rules), and reads its keys from the OS keychain (Secret Service) or from an encrypted file (--keychain file:PATH, passphrase from KUBECTL_SOPS_KEYCHAIN_PASSPHRASE). Socket: $KUBECTL_SOPS_AGENT_SOCK, else $XDG_RUNTIME_DIR/kubectl-sops/agent.sock, else ~/.kubectl-sops/agent.sock. When an agent already runs there, prints its settings and leaves it running. The file commands (decrypt, edit, rotate, updatekeys, exec-env, exec-file) start the agent themselves when they need a key it holds.",
    examples: [
        { description: "Start the agent and point this shell at it", command: 'eval "$(kubectl sops agent start)"' },
        { description: "Keep unlocked keys 30 minutes after their last use, 8 hours at most", command: "kubectl sops agent start --idle-ttl 30m --max-ttl 8h" },
        {
            description: "Keep the keys in an encrypted file instead of the OS keychain (headless servers)",
            command: "kubectl sops agent start --keychain file:$HOME/.config/kubectl-sops/keychain.age",
        },
    ],
    flags: {
        foreground: { type: "boolean", summary: "Run in this process (logs on stderr) until stopped with Ctrl-C or `agent stop`" },
        "idle-ttl": { type: "string", summary: "Forget unlocked keys and data keys this long after their last use (600s, 10m, 2h)", default: "600s" },
        "max-ttl": { type: "string", summary: "Forget them this long after they were unlocked, whatever their use", default: "7200s" },
        keychain: { type: "string", env: KEYCHAIN_ENV, summary: "Where keys are stored: secret-service (default) or file:PATH" },
        s: { type: "boolean", char: "s", summary: "Print Bourne shell commands (default unless $SHELL is a csh)" },
        c: { type: "boolean", char: "c", summary: "Print C shell commands" },
    },
    args: [],
    async run(parsed, io) {
        const f = parsed.flags
        const idleTtl = f["idle-ttl"] as string
        const maxTtl = f["max-ttl"] as string
        const idleTtlMs = parseDuration(idleTtl, "idle-ttl")
        const maxTtlMs = parseDuration(maxTtl, "max-ttl")
        if (maxTtlMs < idleTtlMs) throw new UsageError("--max-ttl must not be shorter than --idle-ttl")
        const keychainSpec = f.keychain as string | undefined
        if (keychainSpec !== undefined && keychainSpec !== "secret-service" && !keychainSpec.startsWith("file:")) {
            throw new UsageError(`unknown keychain ${JSON.stringify(keychainSpec)}: expected secret-service or file:PATH`)
        }
        const shell = shellOf(io, f)
        const socket = await socketPath(io)
        if (f.foreground === true) {
            const { runDaemon } = await import("../../agent/daemon.js")
            const keychain = await openAgentKeychain(io, keychainSpec, keychainPassphrasePrompt(io))
            const daemon = await runDaemon({
                socket,
                keychain,
                idleTtlMs,
                maxTtlMs,
                env: io.env,
                homeDir: homeOf(io),
                cwd: io.cwd,
                version: packageVersion(io),
                log: (line) => io.stderr.write(`${new Date().toISOString()} kubectl-sops agent: ${line}\n`),
            })
            await writeOut(io, exportLines(socket, daemon.pid, shell))
            await daemon.done
            return 0
        }
        const { AgentClient } = await import("../../agent/client.js")
        const { AgentError, probeSocket } = await import("../../agent/socket.js")
        if ((await probeSocket(socket)) === "live") {
            const c = await AgentClient.connect(socket)
            const status = await c.status().finally(() => c.close())
            io.stderr.write(
                `an agent is already running on ${socket} (pid ${status.pid}, idle ttl ${status.idleTtlSeconds}s, max ttl ${status.maxTtlSeconds}s, keychain ${status.keychain})\n`,
            )
            await writeOut(io, exportLines(socket, status.pid, shell))
            return 0
        }
        // a file keychain without a passphrase in the environment: ask here, the detached agent cannot
        let env = io.env
        const prompt = keychainSpec?.startsWith("file:") ? keychainPassphrasePrompt(io) : undefined
        if (prompt !== undefined) env = { ...io.env, KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: await prompt() }
        try {
            const { pid } = await spawnAgent({ ...io, env }, socket, { idleTtl, maxTtl, keychain: keychainSpec })
            await writeOut(io, exportLines(socket, pid, shell))
        } catch (e) {
            if (e instanceof AgentError && e.reason === "already-running") throw new AgentError("already-running", e.message, { hint: "stop it first with `kubectl sops agent stop`" })
            throw e
        }
        return 0
    },
}

/** `agent stop`. */
export const agentStop: CommandSpec = {
    id: "agent stop",
    summary: "Stop the key agent",
    description: "Stops the agent on the socket (forgetting every unlocked key and data key). Nothing to do when none runs.",
    examples: [{ description: "Stop the agent", command: "kubectl sops agent stop" }],
    flags: {},
    args: [],
    async run(_parsed, io) {
        const { stopDaemon } = await import("../../agent/daemon.js")
        const socket = await socketPath(io)
        const r = await stopDaemon({ socket })
        io.stderr.write(r.wasRunning ? `stopped the agent on ${socket} (pid ${r.pid ?? "?"})\n` : `no agent was running on ${socket}\n`)
        return 0
    },
}

/** `agent status`. */
export const agentStatus: CommandSpec = {
    id: "agent status",
    summary: "Show the key agent's state",
    description:
        "Prints the agent's socket, pid, uptime, keychain, keys loaded and unlocked, cached data keys and TTLs. Exits 1 when no agent runs.",
    examples: [
        { description: "Show the agent's state", command: "kubectl sops agent status" },
        { description: "As JSON", command: "kubectl sops agent status -o json" },
    ],
    flags: { ...outputFormatFlag },
    args: [],
    async run(parsed, io) {
        const s = await withAgent(io, { start: false }, (c) => c.status())
        const format = parsed.flags.output as string | undefined
        if (format !== undefined) {
            await writeOut(io, formatData(format, s))
            return 0
        }
        const rows: [string, string][] = [
            ["socket", s.socket],
            ["pid", String(s.pid)],
            ["uptime", humanSeconds(s.uptimeSeconds)],
            ["keychain", s.keychain],
            ["keys", `${s.keysLoaded} loaded, ${s.keysUnlocked} unlocked`],
            ["cache entries", String(s.cacheEntries)],
            ["ttl", `idle ${s.idleTtlSeconds}s, max ${s.maxTtlSeconds}s`],
            ["clients", String(s.clients)],
            ["version", `${s.agentVersion} (protocol ${s.protocol})`],
        ]
        await writeOut(io, rows.map(([k, v]) => `${`${k}:`.padEnd(15)}${v}\n`).join(""))
        return 0
    },
}

/** `agent lock`. */
export const agentLock: CommandSpec = {
    id: "agent lock",
    summary: "Forget every unlocked key and cached data key",
    description:
        "Wipes all unlocked key material and cached data keys from the agent's memory at once. Passphrase-protected keys need `kubectl sops agent unlock` again; keys without a passphrase unlock themselves on their next use.",
    examples: [{ description: "Lock the agent", command: "kubectl sops agent lock" }],
    flags: {},
    args: [],
    async run(_parsed, io) {
        const r = await withAgent(io, { start: false }, (c) => c.lock())
        io.stderr.write(`locked: ${r.lockedKeys} key(s) forgotten, ${r.wipedCacheEntries} cached data key(s) wiped\n`)
        return 0
    },
}

/** `agent unlock`. */
export const agentUnlock: CommandSpec = {
    id: "agent unlock",
    summary: "Unlock passphrase-protected keys in the agent",
    description:
        "Unlocks one key (by id, recipient, fingerprint or a unique prefix) or every locked key the passphrase opens, until --idle-ttl/--max-ttl of the agent or `agent lock`. The passphrase is asked on the terminal (echo off), or read from --passphrase-file or --passphrase-stdin.",
    examples: [
        { description: "Unlock every locked key the passphrase opens (asked on the terminal)", command: "kubectl sops agent unlock" },
        {
            description: "Unlock one key with a passphrase read from stdin",
            command: "kubectl sops agent unlock EE1E8CF37CFC50776EF383589CC3EF7A23419576 --passphrase-stdin < passphrase.txt",
        },
    ],
    flags: { ...passphraseFlags },
    args: [{ name: "key", summary: "Key id (default: every locked key the passphrase opens)" }],
    async run(parsed, io) {
        const id = parsed.argv[0]
        const client = await connectAgent(io, { start: false })
        try {
            if (id === undefined && (await client.listKeys()).every((k) => k.unlocked)) {
                io.stderr.write("no key is locked\n")
                return 0
            }
            const passphrase = (await readPassphrase(io, parsed.flags, { prompt: "Passphrase: ", required: true })) as string
            const unlocked = await client.unlock(passphrase, id)
            io.stderr.write(unlocked.length === 0 ? "no key is locked\n" : `unlocked ${unlocked.join(", ")}\n`)
        } finally {
            client.close()
        }
        return 0
    },
}
