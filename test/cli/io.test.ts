import { spawn } from "node:child_process"
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, watch, writeFileSync } from "node:fs"
import path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it, onTestFinished } from "vitest"
import { readInput, writeFileAtomic } from "../../src/cli/io.js"
import { ErrorKind, KsopsError } from "../../src/errors.js"
import { AGE1, AGE2, sandbox } from "../commands/fixtures.js"
import { repoRoot, tempDir } from "./run.js"

/** A temp folder removed when the test ends. */
function ownTempDir(): string {
    const dir = tempDir()
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    return dir
}

describe("readInput", () => {
    it("reports a missing file as could-not-read-input-file", async () => {
        const dir = tempDir()
        const error = await readInput(path.join(dir, "missing.yaml")).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(KsopsError)
        expect((error as KsopsError).kind).toBe(ErrorKind.CouldNotReadInputFile)
        expect((error as KsopsError).message).toContain("missing.yaml")
    })
})

describe("writeFileAtomic", () => {
    it("creates new files 0600 and keeps the mode of existing files", async () => {
        const dir = tempDir()
        const fresh = path.join(dir, "new.yaml")
        await writeFileAtomic(fresh, Buffer.from("a: 1\n"))
        expect(readFileSync(fresh, "utf8")).toBe("a: 1\n")
        expect(statSync(fresh).mode & 0o777).toBe(0o600)
        const old = path.join(dir, "old.yaml")
        writeFileSync(old, "x", { mode: 0o640 })
        await writeFileAtomic(old, Buffer.from("y"))
        expect(readFileSync(old, "utf8")).toBe("y")
        expect(statSync(old).mode & 0o777).toBe(0o640)
        expect(readdirSync(dir).sort()).toEqual(["new.yaml", "old.yaml"])
    })

    it("writes through a symbolic link to its target in another folder: the link stays, the mode is kept", async () => {
        const dir = ownTempDir()
        mkdirSync(path.join(dir, "real"))
        mkdirSync(path.join(dir, "links"))
        const target = path.join(dir, "real", "secret.yaml")
        writeFileSync(target, "plain: old\n")
        chmodSync(target, 0o640)
        const link = path.join(dir, "links", "secret.yaml")
        symlinkSync("../real/secret.yaml", link)
        await writeFileAtomic(link, Buffer.from("enc: new\n"))
        expect(lstatSync(link).isSymbolicLink()).toBe(true)
        expect(readlinkSync(link)).toBe("../real/secret.yaml")
        expect(readFileSync(target, "utf8")).toBe("enc: new\n")
        expect(statSync(target).mode & 0o7777).toBe(0o640)
        // the temp file lived in the target's folder and is gone
        expect(readdirSync(path.join(dir, "real"))).toEqual(["secret.yaml"])
        expect(readdirSync(path.join(dir, "links"))).toEqual(["secret.yaml"])
    })

    it("follows a chain of two links to the final target", async () => {
        const dir = ownTempDir()
        for (const d of ["a", "b", "c"]) mkdirSync(path.join(dir, d))
        const target = path.join(dir, "c", "secret.env")
        writeFileSync(target, "A=1\n")
        chmodSync(target, 0o604)
        symlinkSync(target, path.join(dir, "b", "middle"))
        symlinkSync("../b/middle", path.join(dir, "a", "first"))
        await writeFileAtomic(path.join(dir, "a", "first"), Buffer.from("A=2\n"))
        expect(lstatSync(path.join(dir, "a", "first")).isSymbolicLink()).toBe(true)
        expect(lstatSync(path.join(dir, "b", "middle")).isSymbolicLink()).toBe(true)
        expect(readFileSync(target, "utf8")).toBe("A=2\n")
        expect(statSync(target).mode & 0o7777).toBe(0o604)
        expect(readdirSync(path.join(dir, "c"))).toEqual(["secret.env"])
    })

    it("keeps the owner and group of the file it replaces (root)", async () => {
        if (process.getuid?.() !== 0) return
        const dir = ownTempDir()
        const file = path.join(dir, "owned.yaml")
        writeFileSync(file, "a: 1\n", { mode: 0o640 })
        chownSync(file, 65534, 65534)
        await writeFileAtomic(file, Buffer.from("a: 2\n"))
        const st = statSync(file)
        expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([65534, 65534, 0o640])
        expect(readFileSync(file, "utf8")).toBe("a: 2\n")
    })

    it("writes plaintext 0600 even over an existing 0644 file, and through a link", async () => {
        const dir = ownTempDir()
        const file = path.join(dir, "plain.yaml")
        writeFileSync(file, "old\n")
        chmodSync(file, 0o644)
        await writeFileAtomic(file, Buffer.from("secret: x\n"), { plaintext: true })
        expect(statSync(file).mode & 0o7777).toBe(0o600)
        expect(readFileSync(file, "utf8")).toBe("secret: x\n")
        const target = path.join(dir, "target.yaml")
        writeFileSync(target, "old\n")
        chmodSync(target, 0o644)
        symlinkSync("target.yaml", path.join(dir, "link.yaml"))
        await writeFileAtomic(path.join(dir, "link.yaml"), Buffer.from("secret: y\n"), { plaintext: true })
        expect(lstatSync(path.join(dir, "link.yaml")).isSymbolicLink()).toBe(true)
        expect(statSync(target).mode & 0o7777).toBe(0o600)
        expect(readFileSync(target, "utf8")).toBe("secret: y\n")
    })

    it("leaves the original intact and removes the temp file when writing fails", async () => {
        const dir = tempDir()
        const target = path.join(dir, "sub")
        // Renaming a file over a non-empty folder fails after the temp file was written.
        const file = path.join(target, "inner")
        mkdirSync(target)
        writeFileSync(file, "inner")
        const error = await writeFileAtomic(target, Buffer.from("data")).catch((e: unknown) => e)
        expect((error as KsopsError).kind).toBe(ErrorKind.CouldNotWriteOutputFile)
        expect(readFileSync(file, "utf8")).toBe("inner")
        expect(readdirSync(dir)).toEqual(["sub"])
    })

    it("keeps the original intact when the writer is killed mid-write", async () => {
        const dir = tempDir()
        const file = path.join(dir, "secret.yaml")
        writeFileSync(file, "original: true\n", { mode: 0o600 })
        const ioModule = pathToFileURL(path.join(repoRoot, "dist/src/cli/io.js")).href
        const script = `
            const { writeFileAtomic } = await import(${JSON.stringify(ioModule)})
            const big = new Uint8Array(1024 * 1024 * 1024).fill(65)
            process.stdout.write("go\\n")
            await writeFileAtomic(${JSON.stringify(file)}, big)
        `
        const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] })
        await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()))
        // Wait (on file-system events, not a clock) until the temp file exists and has some data, then kill.
        const tempWritten = () =>
            readdirSync(dir).some((n) => {
                try {
                    return n.endsWith(".tmp") && statSync(path.join(dir, n)).size > 0
                } catch {
                    return false
                }
            })
        await new Promise<void>((resolve) => {
            const watcher = watch(dir, () => {
                if (tempWritten()) {
                    watcher.close()
                    resolve()
                }
            })
            if (tempWritten()) {
                watcher.close()
                resolve()
            }
        })
        child.kill("SIGKILL")
        await new Promise((resolve) => child.on("close", resolve))
        expect(readFileSync(file, "utf8")).toBe("original: true\n")
        expect(existsSync(file)).toBe(true)
        // a killed writer cannot remove its partial temp file (up to 1 GiB): the test does, at once
        rmSync(dir, { recursive: true, force: true })
        expect(existsSync(dir)).toBe(false)
    })
})

describe("two processes writing one file in place at once", () => {
    const plainOf = async (sb: ReturnType<typeof sandbox>) => {
        const r = await sb.run(["decrypt", "--no-agent", "secret.yaml"])
        expect(r.code, r.stderr).toBe(0)
        return r.stdout
    }

    it.each([
        ["set", (v: string) => ["set", "--no-agent", "secret.yaml", '["data"]["user"]', JSON.stringify(v)]],
        ["rotate -i", (_: string) => ["rotate", "--no-agent", "-i", "secret.yaml"]],
    ])("%s: the result is one complete encrypted file, one of the two outcomes, and no temp file is left", async (_, argv) => {
        const sb = sandbox()
        onTestFinished(() => rmSync(sb.dir, { recursive: true, force: true }))
        for (let round = 0; round < 3; round++) {
            sb.copy("rotate/before.yaml", "secret.yaml")
            const original = await plainOf(sb)
            const [a, b] = await Promise.all([sb.run(argv(`first-${round}`)), sb.run(argv(`second-${round}`))])
            expect(a.code, a.stderr).toBe(0)
            expect(b.code, b.stderr).toBe(0)
            // decrypt checks the MAC: a mix of two outcomes or a truncated file fails here
            const plain = await plainOf(sb)
            const outcomes =
                argv("x")[0] === "set"
                    ? [`first-${round}`, `second-${round}`].map((v) => original.replace(/user: .*/, `user: ${v}`))
                    : [original]
            expect(outcomes).toContain(plain)
            expect(readFileSync(path.join(sb.dir, "secret.yaml"), "utf8")).toMatch(/\nsops:\n[\s\S]*\n {4}version: 3\.13\.2\n$/)
            expect(readdirSync(sb.dir).filter((n) => !n.startsWith(".home"))).toEqual(["secret.yaml"])
        }
    })
})

describe("every command that writes a file back follows a chain of links", () => {
    it("set, unset, rotate -i, updatekeys, decrypt -i and encrypt -i replace the target and keep the links", async () => {
        const sb = sandbox()
        onTestFinished(() => rmSync(sb.dir, { recursive: true, force: true }))
        mkdirSync(path.join(sb.dir, "real"))
        mkdirSync(path.join(sb.dir, "links"))
        const target = sb.copy("rotate/before.yaml", "real/secret.yaml")
        chmodSync(target, 0o640)
        symlinkSync("../real/secret.yaml", path.join(sb.dir, "links", "middle.yaml"))
        symlinkSync("links/middle.yaml", path.join(sb.dir, "secret.yaml"))
        writeFileSync(path.join(sb.dir, ".sops.yaml"), `creation_rules:\n  - age: ${AGE2}\n`)
        const steps: [string[], number][] = [
            [["set", "secret.yaml", '["data"]["user"]', '"changed"'], 0o640],
            [["unset", "secret.yaml", '["data"]["password"]'], 0o640],
            [["rotate", "-i", "secret.yaml"], 0o640],
            [["updatekeys", "-y", "secret.yaml"], 0o640],
            [["decrypt", "-i", "secret.yaml"], 0o600],
            [["encrypt", "-i", "--age", AGE1, "secret.yaml"], 0o600],
        ]
        for (const [argv, mode] of steps) {
            const before = readFileSync(target, "utf8")
            const r = await sb.run(argv, { env: { KUBECTL_SOPS_NO_AGENT: "1" } })
            expect(r.code, `${argv[0]}: ${r.stderr}`).toBe(0)
            expect(lstatSync(path.join(sb.dir, "secret.yaml")).isSymbolicLink(), argv[0]).toBe(true)
            expect(lstatSync(path.join(sb.dir, "links", "middle.yaml")).isSymbolicLink(), argv[0]).toBe(true)
            expect(readFileSync(target, "utf8"), argv[0]).not.toBe(before)
            expect(statSync(target).mode & 0o7777, argv[0]).toBe(mode)
            expect(readdirSync(path.join(sb.dir, "real")), argv[0]).toEqual(["secret.yaml"])
        }
        expect(readFileSync(target, "utf8")).toContain(`recipient: ${AGE1}`)
        const plain = await sb.run(["decrypt", "--no-agent", "real/secret.yaml"])
        expect(plain.stdout).toContain("user: changed")
        expect(plain.stdout).not.toContain("password")
    })
})

