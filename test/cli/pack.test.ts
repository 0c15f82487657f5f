import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, onTestFinished } from "vitest"
import { AGE1, cases } from "../commands/fixtures.js"
import { repoRoot, run, tempDir, which } from "./run.js"
import { itShared } from "../conformance-data.js"

describe("npm pack", () => {
    itShared("gives a package that installs globally and runs as a kubectl plugin", async () => {
        const dir = tempDir("ksops-pack-")
        onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
        execFileSync("npm", ["pack", "--pack-destination", dir], { cwd: repoRoot, stdio: "ignore" })
        const tgz = readdirSync(dir).find((n) => n.endsWith(".tgz"))
        expect(tgz).toMatch(/^kubectl-sops-\d+\.\d+\.\d+\.tgz$/)
        const prefix = path.join(dir, "prefix")
        execFileSync("npm", ["install", "--global", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", path.join(dir, tgz!)], {
            cwd: dir,
            stdio: "ignore",
        })
        const installed = path.join(prefix, "bin", "kubectl-sops")
        expect(existsSync(installed)).toBe(true)
        const env = { ...process.env, PATH: `${path.dirname(installed)}:${process.env.PATH ?? "/usr/bin:/bin"}` }
        const help = await run(["--help"], { command: installed, env })
        expect(help.code).toBe(0)
        expect(help.stdout).toContain("$ kubectl sops [COMMAND]")
        expect(help.stdout).toMatch(/^ {2}encrypt /m)
        // kubectl finds the plugin on PATH; .ci/run installs kubectl (to /usr/local/bin), so in CI it must be there
        const kubectl = which("kubectl")
        if (process.env.CI === "true" && kubectl === undefined) throw new Error("CI=true but kubectl is not on PATH (.ci/run installs it)")
        if (kubectl !== undefined) {
            const viaKubectl = await run(["sops", "--help"], { command: kubectl, env })
            expect(viaKubectl.code).toBe(0)
            expect(viaKubectl.stdout).toContain("$ kubectl sops [COMMAND]")
        }
        writeFileSync(path.join(dir, "s.yaml"), "data:\n  password: c2VjcmV0\n")
        const keyEnv = { ...env, SOPS_AGE_KEY_FILE: path.join(cases, "keys/all.agekey") }
        const enc = await run(["encrypt", "--age", AGE1, "--output", "e.yaml", "s.yaml"], { command: installed, env: keyEnv, cwd: dir })
        expect(enc.stderr).toBe("")
        const dec = await run(["decrypt", "e.yaml"], { command: installed, env: keyEnv, cwd: dir })
        expect(dec.stdout).toBe("data:\n    password: c2VjcmV0\n")
    })
})
