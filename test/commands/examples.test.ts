import { spawnSync } from "node:child_process"
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "../cli/run.js"
import { AGE1, AGE4, cases, sandbox } from "./fixtures.js"

interface ManifestCommand {
    examples?: { command: string; description: string }[]
}
const manifest = JSON.parse(readFileSync(path.join(repoRoot, "oclif.manifest.json"), "utf8")) as { commands: Record<string, ManifestCommand> }
const examples = Object.entries(manifest.commands).flatMap(([id, c]) => (c.examples ?? []).map((e) => [id, e.command] as const))

/** A folder where every `--help` example can run: plaintext files for encrypt, encrypted ones otherwise. */
function exampleDir(id: string) {
    const sb = sandbox()
    writeFileSync(
        path.join(sb.dir, ".sops.yaml"),
        `creation_rules:\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: ${AGE1},${AGE4}\n`,
    )
    const source = id === "encrypt" ? "secret-age/plain.yaml" : "rotate/before.yaml"
    mkdirSync(path.join(sb.dir, "clusters"))
    for (const target of ["secret.yaml", "clusters/secret.yaml"]) {
        cpSync(path.join(cases, source), path.join(sb.dir, target))
        chmodSync(path.join(sb.dir, target), 0o600)
    }
    writeFileSync(path.join(sb.dir, "value.json"), '"LS0tLS1CRUdJTi0tLS0t"')
    // exec-env needs a flat file: the sops dotenv case.
    sb.copy("dotenv/out.stdout", "app.env")
    const editor = path.join(sb.dir, ".editor.sh")
    writeFileSync(editor, '#!/bin/sh\nprintf "    extra: ZXh0cmE=\\n" >> "$1"\n')
    chmodSync(editor, 0o755)
    return { ...sb, editor }
}

let exampleCount = 0

/**
 * The key agent of an example: its own socket and its own Secret Service "service" (never the default one), so
 * examples neither see each other's keys nor leave agents behind.
 */
function agentEnv(dir: string): Record<string, string> {
    return {
        KUBECTL_SOPS_AGENT_SOCK: path.join(dir, ".agent", "agent.sock"),
        KUBECTL_SOPS_KEYCHAIN_SERVICE: `kubectl-sops-example-${process.pid}-${++exampleCount}`,
    }
}

/** For `agent …`/`keys …` examples: a passphrase file, age identities in the default place, keys in the agent. */
function prepareAgent(id: string, dir: string, env: Record<string, string>): void {
    const keys = path.join(cases, "keys")
    writeFileSync(path.join(dir, "passphrase.txt"), "example passphrase\n")
    const ageDir = path.join(env.HOME, ".config", "sops", "age")
    mkdirSync(ageDir, { recursive: true })
    cpSync(path.join(keys, "age2.agekey"), path.join(ageDir, "keys.txt"))
    mkdirSync(env.GNUPGHOME, { recursive: true, mode: 0o700 })
    spawnSync("gpg", ["--batch", "--quiet", "--import", path.join(keys, "cluster0.sec.asc")], { env, stdio: "ignore" })
    const preload = id === "agent:start" ? [] : id === "keys:import" ? ["age1.agekey"] : ["age1.agekey", "cluster0.sec.asc"]
    for (const file of preload) {
        const r = spawnSync(path.join(repoRoot, "bin", "kubectl-sops"), ["keys", "import", path.join(keys, file)], { cwd: dir, env, encoding: "utf8" })
        expect(r.status, r.stderr).toBe(0)
    }
}

describe("--help examples", () => {
    it("exist for every command and are written as kubectl sops …", () => {
        expect(examples.length).toBeGreaterThan(10)
        for (const id of Object.keys(manifest.commands)) expect(manifest.commands[id].examples?.length ?? 0, id).toBeGreaterThan(0)
        for (const [, command] of examples) expect(command).toMatch(/kubectl sops /)
    })

    it.each(examples)("%s: %s", (id, command) => {
        const sb = exampleDir(id)
        const env: Record<string, string> = { ...sb.env, PATH: `${path.join(repoRoot, "bin")}:/usr/local/bin:/usr/bin:/bin`, EDITOR: sb.editor, ...agentEnv(sb.dir) }
        delete env.KUBECTL_SOPS_KEYCHAIN
        const agentCommand = /^(agent|keys):/.test(id)
        if (agentCommand) prepareAgent(id, sb.dir, env)
        try {
            const r = spawnSync("bash", ["-c", `set -eo pipefail\n${command}`], { cwd: sb.dir, env, encoding: "utf8" })
            expect(r.stderr).not.toMatch(/internal error|Error:/)
            expect(r.status, r.stderr).toBe(0)
        } finally {
            // every example may have started an agent (directly or on first need): stop it, forget its keys
            if (existsSync(env.KUBECTL_SOPS_AGENT_SOCK)) {
                spawnSync(path.join(repoRoot, "bin", "kubectl-sops"), ["agent", "stop"], { cwd: sb.dir, env, stdio: "ignore" })
            }
            if (agentCommand) spawnSync("secret-tool", ["clear", "service", env.KUBECTL_SOPS_KEYCHAIN_SERVICE], { stdio: "ignore" })
        }
    })
})
