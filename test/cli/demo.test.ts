import { spawnSync } from "node:child_process"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "./run.js"

describe("npm run demo", () => {
    it("encrypts and decrypts the basic-auth Secret in a temp folder", () => {
        const r = spawnSync(process.execPath, [path.join(repoRoot, "scripts/demo.mjs")], { encoding: "utf8" })
        expect(r.stderr).toBe("")
        expect(r.status).toBe(0)
        expect(r.stdout).toContain("== 4. kubectl sops encrypt --in-place basic-auth.yaml")
        expect(r.stdout).toMatch(/password: ENC\[AES256_GCM,/)
        expect(r.stdout).toContain('{"encrypted":true}')
        expect(r.stdout).toContain('Y2hhbmdlLW1l  (base64 of "change-me")')
        expect(r.stdout).toContain("== done")
    })
})
