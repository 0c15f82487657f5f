import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import { AGE1, type Sandbox, sandbox } from "./fixtures.js"

function editor(dir: string, body: string): string {
    const file = path.join(dir, "editor.sh")
    writeFileSync(file, `#!/bin/sh\nset -e\n${body}\n`)
    chmodSync(file, 0o755)
    return file
}

/** A sandbox with its own TMPDIR (the edit temp folders of other test workers never show up in it), removed after the test. */
function editSandbox(): Sandbox & { tmp: string; tempDirs: () => string[] } {
    const sb = sandbox()
    onTestFinished(() => rmSync(sb.dir, { recursive: true, force: true }))
    const tmp = path.join(sb.dir, "tmp")
    mkdirSync(tmp)
    sb.env.TMPDIR = tmp
    return { ...sb, run: (args, o = {}) => sb.run(args, { ...o, env: { TMPDIR: tmp, ...(o.env ?? {}) } }), tmp, tempDirs: () => readdirSync(tmp) }
}

const RETRY = "Could not load tree, probably due to invalid syntax. Press a key to return to the editor, or Ctrl+C to exit."

/** An editor that appends a line with an unclosed flow sequence (invalid YAML) on its first `invalidRuns` runs, then fixes it. */
function flakyEditor(dir: string, invalidRuns: number): string {
    const count = path.join(dir, "runs")
    return editor(
        dir,
        `n=$(cat ${count} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > ${count}
if [ $n -gt 1 ]; then grep -q 'broken: \\[' "$1"; fi
if [ $n -le ${invalidRuns} ]; then
    grep -q 'broken: \\[' "$1" || printf 'broken: [1, 2\\n' >> "$1"
else
    sed -i 's/^broken: \\[1, 2$/fixed: done/' "$1"
fi`,
    )
}

describe("kubectl sops edit", () => {
    it("re-encrypts a changed file, keeps unchanged ciphertexts, and removes the private temp file", async () => {
        const sb = editSandbox()
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
        expect(sb.tempDirs()).toEqual([])
    })

    it("exits 200 when nothing changed and leaves no temp folder", async () => {
        const sb = editSandbox()
        const file = sb.copy("rotate/before.yaml", "secret.yaml")
        const before = readFileSync(file, "utf8")
        const r = await sb.run(["edit", "secret.yaml"], { env: { SOPS_EDITOR: "true" } })
        expect(r.code).toBe(200)
        expect(readFileSync(file, "utf8")).toBe(before)
        expect(sb.tempDirs()).toEqual([])
    })

    it("removes the temp file when the editor fails", async () => {
        const sb = editSandbox()
        sb.copy("rotate/before.yaml", "secret.yaml")
        const r = await sb.run(["edit", "secret.yaml"], { env: { EDITOR: editor(sb.dir, "echo changed >> \"$1\"; exit 3") } })
        expect(r.code).toBe(1)
        expect(sb.tempDirs()).toEqual([])
    })

    it("creates a new file for the given keys", async () => {
        const sb = editSandbox()
        const ed = editor(sb.dir, `printf 'token: abc\\n' > "$1"`)
        const r = await sb.run(["edit", "--age", AGE1, "new.yaml"], { env: { EDITOR: ed } })
        expect(r.code).toBe(0)
        expect(existsSync(path.join(sb.dir, "new.yaml"))).toBe(true)
        expect((await sb.run(["decrypt", "new.yaml"])).stdout).toBe("token: abc\n")
    })

    it("exits 201 when no editor can be found", async () => {
        const sb = editSandbox()
        sb.copy("rotate/before.yaml", "secret.yaml")
        const r = await sb.run(["edit", "secret.yaml"], { env: { PATH: path.join(sb.dir, "empty-bin"), EDITOR: undefined, SOPS_EDITOR: undefined } })
        expect(r.code).toBe(201)
    })

    it("on a syntax error shows it, and a key press reopens the editor on the same text", async () => {
        const sb = editSandbox()
        const file = sb.copy("rotate/before.yaml", "secret.yaml")
        const r = await sb.run(["edit", "secret.yaml"], { env: { EDITOR: flakyEditor(sb.dir, 1) }, input: "\n" })
        expect(r.code, r.stderr).toBe(0)
        expect(readFileSync(path.join(sb.dir, "runs"), "utf8").trim()).toBe("2")
        const lines = r.stderr.split("\n")
        expect(lines[0]).toMatch(/^secret\.yaml \(edited\)/)
        expect(lines[1]).toBe(RETRY)
        // (outside encrypted_regex: stays readable)
        expect(readFileSync(file, "utf8")).toContain("\nfixed: done\n")
        expect((await sb.run(["decrypt", "--extract", '["fixed"]', "secret.yaml"])).stdout).toBe("done")
        expect(sb.tempDirs()).toEqual([])
    })

    it("keeps the edited text and prints its path when the user refuses a second time; the file stays untouched", async () => {
        const sb = editSandbox()
        const file = sb.copy("rotate/before.yaml", "secret.yaml")
        const before = readFileSync(file)
        // one key press, then end of input: the second error cannot be answered
        const r = await sb.run(["edit", "secret.yaml"], { env: { EDITOR: flakyEditor(sb.dir, 5) }, input: "\n" })
        expect(r.code).toBe(1)
        expect(readFileSync(path.join(sb.dir, "runs"), "utf8").trim()).toBe("2")
        expect(readFileSync(file).equals(before)).toBe(true)
        const m = /^your edits are kept in (.*); the encrypted file is unchanged$/m.exec(r.stderr)
        expect(m, r.stderr).not.toBeNull()
        const kept = (m as RegExpExecArray)[1]
        expect(path.dirname(path.dirname(kept))).toBe(sb.tmp)
        expect(readFileSync(kept, "utf8")).toContain("broken: [1, 2\n")
        expect(statSync(kept).mode & 0o777).toBe(0o600)
        expect(r.stderr).toMatch(/\nhint: .+\n$/)
        expect(r.stderr.split("\n").filter((l) => l === RETRY)).toHaveLength(2)
    })

    it("keeps the edited text at once when stdin cannot answer", async () => {
        const sb = editSandbox()
        const file = sb.copy("rotate/before.yaml", "secret.yaml")
        const before = readFileSync(file)
        const r = await sb.run(["edit", "secret.yaml"], { env: { EDITOR: flakyEditor(sb.dir, 5) } })
        expect(r.code).toBe(1)
        expect(readFileSync(path.join(sb.dir, "runs"), "utf8").trim()).toBe("1")
        expect(readFileSync(file).equals(before)).toBe(true)
        const kept = /^your edits are kept in (.*);/m.exec(r.stderr)?.[1]
        expect(kept !== undefined && readFileSync(kept, "utf8").includes("broken: [1, 2")).toBe(true)
    })

    it("writes through a symbolic link to its target, keeping the link and the target's mode", async () => {
        const sb = editSandbox()
        mkdirSync(path.join(sb.dir, "real"))
        const target = sb.copy("rotate/before.yaml", "real/secret.yaml")
        chmodSync(target, 0o640)
        symlinkSync("real/secret.yaml", path.join(sb.dir, "secret.yaml"))
        const r = await sb.run(["edit", "secret.yaml"], { env: { EDITOR: editor(sb.dir, `sed -i 's/YWRtaW4=/cm9vdA==/' "$1"`) } })
        expect(r.code, r.stderr).toBe(0)
        expect(lstatSync(path.join(sb.dir, "secret.yaml")).isSymbolicLink()).toBe(true)
        expect(statSync(target).mode & 0o777).toBe(0o640)
        expect((await sb.run(["decrypt", "--extract", '["data"]["user"]', "real/secret.yaml"])).stdout).toBe("cm9vdA==")
        expect(readdirSync(path.join(sb.dir, "real"))).toEqual(["secret.yaml"])
    })
})
