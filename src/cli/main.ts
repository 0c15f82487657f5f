/**
 * The entry point behind `bin/kubectl-sops`. The file commands (encrypt, decrypt, filestatus, …) without `--help`
 * take the fast path: load only the command's module, parse with `node:util` `parseArgs`, run. Everything else
 * (help, topics, unknown commands, `--version`) goes through oclif's `execute()`.
 */
import { readFileSync } from "node:fs"
import { renderError } from "./errors.js"
import { writeOut } from "./io.js"
import { parseCommandLine } from "./parse.js"
import type { CommandIo, CommandSpec } from "./spec.js"

/** Commands the fast path can run, each loaded on demand. */
export const FAST_COMMANDS: Readonly<Record<string, () => Promise<CommandSpec>>> = {
    completion: async () => (await import("./actions/completion.js")).completion,
    decrypt: async () => (await import("./actions/decrypt.js")).decrypt,
    edit: async () => (await import("./actions/edit.js")).edit,
    encrypt: async () => (await import("./actions/encrypt.js")).encrypt,
    "exec-env": async () => (await import("./actions/exec.js")).execEnv,
    "exec-file": async () => (await import("./actions/exec.js")).execFile,
    filestatus: async () => (await import("./actions/filestatus.js")).filestatus,
    rotate: async () => (await import("./actions/rotate.js")).rotate,
    set: async () => (await import("./actions/set.js")).set,
    unset: async () => (await import("./actions/set.js")).unset,
    updatekeys: async () => (await import("./actions/updatekeys.js")).updatekeys,
    // topic commands: two-word ids
    "agent lock": async () => (await import("./actions/agent.js")).agentLock,
    "agent start": async () => (await import("./actions/agent.js")).agentStart,
    "agent status": async () => (await import("./actions/agent.js")).agentStatus,
    "agent stop": async () => (await import("./actions/agent.js")).agentStop,
    "agent unlock": async () => (await import("./actions/agent.js")).agentUnlock,
    "keys export": async () => (await import("./actions/keys.js")).keysExport,
    "keys generate": async () => (await import("./actions/keys.js")).keysGenerate,
    "keys import": async () => (await import("./actions/keys.js")).keysImport,
    "keys list": async () => (await import("./actions/keys.js")).keysList,
    "keys remove": async () => (await import("./actions/keys.js")).keysRemove,
    // Flux: cluster setup and pre-flight checks
    bootstrap: async () => (await import("./actions/bootstrap.js")).bootstrap,
    check: async () => (await import("./actions/check.js")).check,
    doctor: async () => (await import("./actions/doctor.js")).doctor,
    "create generic": async () => (await import("./actions/create-generic.js")).createGeneric,
    "create kustomization": async () => (await import("./actions/create.js")).createKustomization,
    "create ks": async () => (await import("./actions/create.js")).createKustomization,
    "create secret": async () => (await import("./actions/create.js")).createSecret,
    "create source git": async () => (await import("./actions/create.js")).createSourceGit,
}

/** Whether `argv` (after the command id) asks for help, before any `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
    for (const a of argv) {
        if (a === "--") return false
        if (a === "--help" || a === "-h") return true
    }
    return false
}

/**
 * Run the CLI.
 * @param argv - arguments after the program name.
 * @param root - URL of the package root (the folder of package.json).
 * @param io - streams and environment.
 * @returns the exit status (also set on `process.exitCode` by the oclif path).
 */
export async function main(argv: readonly string[], root: URL, io: CommandIo): Promise<number> {
    let [id, ...rest] = argv
    let load = id === undefined ? undefined : FAST_COMMANDS[id]
    // a topic command (`agent start`, `create source git`): the id is two or three words; the longest match wins
    for (let words = 3; words >= 2 && id !== undefined; words--) {
        if (argv.length < words) continue
        const candidate = argv.slice(0, words).join(" ")
        if (FAST_COMMANDS[candidate] !== undefined) {
            load = FAST_COMMANDS[candidate]
            id = candidate
            rest = argv.slice(words)
            break
        }
    }
    if (load !== undefined && !wantsHelp(rest)) {
        try {
            const spec = await load()
            const parsed = parseCommandLine(spec, rest, io.env)
            return await spec.run(parsed, io)
        } catch (error) {
            const rendered = renderError(error, io.env.KUBECTL_SOPS_DEBUG === "1")
            io.stderr.write(rendered.text)
            return rendered.exitCode
        }
    }
    if (id === "__complete") {
        // kubectl's plugin completion (bin/kubectl_complete-sops).
        return (await import("./actions/completion.js")).printKubectlCompletions(rest, io)
    }
    if (argv.length === 1 && (id === "--version" || id === "-v" || id === "version")) {
        const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { name: string; version: string }
        await writeOut(io, `${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
        return 0
    }
    // `kubectl sops help [COMMAND]` is `kubectl sops [COMMAND] --help` (oclif has no help command without a plugin).
    const args = id === "help" ? [...rest, "--help"] : [...argv]
    const { execute } = await import("@oclif/core")
    await execute({ args, dir: new URL("package.json", root).href })
    return typeof process.exitCode === "number" ? process.exitCode : 0
}
