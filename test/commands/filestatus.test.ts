import { describe, expect, it } from "vitest"
import { sandbox } from "./fixtures.js"

describe("kubectl sops filestatus", () => {
    it("prints sops' JSON for encrypted and plain files", async () => {
        const sb = sandbox()
        sb.copy("filestatus/input.yaml", "enc.yaml")
        sb.copy("secret-age/plain.yaml", "plain.yaml")
        const enc = await sb.run(["filestatus", "enc.yaml"])
        expect(enc.code).toBe(0)
        expect(enc.stdout).toBe('{"encrypted":true}\n')
        const plain = await sb.run(["filestatus", "plain.yaml"])
        expect(plain.code).toBe(0)
        expect(plain.stdout).toBe('{"encrypted":false}\n')
    })

    it("prints one JSON line per file in bulk mode", async () => {
        const sb = sandbox()
        sb.copy("filestatus/input.yaml", "enc.yaml")
        sb.copy("secret-age/plain.yaml", "plain.yaml")
        const r = await sb.run(["filestatus", "enc.yaml", "plain.yaml"])
        expect(r.code).toBe(0)
        expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
            { file: "enc.yaml", encrypted: true },
            { file: "plain.yaml", encrypted: false },
        ])
    })

    it("needs a file", async () => {
        const sb = sandbox()
        const r = await sb.run(["filestatus"])
        expect(r.code).toBe(1)
        expect(r.stderr).toContain("missing required argument file")
    })
})
