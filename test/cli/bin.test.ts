import { readFileSync, statSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { binPath, needs, repoRoot, run, which } from "./run.js"

const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string; bin: Record<string, string> }
const kubectl = which("kubectl") ?? "kubectl"
const pathWithBin = `${path.dirname(binPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`

describe("bin/kubectl-sops", () => {
    it("is an executable node script named in package.json", () => {
        expect(pkg.bin["kubectl-sops"]).toBe("bin/kubectl-sops")
        expect(statSync(binPath).mode & 0o111).not.toBe(0)
        expect(readFileSync(binPath, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true)
    })

    it("prints the version like oclif", async () => {
        const r = await run(["--version"])
        expect(r.code).toBe(0)
        expect(r.stdout).toBe(`kubectl-sops/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
    })

    it("prints help with every command, as `kubectl sops`", async () => {
        const r = await run(["--help"])
        expect(r.code).toBe(0)
        expect(r.stdout).toContain("$ kubectl sops [COMMAND]")
        for (const id of ["completion", "decrypt", "edit", "encrypt", "filestatus", "rotate", "set", "unset", "updatekeys"]) {
            expect(r.stdout).toMatch(new RegExp(`^  ${id} `, "m"))
        }
        const viaHelp = await run(["help", "decrypt"])
        expect(viaHelp.code).toBe(0)
        expect(viaHelp.stdout).toContain("$ kubectl sops decrypt")
        const short = await run(["rotate", "-h"])
        expect(short.stdout).toContain("$ kubectl sops rotate")
        const sub = await run(["encrypt", "--help"])
        expect(sub.code).toBe(0)
        expect(sub.stdout).toContain("$ kubectl sops encrypt")
        expect(sub.stdout).toContain("--encrypted-regex")
    })

    it.runIf(needs("kubectl"))("runs as a kubectl plugin", async () => {
        const env = { ...process.env, PATH: pathWithBin }
        const version = await run(["sops", "--version"], { command: kubectl, env })
        expect(version.code).toBe(0)
        expect(version.stdout).toContain(`kubectl-sops/${pkg.version}`)
        const help = await run(["sops", "--help"], { command: kubectl, env })
        expect(help.code).toBe(0)
        expect(help.stdout).toContain("kubectl sops")
    })

    it("reports unknown commands and flags without a stack trace", async () => {
        const cmd = await run(["nope"])
        expect(cmd.code).not.toBe(0)
        expect(cmd.stderr).toContain("nope")
        const flag = await run(["encrypt", "--nope"])
        expect(flag.code).toBe(1)
        expect(flag.stderr).toBe("nonexistent flag: --nope\nhint: see `kubectl sops encrypt --help`\n")
    })
})
