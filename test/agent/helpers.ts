/** Shared helpers of the agent tests: temp folders, a file keychain, real age entries, a bundled daemon entry. */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { FileKeychain } from "../../src/agent/keychain.js"
import { ageProvider } from "../../src/keys/age.js"
import { createKeyContext } from "../../src/keys/context.js"
import type { KeyEntry } from "../../src/sops/keys.js"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

/** A fresh 0700 temp folder with a short path (socket paths are limited to 107 bytes). */
export function tempDir(prefix = "ks"): string {
    return mkdtempSync(path.join("/tmp", `${prefix}-`))
}

/** Remove a temp folder. */
export function removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true })
}

/** A file keychain in `dir` with a fixed passphrase and a cheap scrypt work factor. */
export function fileKeychain(dir: string): FileKeychain {
    return new FileKeychain(path.join(dir, "keychain.age"), {
        env: { KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "test-passphrase" },
        scryptLogN: 10,
    })
}

/** A real sops age entry wrapping `part` to `recipient`. */
export async function ageEntry(recipient: string, part: Uint8Array): Promise<KeyEntry> {
    const ctx = createKeyContext({ env: {}, homeDir: "/nonexistent" })
    const enc = await ageProvider.encrypt({ recipient }, part, ctx)
    return { type: "age", params: { recipient }, enc }
}

const bundles = new Map<string, string>()

/**
 * Bundle a small TypeScript script (child processes cannot run TypeScript) to a .mjs file; packages stay external
 * (resolved from the repo's node_modules). `{src}` in the script is replaced by the repo's src folder.
 */
export function bundleScript(name: string, script: string): string {
    const hit = bundles.get(name)
    if (hit !== undefined) return hit
    const dir = path.join(repoRoot, "node_modules", ".cache", "ksops-agent-test")
    mkdirSync(dir, { recursive: true })
    const src = path.join(dir, `${name}-${process.pid}.ts`)
    writeFileSync(src, script.replaceAll("{src}", path.join(repoRoot, "src")))
    const out = path.join(dir, `${name}-${process.pid}.mjs`)
    execFileSync(path.join(repoRoot, "node_modules", ".bin", "esbuild"), [
        src,
        "--bundle",
        "--platform=node",
        "--format=esm",
        "--packages=external",
        `--outfile=${out}`,
        "--log-level=warning",
    ])
    bundles.set(name, out)
    return out
}

/** A daemon entry for child processes. Argv: socket, keychain file. Prints "ready" once listening. */
export function daemonEntry(): string {
    return bundleScript(
        "daemon",
        `import { runDaemon } from "{src}/agent/daemon.ts"
import { FileKeychain } from "{src}/agent/keychain.ts"
const [socket, file] = process.argv.slice(2)
const keychain = new FileKeychain(file, { env: { KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "test-passphrase" }, scryptLogN: 10 })
const d = await runDaemon({ socket, keychain, workers: 0, log: (l) => process.stderr.write(l + "\\n") })
process.stdout.write("ready\\n")
await d.done
`,
    )
}

/** A client entry: connects to argv[2] and prints a JSON line {ok, reason?, message?} after calling status. */
export function clientEntry(): string {
    return bundleScript(
        "client",
        `import { AgentClient } from "{src}/agent/client.ts"
const [socket, token] = process.argv.slice(2)
try {
    const c = await AgentClient.connect(socket, token ? { token } : {})
    const s = await c.status()
    c.close()
    console.log(JSON.stringify({ ok: true, pid: s.pid }))
} catch (e) {
    console.log(JSON.stringify({ ok: false, reason: e.reason, message: e.message }))
}
`,
    )
}

/** Spawn the daemon entry and wait for "ready". */
export async function spawnTestDaemon(socket: string, keychainFile: string): Promise<import("node:child_process").ChildProcess> {
    const { spawn } = await import("node:child_process")
    const child = spawn(process.execPath, [daemonEntry(), socket, keychainFile], { stdio: ["ignore", "pipe", "pipe"] })
    let err = ""
    child.stderr!.on("data", (d) => {
        err += d
    })
    await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (d) => {
            if (String(d).includes("ready")) resolve()
        })
        child.once("exit", (code) => reject(new Error(`daemon exited (${code}): ${err}`)))
    })
    return child
}
