import { readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { cases, sandbox } from "./fixtures.js"

const encOf = (yaml: string, key: string) => new RegExp(`${key}: (ENC\\[[^\\]]*\\])`).exec(yaml)?.[1]

describe("kubectl sops set / unset", () => {
    it("sets a value like sops (set case) and keeps other ciphertexts", async () => {
        const sb = sandbox()
        const file = sb.copy("set/before.yaml", "input.yaml")
        const before = readFileSync(file, "utf8")
        const r = await sb.run(["set", "input.yaml", '["data"]["user"]', '"cm9vdA=="'])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        const after = readFileSync(file, "utf8")
        expect(encOf(after, "password")).toBe(encOf(before, "password"))
        const ours = await sb.run(["decrypt", "input.yaml"])
        writeFileSync(path.join(sb.dir, "sops.yaml"), readFileSync(path.join(cases, "set/out.stdout")))
        const sops = await sb.run(["decrypt", "sops.yaml"])
        expect(ours.stdout).toBe(sops.stdout)
    })

    it("takes the value from --value-stdin and --value-file, and --idempotent leaves the file alone", async () => {
        const sb = sandbox()
        const file = sb.copy("set/before.yaml", "input.yaml")
        expect((await sb.run(["set", "--value-stdin", "input.yaml", '["data"]["x"]'], { input: '{"a": [1, "b"]}' })).code).toBe(0)
        writeFileSync(path.join(sb.dir, "v.json"), '"from-file"')
        expect((await sb.run(["set", "--value-file", "input.yaml", '["data"]["other"]', "v.json"])).code).toBe(0)
        const plain = (await sb.run(["decrypt", "input.yaml"])).stdout
        expect(plain).toContain("    other: from-file")
        expect(plain).toMatch(/x:\n\s+a:\n\s+- 1\n\s+- b/)
        const before = readFileSync(file, "utf8")
        expect((await sb.run(["set", "--idempotent", "input.yaml", '["data"]["other"]', '"from-file"'])).code).toBe(0)
        expect(readFileSync(file, "utf8")).toBe(before)
    })

    it("rejects bad paths (91), bad JSON (7, as sops) and conflicting value sources (8)", async () => {
        const sb = sandbox()
        sb.copy("set/before.yaml", "input.yaml")
        expect((await sb.run(["set", "input.yaml", "data.user", '"x"'])).code).toBe(91)
        const badJson = await sb.run(["set", "input.yaml", '["data"]["user"]', "not json"])
        expect(badJson.code).toBe(7)
        expect(badJson.stderr).toContain("JSON")
        expect((await sb.run(["set", "--value-file", "--value-stdin", "input.yaml", '["a"]'])).code).toBe(8)
    })

    it("a VALUE that is not JSON: says what was expected, never echoes the value (finding 2)", async () => {
        const sb = sandbox()
        const file = sb.copy("set/before.yaml", "input.yaml")
        const before = readFileSync(file, "utf8")
        const bare = await sb.run(["set", "input.yaml", '["data"]["user"]', "hunter2-secret"])
        expect(bare.code).toBe(7)
        expect(bare.stderr.split("\n")[0]).toBe(`VALUE must be JSON: quote a string as '"text"'`)
        writeFileSync(path.join(sb.dir, "v.json"), "hunter2-secret\n")
        const fromFile = await sb.run(["set", "--value-file", "input.yaml", '["data"]["user"]', "v.json"])
        expect(fromFile.code).toBe(7)
        expect(fromFile.stderr).toContain("must be JSON")
        const fromStdin = await sb.run(["set", "--value-stdin", "input.yaml", '["data"]["user"]'], { input: '{"a": hunter2-secret}' })
        expect(fromStdin.code).toBe(7)
        expect(fromStdin.stderr).toContain("must be JSON")
        const huge = await sb.run(["set", "input.yaml", '["data"]["user"]', '{"n": 1e999, "s": "hunter2-secret"}'])
        expect(huge.code).toBe(7)
        for (const r of [bare, fromFile, fromStdin, huge]) expect(r.stdout + r.stderr).not.toContain("hunter2")
        expect(readFileSync(file, "utf8")).toBe(before)
    })

    it("unsets a key (unset case), and --idempotent accepts a missing key", async () => {
        const sb = sandbox()
        const file = sb.copy("unset/before.yaml", "input.yaml")
        const r = await sb.run(["unset", "input.yaml", '["data"]["user"]'])
        expect(r.code).toBe(0)
        writeFileSync(path.join(sb.dir, "sops.yaml"), readFileSync(path.join(cases, "unset/out.stdout")))
        expect((await sb.run(["decrypt", "input.yaml"])).stdout).toBe((await sb.run(["decrypt", "sops.yaml"])).stdout)
        const missing = await sb.run(["unset", "input.yaml", '["data"]["user"]'])
        expect(missing.code).toBe(1)
        const before = readFileSync(file, "utf8")
        expect((await sb.run(["unset", "--idempotent", "input.yaml", '["data"]["user"]'])).code).toBe(0)
        expect(readFileSync(file, "utf8")).toBe(before)
    })
})
