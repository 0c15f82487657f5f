#!/usr/bin/env node
// Startup benchmark: whole-process wall time of kubectl-sops commands against a bare `node -e 0`, measured
// interleaved (so machine load hits all of them alike). Prints min/median per command and the ratio of medians.
// Usage: node scripts/bench.mjs [--runs N] [--check]   (--check: exit 1 when encrypt exceeds 1.5x bare node)
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const argv = process.argv.slice(2)
const runs = Number(argv[argv.indexOf("--runs") + 1]) || 20
const check = argv.includes("--check")
const budget = 1.5

const cases = path.resolve(root, "../shared/vectors/sops-3.13.2")
const dir = mkdtempSync(path.join(tmpdir(), "kubectl-sops-bench-"))
const recipient = /public key: (age1\w+)/.exec(readFileSync(path.join(cases, "keys/age1.agekey"), "utf8"))[1]
writeFileSync(path.join(dir, "secret.yaml"), readFileSync(path.join(cases, "basic-auth.yaml")))
writeFileSync(path.join(dir, "enc.yaml"), readFileSync(path.join(cases, "decrypt/input.yaml")))
const env = { ...process.env, SOPS_AGE_KEY_FILE: path.join(cases, "keys/all.agekey") }
const bin = path.join(root, "bin/kubectl-sops")

const commands = [
    ["node -e 0", [process.execPath, "-e", "0"]],
    ["kubectl-sops --version", [bin, "--version"]],
    ["kubectl-sops filestatus enc.yaml", [bin, "filestatus", "enc.yaml"]],
    ["kubectl-sops encrypt --age … secret.yaml", [bin, "encrypt", "--age", recipient, "secret.yaml"]],
    ["kubectl-sops decrypt enc.yaml", [bin, "decrypt", "enc.yaml"]],
    ["kubectl-sops --help (oclif)", [bin, "--help"]],
]

const times = commands.map(() => [])
try {
    for (let i = 0; i < runs + 2; i++) {
        commands.forEach(([, cmd], j) => {
            const start = process.hrtime.bigint()
            const r = spawnSync(cmd[0], cmd.slice(1), { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] })
            const ms = Number(process.hrtime.bigint() - start) / 1e6
            if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr}`)
            if (i >= 2) times[j].push(ms) // two warm-up rounds
        })
    }
} finally {
    rmSync(dir, { recursive: true, force: true })
}

const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const base = median(times[0])
process.stdout.write(`${runs} interleaved runs, node ${process.version}\n`)
for (const [j, [label]] of commands.entries()) {
    const m = median(times[j])
    process.stdout.write(
        `${label.padEnd(42)} median ${m.toFixed(1).padStart(7)} ms  min ${Math.min(...times[j]).toFixed(1).padStart(7)} ms  ${(m / base).toFixed(2)}x\n`,
    )
}
const ratio = median(times[3]) / base
process.stdout.write(`encrypt / bare node = ${ratio.toFixed(2)} (budget ${budget})\n`)
if (check && ratio > budget) process.exit(1)
