import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from "node:fs"
import path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "vitest"
import { readInput, writeFileAtomic } from "../../src/cli/io.js"
import { ErrorKind, KsopsError } from "../../src/errors.js"
import { repoRoot, tempDir } from "./run.js"

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
