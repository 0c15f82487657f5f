/**
 * Crafted hostile inputs, each through the built CLI as a whole process: they used to take minutes, never finish or
 * run out of memory. Each run is killed after 9 s (the test's own timeout is 10 s), so the old behaviour fails the
 * test instead of hanging the suite; nothing here measures speed (that is scripts/bench-crafted.mjs).
 */
import { spawn } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import { baseEnv, binPath, tempDir, vectorsDir } from "./run.js"

const KEYS = path.join(vectorsDir, "sops-3.13.2", "keys")
const AGE1 = /public key: (age1[0-9a-z]+)/.exec(readFileSync(path.join(KEYS, "age1.agekey"), "utf8"))?.[1] as string

interface Result {
    code: number | null
    signal: NodeJS.Signals | null
    stdout: string
    stderr: string
}

/** Run the CLI in `cwd`; killed (SIGKILL) if it is still running after 9 s. */
function ksops(cwd: string, args: string[]): Promise<Result> {
    return new Promise((resolve, reject) => {
        const env = { ...baseEnv(path.join(cwd, ".home")), SOPS_AGE_KEY_FILE: path.join(KEYS, "age1.agekey"), KUBECTL_SOPS_NO_AGENT: "1" }
        const child = spawn(process.execPath, [binPath, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"], timeout: 9_000, killSignal: "SIGKILL" })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (c: Buffer) => {
            stdout += c
        })
        child.stderr.on("data", (c: Buffer) => {
            stderr += c
        })
        child.on("error", reject)
        child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
    })
}

function workDir(): string {
    const dir = tempDir("ksops-crafted-")
    mkdirSync(path.join(dir, ".home"), { mode: 0o700 })
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    return dir
}

/** A billion-laughs file under 400 bytes: nine anchors, each ten aliases of the one before (10^9 leaves). */
const ALIAS_BOMB = `a: &a [x,x,x,x,x,x,x,x,x,x]\n${"bcdefghi"
    .split("")
    .map((n, i) => `${n}: &${n} [${Array(10).fill(`*${"abcdefghi"[i]}`).join(",")}]`)
    .join("\n")}\n`

const KEY = `${"a".repeat(40)}!`

describe("crafted inputs finish", () => {
    it("^(a+)+$ as --encrypted-regex, then in the file's metadata, with a 41-character key (was 2^40 steps)", async () => {
        const dir = workDir()
        writeFileSync(path.join(dir, "s.yaml"), `${KEY}: secret-value\nplain: visible\n`)
        const enc = await ksops(dir, ["encrypt", "--age", AGE1, "--encrypted-regex", "^(a+)+$", "s.yaml"])
        expect(enc.signal).toBeNull()
        expect(enc.code).toBe(0)
        expect(enc.stdout).toContain("encrypted_regex: ^(a+)+$")
        // neither key matches: nothing is encrypted
        expect(enc.stdout).toContain(`${KEY}: secret-value`)
        writeFileSync(path.join(dir, "s.enc.yaml"), enc.stdout)
        const dec = await ksops(dir, ["decrypt", "s.enc.yaml"])
        expect(dec.signal).toBeNull()
        expect(dec.code).toBe(0)
        expect(dec.stdout).toBe(`${KEY}: secret-value\nplain: visible\n`)
    }, 10_000)

    it("^(a+)+$ as a .sops.yaml path_regex with a 41-character file name", async () => {
        const dir = workDir()
        writeFileSync(path.join(dir, ".sops.yaml"), `creation_rules:\n  - path_regex: ^(a+)+$\n    age: nobody\n  - age: ${AGE1}\n`)
        writeFileSync(path.join(dir, `${KEY}.yaml`), "password: hunter2\n")
        const r = await ksops(dir, ["encrypt", `${KEY}.yaml`])
        expect(r.signal).toBeNull()
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(r.stdout).toContain(AGE1)
    }, 10_000)

    it("a bad regex is refused with Go's message and exit 1", async () => {
        const dir = workDir()
        writeFileSync(path.join(dir, "s.yaml"), "a: b\n")
        const flag = await ksops(dir, ["encrypt", "--age", AGE1, "--encrypted-regex", "(?=data)", "s.yaml"])
        expect(flag.code).toBe(1)
        expect(flag.stderr.split("\n")[0]).toBe("invalid --encrypted-regex: error parsing regexp: invalid or unsupported Perl syntax: `(?=`")
        writeFileSync(path.join(dir, ".sops.yaml"), `creation_rules:\n  - path_regex: (\n    age: ${AGE1}\n`)
        const rule = await ksops(dir, ["encrypt", "s.yaml"])
        expect(rule.code).toBe(1)
        expect(rule.stderr.split("\n")[0]).toBe("can not compile regexp: error parsing regexp: missing closing ): `(`")
    }, 10_000)

    it("a 400-byte alias bomb: filestatus and decrypt refuse it as go-yaml does", async () => {
        const dir = workDir()
        expect(ALIAS_BOMB.length).toBeLessThan(400)
        writeFileSync(path.join(dir, "bomb.yaml"), ALIAS_BOMB)
        for (const command of ["filestatus", "decrypt"]) {
            const r = await ksops(dir, [command, "bomb.yaml"])
            expect(r.signal).toBeNull()
            expect(r.code).toBe(1)
            expect(r.stderr).toContain("document contains excessive aliasing")
            expect(r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("hint: "))).toHaveLength(1)
        }
    }, 10_000)

    it("check with two symlinks to '.' in the Kustomization's folder", async () => {
        const dir = workDir()
        mkdirSync(path.join(dir, "c"))
        writeFileSync(path.join(dir, "c/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n")
        symlinkSync(".", path.join(dir, "c/l1"))
        symlinkSync(".", path.join(dir, "c/l2"))
        const r = await ksops(dir, ["check", "c", "--keys", path.join(KEYS, "age1.agekey")])
        expect(r.signal).toBeNull()
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
    }, 10_000)
})
