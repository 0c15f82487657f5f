import { readFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { AGE4, cases, sandbox } from "./fixtures.js"

describe("kubectl sops updatekeys", () => {
    it("adds the rule's new recipient with -y and keeps the values (updatekeys case)", async () => {
        const sb = sandbox()
        sb.copy("updatekeys/.sops.yaml")
        const file = sb.copy("rotate/before.yaml", "input.yaml")
        const before = readFileSync(file, "utf8")
        const r = await sb.run(["updatekeys", "-y", "input.yaml"])
        expect(r.code).toBe(0)
        expect(r.stdout).toBe(readFileSync(path.join(cases, "updatekeys/out.stdout"), "utf8"))
        expect(r.stderr).toMatch(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d Syncing keys for file input.yaml\n.* File input.yaml synced with new keys\n$/)
        const after = readFileSync(file, "utf8")
        expect(after).toContain(AGE4)
        const enc = (s: string) => /password: (ENC\[[^\]]*\])/.exec(s)?.[1]
        expect(enc(after)).toBe(enc(before))
        expect(/mac: (.*)/.exec(after)?.[1]).toBe(/mac: (.*)/.exec(before)?.[1])
        // Only the new recipient decrypts now, too.
        const only2 = await sb.run(["decrypt", "input.yaml"], { env: { SOPS_AGE_KEY_FILE: path.join(cases, "keys/age4.agekey") } })
        expect(only2.code).toBe(0)
        const again = await sb.run(["updatekeys", "-y", "input.yaml"])
        expect(again.stderr).toContain("already up to date")
    })

    it("asks, and leaves the file unchanged on 'n' or without an answer", async () => {
        const sb = sandbox()
        sb.copy("updatekeys/.sops.yaml")
        const file = sb.copy("rotate/before.yaml", "input.yaml")
        const before = readFileSync(file, "utf8")
        const no = await sb.run(["updatekeys", "input.yaml"], { input: "n\n" })
        expect(no.code).toBe(0)
        expect(no.stdout).toContain("Is this okay? (y/n):")
        expect(no.stderr).toContain("left unchanged")
        const eof = await sb.run(["updatekeys", "input.yaml"])
        expect(eof.code).toBe(1)
        expect(readFileSync(file, "utf8")).toBe(before)
        const yes = await sb.run(["updatekeys", "input.yaml"], { input: "y\n" })
        expect(yes.code).toBe(0)
        expect(readFileSync(file, "utf8")).toContain(AGE4)
    })
})
