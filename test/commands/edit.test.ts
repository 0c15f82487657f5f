import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { AGE1, sandbox } from "./fixtures.js"

function editor(dir: string, body: string): string {
    const file = path.join(dir, "editor.sh")
    writeFileSync(file, `#!/bin/sh\nset -e\n${body}\n`)
    chmodSync(file, 0o755)
    return file
}

const tempDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith("kubectl-sops-edit-"))

describe("kubectl sops edit", () => {
    it("re-encrypts a changed file, keeps unchanged ciphertexts, and removes the private temp file", async () => {
        const sb = sandbox()
        const file = sb.copy("rotate/before.yaml", "secret.yaml")
        const before = readFileSync(file, "utf8")
        const log = path.join(sb.dir, "seen")
        const ed = editor(sb.dir, `stat -c '%a' "$1" "$(dirname "$1")" > ${log}\nsed -i 's/YWRtaW4=/cm9vdA==/' "$1"`)
        const r = await sb.run(["edit", "secret.yaml"], { env: { EDITOR: ed } })
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(readFileSync(log, "utf8").split("\n").slice(0, 2)).toEqual(["600", "700"])
        const after = readFileSync(file, "utf8")
        const enc = (s: string, k: string) => new RegExp(`${k}: (ENC\\[[^\\]]*\\])`).exec(s)?.[1]
        expect(enc(after, "password")).toBe(enc(before, "password"))
        expect(enc(after, "user")).not.toBe(enc(before, "user"))
        expect((await sb.run(["decrypt", "--extract", '["data"]["user"]', "secret.yaml"])).stdout).toBe("cm9vdA==")
    })

    it("exits 200 when nothing changed and leaves no temp folder", async () => {
        const sb = sandbox()
        const file = sb.copy("rotate/before.yaml", "secret.yaml")
        const before = readFileSync(file, "utf8")
        const dirsBefore = tempDirs()
        const r = await sb.run(["edit", "secret.yaml"], { env: { SOPS_EDITOR: "true" } })
        expect(r.code).toBe(200)
        expect(readFileSync(file, "utf8")).toBe(before)
        expect(tempDirs()).toEqual(dirsBefore)
    })

    it("removes the temp file when the editor fails", async () => {
        const sb = sandbox()
        sb.copy("rotate/before.yaml", "secret.yaml")
        const dirsBefore = tempDirs()
        const r = await sb.run(["edit", "secret.yaml"], { env: { EDITOR: editor(sb.dir, "echo changed >> \"$1\"; exit 3") } })
        expect(r.code).toBe(1)
        expect(tempDirs()).toEqual(dirsBefore)
    })

    it("creates a new file for the given keys", async () => {
        const sb = sandbox()
        const ed = editor(sb.dir, `printf 'token: abc\\n' > "$1"`)
        const r = await sb.run(["edit", "--age", AGE1, "new.yaml"], { env: { EDITOR: ed } })
        expect(r.code).toBe(0)
        expect(existsSync(path.join(sb.dir, "new.yaml"))).toBe(true)
        expect((await sb.run(["decrypt", "new.yaml"])).stdout).toBe("token: abc\n")
    })

    it("exits 201 when no editor can be found", async () => {
        const sb = sandbox()
        sb.copy("rotate/before.yaml", "secret.yaml")
        const r = await sb.run(["edit", "secret.yaml"], { env: { PATH: path.join(sb.dir, "empty-bin"), EDITOR: undefined, SOPS_EDITOR: undefined } })
        expect(r.code).toBe(201)
    })
})
