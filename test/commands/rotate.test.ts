import { readFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { AGE2, sandbox } from "./fixtures.js"

describe("kubectl sops rotate", () => {
    it("makes a new data key and keeps the plaintext", async () => {
        const sb = sandbox()
        const file = sb.copy("rotate/before.yaml", "secret.yaml")
        const before = readFileSync(file, "utf8")
        const plain = (await sb.run(["decrypt", "secret.yaml"])).stdout
        const r = await sb.run(["rotate", "-i", "secret.yaml"])
        expect(r.code).toBe(0)
        const after = readFileSync(file, "utf8")
        expect(after).not.toBe(before)
        const enc = (s: string) => /password: (ENC\[[^\]]*\])/.exec(s)?.[1]
        expect(enc(after)).not.toBe(enc(before))
        expect((await sb.run(["decrypt", "secret.yaml"])).stdout).toBe(plain)
    })

    it("adds and removes age recipients (rotate-add-age)", async () => {
        const sb = sandbox()
        const file = sb.copy("rotate-add-age/before.yaml", "secret.yaml")
        const r = await sb.run(["rotate", "--add-age", AGE2, "secret.yaml"])
        expect(r.code).toBe(0)
        expect(r.stdout).toContain(`recipient: ${AGE2}`)
        expect(readFileSync(file, "utf8")).not.toContain(AGE2)
        const added = await sb.run(["rotate", "-i", "--add-age", AGE2, "secret.yaml"])
        expect(added.code).toBe(0)
        expect(readFileSync(file, "utf8")).toContain(AGE2)
        const removed = await sb.run(["rotate", "-i", "--rm-age", AGE2, "secret.yaml"])
        expect(removed.code).toBe(0)
        expect(readFileSync(file, "utf8")).not.toContain(AGE2)
        expect((await sb.run(["decrypt", "secret.yaml"])).code).toBe(0)
    })

    it("exits 100 for a missing file", async () => {
        const sb = sandbox()
        expect((await sb.run(["rotate", path.join(sb.dir, "nope.yaml")])).code).toBe(100)
    })
})
