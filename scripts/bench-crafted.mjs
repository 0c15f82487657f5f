#!/usr/bin/env node
// Crafted hostile inputs, each timed as a whole bin/kubectl-sops process (median of --runs, default 3), each
// against a 1 s target. A run still going after --kill seconds (default 20) is killed and counts as failed.
// Usage: node scripts/bench-crafted.mjs [--json] [--runs N] [--kill S]
// Prints one line per input (--json: one JSON object on the last line instead); exits 1 if any input fails.
// The exit status of the CLI itself does not matter here (most inputs are refused): only that it finishes in time.
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AGE, bin, keysDir, numberArg } from "./bench-common.mjs"


const runs = numberArg("--runs", 3)
const killAfterMs = numberArg("--kill", 20) * 1000
const json = process.argv.includes("--json")
const TARGET_MS = 1000
const env = { ...process.env, SOPS_AGE_KEY_FILE: join(keysDir, "age1.agekey"), KUBECTL_SOPS_NO_AGENT: "1" }

/** Run the CLI once in `cwd`: wall milliseconds, or undefined when it had to be killed. */
function once(cwd, args) {
    return new Promise((resolve, reject) => {
        const t0 = process.hrtime.bigint()
        const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: "ignore", timeout: killAfterMs, killSignal: "SIGKILL" })
        child.on("error", reject)
        child.on("close", (_code, signal) => resolve(signal === null ? Number(process.hrtime.bigint() - t0) / 1e6 : undefined))
    })
}

function median(xs) {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Encrypt with the built CLI (setup, untimed). */
function encrypt(cwd, file, ...flags) {
    const r = spawnSync(process.execPath, [bin, "encrypt", "--age", AGE, ...flags, file], { cwd, env, encoding: "utf8" })
    if (r.status !== 0) throw new Error(`setup: encrypt ${file} exited ${r.status}: ${r.stderr}`)
    return r.stdout
}

const work = mkdtempSync(join(tmpdir(), "ksops-bench-crafted-"))
const cases = []
try {
    // E1: an ENC[…] look-alike value whose separators repeat 350 times (the value-format regex backtracks on it)
    {
        const enc = encrypt(work, writeIn("e1.yaml", "password: hunter2\n"))
        // no closing "]": a backtracking match of the ENC[…] pattern tries every split of the separators
        const crafted = `ENC[AES256_GCM,data:${",iv:,tag:,type:".repeat(350)}x`
        writeIn("e1.enc.yaml", enc.replace(/^password: ENC\[[^\n]*$/m, `password: ${crafted}`))
        cases.push({ name: "ENC[…] ',iv:,tag:,type:'×350 in a value → decrypt", args: ["decrypt", "e1.enc.yaml"] })
    }
    // R1: ^(a+)+$ in a file's metadata, a 32-character key that does not match (2^31 backtracking steps)
    {
        const key = `${"a".repeat(31)}!`
        const enc = encrypt(work, writeIn("r1.yaml", `${key}: value\n`), "--encrypted-regex", "^data$")
        // the key matches neither pattern, so the values and the MAC stay the same
        writeIn("r1.enc.yaml", enc.replace("encrypted_regex: ^data$", "encrypted_regex: ^(a+)+$"))
        cases.push({ name: "^(a+)+$ in a file's metadata, 32-char key → decrypt", args: ["decrypt", "r1.enc.yaml"] })
    }
    // R2: ^(a+)+$ as a .sops.yaml path_regex and a 32-character file name
    {
        const dir = join(work, "r2")
        mkdirSync(dir)
        writeFileSync(join(dir, ".sops.yaml"), `creation_rules:\n  - path_regex: ^(a+)+$\n    age: ${AGE}\n  - age: ${AGE}\n`)
        writeFileSync(join(dir, `${"a".repeat(31)}!`), "password: hunter2\n")
        cases.push({ name: "^(a+)+$ as .sops.yaml path_regex, 32-char name → encrypt", args: ["encrypt", "--input-type", "yaml", `${"a".repeat(31)}!`], cwd: dir })
    }
    // A1/A2: a 400-byte billion-laughs file (nine anchors of ten aliases each: 10^9 leaves)
    {
        const lines = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
        for (let i = 1; i < 9; i++) lines.push(`${"abcdefghi"[i]}: &${"abcdefghi"[i]} [${Array(10).fill(`*${"abcdefghi"[i - 1]}`).join(",")}]`)
        writeIn("bomb.yaml", `${lines.join("\n")}\n`)
        cases.push({ name: "YAML alias bomb (400 bytes) → filestatus", args: ["filestatus", "bomb.yaml"] })
        cases.push({ name: "YAML alias bomb (400 bytes) → decrypt", args: ["decrypt", "bomb.yaml"] })
    }
    // S1: two symlinks to '.' in a Kustomization's folder without a kustomization file
    {
        const dir = join(work, "s1", "c")
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n")
        symlinkSync(".", join(dir, "l1"))
        symlinkSync(".", join(dir, "l2"))
        cases.push({ name: "two symlinks to '.' → check", args: ["check", "c", "--keys", join(keysDir, "age1.agekey")], cwd: join(work, "s1") })
    }

    const results = []
    for (const c of cases) {
        const times = []
        let killed = false
        for (let i = 0; i < runs && !killed; i++) {
            const ms = await once(c.cwd ?? work, c.args)
            if (ms === undefined) killed = true
            else times.push(ms)
        }
        const ms = killed ? undefined : median(times)
        results.push({ name: c.name, ms, killed, runs: times.length, pass: !killed && ms < TARGET_MS })
    }
    const failed = results.filter((r) => !r.pass).length
    if (json) console.log(JSON.stringify({ results, failed }))
    else {
        for (const r of results) {
            const time = r.killed ? `> ${killAfterMs / 1000} s (killed)` : `${r.ms.toFixed(0).padStart(6)} ms`
            console.log(`${r.name.padEnd(58)} ${time.padStart(9)}  ${r.pass ? "pass" : "FAIL"} (< 1 s; median of ${r.runs})`)
        }
    }
    process.exitCode = failed > 0 ? 1 : 0
} finally {
    rmSync(work, { recursive: true, force: true })
}

function writeIn(name, text) {
    writeFileSync(join(work, name), text)
    return name
}
