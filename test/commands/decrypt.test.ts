import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { cases, sandbox } from "./fixtures.js"

const expected = (name: string, file: string) => readFileSync(path.join(cases, name, file), "utf8")

describe("kubectl sops decrypt", () => {
    it("prints exactly what sops prints", async () => {
        const sb = sandbox()
        sb.copy("decrypt/input.yaml")
        const r = await sb.run(["decrypt", "input.yaml"])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(r.stdout).toBe(expected("decrypt", "out.stdout"))
    })

    it("reads stdin with --input-type", async () => {
        const sb = sandbox()
        const r = await sb.run(["decrypt", "--input-type", "yaml"], { input: readFileSync(path.join(cases, "decrypt/input.yaml"), "utf8") })
        expect(r.code).toBe(0)
        expect(r.stdout).toBe(expected("decrypt", "out.stdout"))
    })

    it("--extract prints a string raw, without a newline", async () => {
        const sb = sandbox()
        sb.copy("extract/input.yaml")
        const r = await sb.run(["decrypt", "--extract", '["data"]["password"]', "input.yaml"])
        expect(r.code).toBe(0)
        expect(r.stdout).toBe(expected("extract", "out.stdout"))
        expect(r.stdout.endsWith("\n")).toBe(false)
    })

    it("rejects a bad --extract path with exit 91", async () => {
        const sb = sandbox()
        sb.copy("extract/input.yaml")
        const r = await sb.run(["decrypt", "--extract", '["data"', "input.yaml"])
        expect(r.code).toBe(91)
    })

    it.each([
        ["err-mac-mismatch", 51],
        ["err-tampered-value", 25],
        ["err-not-encrypted", 1],
    ])("%s exits like sops with sops' message", async (name, code) => {
        const sb = sandbox()
        sb.copy(`${name}/input.yaml`)
        const r = await sb.run(["decrypt", "input.yaml"])
        expect(r.code).toBe(code)
        expect(r.stdout).toBe("")
        // sops' first line, except that ours names the value that failed and never prints the computed MAC (a hash
        // of every plaintext value: an offline guessing oracle for short secrets)
        const sopsFirstLine = expected(name, "out.stderr")
            .split("\n")[0]
            .replace(/, computed [0-9A-F]+$/, "")
            .replace("Could not decrypt value:", 'Could not decrypt value at ["data"]["password"]:')
        expect(r.stderr.split("\n")[0]).toBe(sopsFirstLine)
        expect(r.stderr).not.toContain("computed")
        expect(r.stderr).not.toMatch(/\n\s+at /)
    })

    it("reports every failed key and exits 128 without a usable key", async () => {
        const sb = sandbox()
        sb.copy("err-no-key/input.yaml")
        const r = await sb.run(["decrypt", "input.yaml"], { env: { SOPS_AGE_KEY_FILE: "/nonexistent" } })
        expect(r.code).toBe(128)
        const sops = expected("err-no-key", "out.stderr").split("\n")
        const ours = r.stderr.split("\n")
        expect(ours.slice(0, 4)).toEqual(sops.slice(0, 4))
        expect(r.stderr).toContain("Recovery failed because no master key was able to decrypt the file.")
    })

    it("exits 8 for -i on stdin and for -i with --output", async () => {
        const sb = sandbox()
        sb.copy("decrypt/input.yaml")
        expect((await sb.run(["decrypt", "-i"], { input: "a: b\n" })).code).toBe(8)
        const both = await sb.run(["decrypt", "-i", "--output", "x.yaml", "input.yaml"])
        expect(both.code).toBe(8)
        expect(readFileSync(path.join(sb.dir, "input.yaml"), "utf8")).toBe(readFileSync(path.join(cases, "decrypt/input.yaml"), "utf8"))
    })

    it("exits 100 for a missing file", async () => {
        const sb = sandbox()
        const r = await sb.run(["decrypt", "missing.yaml"])
        expect(r.code).toBe(100)
        expect(r.stderr.split("\n")[0]).toBe("Error: cannot operate on non-existent file")
    })

    it("exits 1 with a one-line message for an unknown flag", async () => {
        const sb = sandbox()
        const r = await sb.run(["decrypt", "--bogus", "x.yaml"])
        expect(r.code).toBe(1)
        expect(r.stderr.split("\n")[0]).toBe("nonexistent flag: --bogus")
    })

    it("decrypts in place and with --output (0600)", async () => {
        const sb = sandbox()
        sb.copy("decrypt/input.yaml")
        const out = await sb.run(["decrypt", "--output", "plain.yaml", "input.yaml"])
        expect(out.code).toBe(0)
        expect(out.stdout).toBe("")
        expect(readFileSync(path.join(sb.dir, "plain.yaml"), "utf8")).toBe(expected("decrypt", "out.stdout"))
        expect(statSync(path.join(sb.dir, "plain.yaml")).mode & 0o777).toBe(0o600)
        const inPlace = await sb.run(["decrypt", "-i", "input.yaml"])
        expect(inPlace.code).toBe(0)
        expect(readFileSync(path.join(sb.dir, "input.yaml"), "utf8")).toBe(expected("decrypt", "out.stdout"))
    })

    it("--output onto an existing 0644 file leaves the plaintext 0600", async () => {
        const sb = sandbox()
        sb.copy("decrypt/input.yaml")
        const out = path.join(sb.dir, "plain.yaml")
        writeFileSync(out, "old\n")
        chmodSync(out, 0o644)
        const r = await sb.run(["decrypt", "--output", "plain.yaml", "input.yaml"])
        expect(r.code, r.stderr).toBe(0)
        expect(readFileSync(out, "utf8")).toBe(expected("decrypt", "out.stdout"))
        expect(statSync(out).mode & 0o777).toBe(0o600)
    })

    it("-i on a 0644 file leaves the plaintext 0600", async () => {
        const sb = sandbox()
        const file = sb.copy("decrypt/input.yaml")
        chmodSync(file, 0o644)
        const r = await sb.run(["decrypt", "-i", "input.yaml"])
        expect(r.code, r.stderr).toBe(0)
        expect(readFileSync(file, "utf8")).toBe(expected("decrypt", "out.stdout"))
        expect(statSync(file).mode & 0o777).toBe(0o600)
    })

    it("-i through a chain of two links writes the target in another folder and keeps the links", async () => {
        const sb = sandbox()
        mkdirSync(path.join(sb.dir, "real"))
        mkdirSync(path.join(sb.dir, "links"))
        const target = sb.copy("decrypt/input.yaml", "real/secret.yaml")
        symlinkSync("../real/secret.yaml", path.join(sb.dir, "links", "middle.yaml"))
        symlinkSync("links/middle.yaml", path.join(sb.dir, "secret.yaml"))
        const r = await sb.run(["decrypt", "-i", "secret.yaml"])
        expect(r.code, r.stderr).toBe(0)
        expect(lstatSync(path.join(sb.dir, "secret.yaml")).isSymbolicLink()).toBe(true)
        expect(lstatSync(path.join(sb.dir, "links", "middle.yaml")).isSymbolicLink()).toBe(true)
        expect(readFileSync(target, "utf8")).toBe(expected("decrypt", "out.stdout"))
        expect(statSync(target).mode & 0o777).toBe(0o600)
        expect(readdirSync(path.join(sb.dir, "real"))).toEqual(["secret.yaml"])
    })
})
