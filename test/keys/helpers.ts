import { spawnSync } from "node:child_process"
import { createKeyContext } from "../../src/keys/context.js"
import type { KeyContext } from "../../src/keys/provider.js"
import { tempDir as cliTempDir } from "../cli/run.js"
import { vectorsDir } from "../conformance-data.js"

/** The shared vectors directory. */
export const VECTORS = vectorsDir

const created: string[] = []

/** A fresh empty directory, removed after the test file's tests (see test/cli/run.ts). */
export function tempDir(prefix = "ksops-keys-"): string {
    const dir = cliTempDir(prefix)
    created.push(dir)
    return dir
}

/** Stop the gpg-agent that gpg started for any directory made by {@link tempDir} (used as GNUPGHOME). */
export function killGpgAgents(): void {
    for (const dir of created.splice(0)) {
        spawnSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: dir }, stdio: "ignore" })
    }
}

/** A key context with an isolated home and only the given variables (plus PATH). */
export function isolatedContext(env: Record<string, string | undefined> = {}, home = tempDir("ksops-home-")): KeyContext {
    return createKeyContext({ env: { PATH: process.env.PATH, HOME: home, ...env }, homeDir: home })
}

/** Extract the armored `enc` blocks of a given kind from a sops-encrypted YAML text. */
export function extractEncBlocks(yaml: string, begin: "AGE ENCRYPTED FILE" | "PGP MESSAGE"): string[] {
    const re = new RegExp(`-----BEGIN ${begin}-----[\\s\\S]*?-----END ${begin}-----`, "g")
    return [...yaml.matchAll(re)].map((m) =>
        m[0]
            .split("\n")
            .map((l) => l.trim())
            .join("\n"),
    )
}
