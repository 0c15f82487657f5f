/**
 * Bulk mode with one bad file among several (README "Bulk mode"): the run goes on, the good files are processed,
 * each error is one `file: message` line, and the exit status is that of the first failure in file order.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { AGE1, type Sandbox, sandbox } from "../commands/fixtures.js"

const BAD_YAML = "b: [1\n"

/** A sandbox with a creation rule for .yaml/.json, two good files at the top, a folder with a bad and a good file. */
function bulkSandbox(): Sandbox {
    const sb = sandbox()
    writeFileSync(path.join(sb.dir, ".sops.yaml"), `creation_rules:\n  - path_regex: '\\.(yaml|json)$'\n    age: ${AGE1}\n`)
    mkdirSync(path.join(sb.dir, "dir/sub"), { recursive: true })
    writeFileSync(path.join(sb.dir, "a.yaml"), "a: secret-a\n")
    writeFileSync(path.join(sb.dir, "z.json"), '{"z": "secret-z"}\n')
    writeFileSync(path.join(sb.dir, "dir/bad.yaml"), BAD_YAML)
    writeFileSync(path.join(sb.dir, "dir/sub/c.yaml"), "c: secret-c\n")
    return sb
}

const read = (sb: Sandbox, f: string) => readFileSync(path.join(sb.dir, f), "utf8")

/** The `file: …` lines of stderr (hint lines left out). */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l !== "" && !l.startsWith("hint: "))

async function statuses(sb: Sandbox, files: string[]): Promise<Record<string, boolean>> {
    const r = await sb.run(["filestatus", ...files])
    expect(r.code, r.stderr).toBe(0)
    return Object.fromEntries(r.stdout.trim().split("\n").map((l) => [JSON.parse(l).file, JSON.parse(l).encrypted]))
}

const GOOD = ["a.yaml", "dir/sub/c.yaml", "z.json"]

describe("bulk mode with a bad file", () => {
    it("encrypt -i: goes on past a malformed file and a missing one; exits with the first failure's status", async () => {
        const sb = bulkSandbox()
        const r = await sb.run(["encrypt", "-i", "a.yaml", "missing.yaml", "dir", "z.json"])
        // missing.yaml (100) comes before dir/bad.yaml (2: sops' could-not-read-input for a plaintext that does not parse)
        expect(r.code).toBe(100)
        expect(errorLines(r.stderr)).toEqual([
            "missing.yaml: Error: cannot operate on non-existent file",
            expect.stringMatching(/^dir\/bad\.yaml: .*Error unmarshaling input YAML: yaml: line 2: did not find expected ',' or ']'$/),
        ])
        expect(await statuses(sb, GOOD)).toEqual({ "a.yaml": true, "dir/sub/c.yaml": true, "z.json": true })
        expect(read(sb, "dir/bad.yaml")).toBe(BAD_YAML)
        expect(read(sb, "a.yaml")).not.toContain("secret-a")

        // the other order: the malformed file fails first
        const sb2 = bulkSandbox()
        const r2 = await sb2.run(["encrypt", "-i", "dir", "missing.yaml", "a.yaml"])
        expect(r2.code).toBe(2)
        expect(errorLines(r2.stderr).map((l) => l.split(":")[0])).toEqual(["dir/bad.yaml", "missing.yaml"])
        expect(await statuses(sb2, ["a.yaml", "dir/sub/c.yaml"])).toEqual({ "a.yaml": true, "dir/sub/c.yaml": true })
    })

    it("decrypt -i: a tampered file and a malformed one do not stop the others", async () => {
        const sb = bulkSandbox()
        expect((await sb.run(["encrypt", "-i", ...GOOD])).code).toBe(0)
        // t.yaml: an encrypted file whose value was changed (sops: 25, error decrypting the tree)
        writeFileSync(path.join(sb.dir, "t.yaml"), "t: secret-t\n")
        expect((await sb.run(["encrypt", "-i", "t.yaml"])).code).toBe(0)
        const tampered = read(sb, "t.yaml").replace(/^t: ENC\[AES256_GCM,data:[^,]+,/m, "t: ENC[AES256_GCM,data:AAAA,")
        expect(tampered).not.toBe(read(sb, "t.yaml"))
        writeFileSync(path.join(sb.dir, "t.yaml"), tampered)

        const r = await sb.run(["decrypt", "-i", "a.yaml", "t.yaml", "dir", "z.json"])
        expect(r.code).toBe(25)
        const lines = errorLines(r.stderr)
        expect(lines.map((l) => l.split(":")[0])).toEqual(["t.yaml", "dir/bad.yaml"])
        expect(lines[0]).toMatch(/^t\.yaml: Error decrypting tree: /)
        expect(read(sb, "a.yaml")).toBe("a: secret-a\n")
        expect(read(sb, "dir/sub/c.yaml")).toBe("c: secret-c\n")
        expect(JSON.parse(read(sb, "z.json"))).toEqual({ z: "secret-z" })
        expect(read(sb, "t.yaml")).toBe(tampered)
        expect(read(sb, "dir/bad.yaml")).toBe(BAD_YAML)
        // nothing of a secret is printed
        expect(r.stderr).not.toMatch(/secret-/)
    })

    it("filestatus: prints the good files, reports the bad ones, exits with the first failure's status", async () => {
        const sb = bulkSandbox()
        expect((await sb.run(["encrypt", "-i", "a.yaml"])).code).toBe(0)
        const r = await sb.run(["filestatus", "a.yaml", "dir", "missing.yaml", "z.json"])
        expect(r.code).toBe(1)
        expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
            { file: "a.yaml", encrypted: true },
            { file: "dir/sub/c.yaml", encrypted: false },
            { file: "z.json", encrypted: false },
        ])
        expect(errorLines(r.stderr).map((l) => l.split(":")[0])).toEqual(["dir/bad.yaml", "missing.yaml"])

        // missing first: its status, the one a single-file run gives
        const single = await sb.run(["filestatus", "missing.yaml"])
        expect(single.code).not.toBe(0)
        const missingFirst = await sb.run(["filestatus", "missing.yaml", "dir"])
        expect(missingFirst.code).toBe(single.code)
        expect(missingFirst.code).not.toBe(1)
    })
})
