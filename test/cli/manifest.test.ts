import { execFileSync } from "node:child_process"
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import { repoRoot, tempDir } from "./run.js"

/*
 * The build (npm test runs it first) rewrites oclif.manifest.json, so this test cannot tell whether the file was
 * committed: .ci/run checks that with `git diff --exit-code oclif.manifest.json` after npm test. This test checks
 * the build's own step: its sorted rewrite keeps everything `oclif manifest` generates from dist.
 */
describe("oclif.manifest.json", () => {
    it("is what `oclif manifest` generates from dist, sorted by command id", () => {
        const dir = tempDir("ksops-manifest-")
        onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
        cpSync(path.join(repoRoot, "package.json"), path.join(dir, "package.json"))
        mkdirSync(path.join(dir, "dist"))
        cpSync(path.join(repoRoot, "dist", "src"), path.join(dir, "dist", "src"), { recursive: true })
        symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"))
        execFileSync(path.join(repoRoot, "node_modules", ".bin", "oclif"), ["manifest"], {
            cwd: dir,
            stdio: ["ignore", "ignore", "pipe"],
            env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: "true" },
        })
        const fresh = JSON.parse(readFileSync(path.join(dir, "oclif.manifest.json"), "utf8"))
        const built = readFileSync(path.join(repoRoot, "oclif.manifest.json"), "utf8")
        const committed = JSON.parse(built)
        expect(committed).toEqual(fresh)
        const ids = Object.keys(committed.commands)
        expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
        for (const id of ["completion", "decrypt", "edit", "encrypt", "filestatus", "rotate", "set", "unset", "updatekeys"]) expect(ids).toContain(id)
        for (const id of ["agent:start", "agent:stop", "agent:status", "agent:lock", "agent:unlock"]) expect(ids).toContain(id)
        for (const id of ["keys:generate", "keys:list", "keys:import", "keys:export", "keys:remove"]) expect(ids).toContain(id)
    })
})
