import { execFileSync } from "node:child_process"
import { cpSync, mkdirSync, readFileSync, symlinkSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot, tempDir } from "./run.js"

describe("oclif.manifest.json", () => {
    it("is current: regenerating it from dist gives the committed file", () => {
        const dir = tempDir("ksops-manifest-")
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
        const committed = JSON.parse(readFileSync(path.join(repoRoot, "oclif.manifest.json"), "utf8"))
        expect(committed).toEqual(fresh)
        const ids = Object.keys(committed.commands)
        for (const id of ["completion", "decrypt", "edit", "encrypt", "filestatus", "rotate", "set", "unset", "updatekeys"]) expect(ids).toContain(id)
        for (const id of ["agent:start", "agent:stop", "agent:status", "agent:lock", "agent:unlock"]) expect(ids).toContain(id)
        for (const id of ["keys:generate", "keys:list", "keys:import", "keys:export", "keys:remove"]) expect(ids).toContain(id)
    })
})
