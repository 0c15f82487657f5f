import { spawnSync } from "node:child_process"
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
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
    const editor = path.join(sb.dir, ".editor.sh")
    writeFileSync(editor, '#!/bin/sh\nprintf "    extra: ZXh0cmE=\\n" >> "$1"\n')
    chmodSync(editor, 0o755)
    return { ...sb, editor }
}

describe("--help examples", () => {
    it("exist for every command and are written as kubectl sops …", () => {
        expect(examples.length).toBeGreaterThan(10)
        for (const id of Object.keys(manifest.commands)) expect(manifest.commands[id].examples?.length ?? 0, id).toBeGreaterThan(0)
        for (const [, command] of examples) expect(command).toMatch(/kubectl sops /)
    })

    it.each(examples)("%s: %s", (id, command) => {
        const sb = exampleDir(id)
        const r = spawnSync("bash", ["-c", `set -eo pipefail\n${command}`], {
            cwd: sb.dir,
            env: { ...sb.env, PATH: `${path.join(repoRoot, "bin")}:/usr/local/bin:/usr/bin:/bin`, EDITOR: sb.editor },
            encoding: "utf8",
        })
        expect(r.stderr).not.toMatch(/internal error|Error:/)
        expect(r.status, r.stderr).toBe(0)
    })
})
