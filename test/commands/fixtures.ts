/** Fixtures for command tests: the golden vectors, a temp HOME with the age identities, and helpers. */
import { execFileSync, spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs"
import path from "node:path"
import { onTestFinished } from "vitest"
import { baseEnv, run, tempDir, vectorsDir } from "../cli/run.js"
import { requireSharedData, sharedData } from "../conformance-data.js"

/** The sops 3.13.2 golden cases. */
export const cases = path.join(vectorsDir, "sops-3.13.2")
const keysDir = path.join(cases, "keys")

function recipient(n: number): string {
    if (!sharedData) return ""
    const text = readFileSync(path.join(keysDir, `age${n}.agekey`), "utf8")
    const m = /public key: (age1[0-9a-z]+)/.exec(text)
    if (!m) throw new Error(`no recipient in age${n}.agekey`)
    return m[1]
}

/** Recipients of `keys/age1.agekey` … `age4.agekey`. */
export const AGE1 = recipient(1)
export const AGE2 = recipient(2)
export const AGE4 = recipient(4)
/** The PGP fingerprint of `keys/cluster0`. */
export const PGP_FP = sharedData ? readFileSync(path.join(keysDir, "cluster0.fpr"), "utf8").trim() : ""

/** A temp folder with HOME inside and the environment for it (age identities in SOPS_AGE_KEY_FILE). */
export interface Sandbox {
    dir: string
    env: Record<string, string>
    /** Run kubectl-sops in the sandbox folder. */
    run(args: readonly string[], options?: { input?: string; env?: Record<string, string | undefined>; cwd?: string }): ReturnType<typeof run>
    /** Copy a vector file into the sandbox. */
    copy(from: string, to?: string): string
}

/** gpg (run by a test or by kubectl-sops) starts an agent for the sandbox's GNUPGHOME: stop it when the test ends. */
function stopGpgAgentAfterTest(env: Record<string, string>): void {
    try {
        onTestFinished(() => {
            if (existsSync(env.GNUPGHOME)) spawnSync("gpgconf", ["--kill", "gpg-agent"], { env, stdio: "ignore" })
        })
    } catch {
        // made outside a test (a hook): nothing to attach to
    }
}

/** Make a sandbox. `pgp` imports the cluster0 key into a private GNUPGHOME. */
export function sandbox(options: { pgp?: boolean } = {}): Sandbox {
    requireSharedData()
    const dir = tempDir("ksops-cmd-")
    const home = path.join(dir, ".home")
    mkdirSync(home, { mode: 0o700 })
    const env = baseEnv(home)
    env.SOPS_AGE_KEY_FILE = path.join(keysDir, "all.agekey")
    if (options.pgp) {
        mkdirSync(env.GNUPGHOME, { mode: 0o700 })
        execFileSync("gpg", ["--batch", "--quiet", "--import", path.join(keysDir, "cluster0.sec.asc")], { env, stdio: "ignore" })
    }
    stopGpgAgentAfterTest(env)
    return {
        dir,
        env,
        run: (args, o = {}) =>
            run(args, {
                cwd: o.cwd ?? dir,
                env: { ...env, ...(o.env ?? {}) },
                ...(o.input === undefined ? {} : { input: o.input }),
            }),
        copy(from, to) {
            const target = path.join(dir, to ?? path.basename(from))
            cpSync(path.join(cases, from), target, { recursive: true })
            execFileSync("chmod", ["-R", "u+w", target])
            return target
        },
    }
}
