/** Test helper: run the built `bin/kubectl-sops` as a child process. */
import { spawn } from "node:child_process"
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"

/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
/** The built executable. */
export const binPath = path.join(repoRoot, "bin", "kubectl-sops")
/** Shared test vectors (never copied into the repo). */
export { vectorsDir } from "../conformance-data.js"

/** What a run printed and returned. */
export interface RunResult {
    code: number | null
    signal: NodeJS.Signals | null
    stdout: string
    stderr: string
    stdoutBytes: Buffer
}

/** Options of {@link run}. */
export interface RunOptions {
    cwd?: string
    env?: Record<string, string | undefined>
    input?: string | Uint8Array
    /** Command to run instead of the bin (e.g. `kubectl`). */
    command?: string
}

/** A clean environment: no user sops settings leak into tests. */
export function baseEnv(home: string): Record<string, string> {
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) {
        if (v !== undefined && !k.startsWith("SOPS_") && k !== "EDITOR" && k !== "KUBECTL_SOPS_DEBUG") env[k] = v
    }
    env.HOME = home
    env.GNUPGHOME = path.join(home, ".gnupg")
    return env
}

/** Run `kubectl-sops args…` and collect its output. */
export function run(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const command = options.command ?? process.execPath
        const argv = options.command === undefined ? [binPath, ...args] : [...args]
        const child = spawn(command, argv, {
            cwd: options.cwd ?? repoRoot,
            env: options.env ?? process.env,
            stdio: ["pipe", "pipe", "pipe"],
        })
        const out: Buffer[] = []
        const err: Buffer[] = []
        child.stdout.on("data", (c: Buffer) => out.push(c))
        child.stderr.on("data", (c: Buffer) => err.push(c))
        child.on("error", reject)
        child.on("close", (code, signal) => {
            const stdoutBytes = Buffer.concat(out)
            resolve({ code, signal, stdout: stdoutBytes.toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), stdoutBytes })
        })
        child.stdin.on("error", () => {})
        if (options.input !== undefined) child.stdin.end(options.input)
        else child.stdin.end()
    })
}

/** Temp folders made by {@link tempDir} and not removed yet. */
const made = new Set<string>()

/** Remove every temp folder made so far (what cannot be removed yet is tried again at exit). */
function removeTempDirs(): void {
    for (const dir of made) {
        try {
            rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
            made.delete(dir)
        } catch {
            // still in use (a process started by the test is ending): the exit handler tries again
        }
    }
}

// Each test file gets its own copy of this module: its temp folders go when the file's tests are done (the hook is
// registered first, so it runs after the file's own afterAll hooks, which stop agents and servers), and at the
// latest when the worker exits.
try {
    afterAll(removeTempDirs)
} catch {
    // imported outside a test file's collection: only the exit handler
}
process.on("exit", removeTempDirs)

/** A fresh temp folder, removed after the test file's tests. */
export function tempDir(prefix = "ksops-cli-"): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix))
    made.add(dir)
    return dir
}

/** The absolute path of a command on PATH, or undefined. */
export function which(command: string): string | undefined {
    for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
        const candidate = path.join(dir, command)
        try {
            accessSync(candidate, constants.X_OK)
            return candidate
        } catch {
            // not here
        }
    }
    return undefined
}

/** Tests that need an external tool run when it is installed, and always in CI (where .ci/run installs it). */
export function needs(command: string): boolean {
    return which(command) !== undefined || process.env.CI === "true"
}
