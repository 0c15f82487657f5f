#!/usr/bin/env node
// `kubectl sops check` over 1,000 age-encrypted Secrets listed in one kustomization.yaml, whole process, median of
// 3 (target ≤ 3 s). Usage: node scripts/bench-check.mjs [--json] [--count N] [--runs N] [--generated]
// --generated: no kustomization.yaml (the controller generates one from every YAML file).
// The tree is made with the built CLI (bulk encrypt -i), the keys are given as a file (--keys), so no agent runs.
import { spawnSync } from "node:child_process"
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AGE, bin, keysDir, numberArg } from "./bench-common.mjs"
import { writeSecrets } from "./gen-large.mjs"


const count = numberArg("--count", 1000)
const runs = numberArg("--runs", 3)
const env = { ...process.env, KUBECTL_SOPS_NO_AGENT: "1" }

const work = mkdtempSync(join(tmpdir(), "ksops-bench-check-"))
try {
    const dir = join(work, "clusters", "c0")
    const files = writeSecrets(dir, count)
    const enc = spawnSync(process.execPath, [bin, "encrypt", "-i", "--age", AGE, "--encrypted-regex", "^(data|stringData)$", ...files], { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" })
    if (enc.status !== 0) throw new Error(`encrypt exited ${enc.status}: ${enc.stderr}`)
    if (!process.argv.includes("--generated")) writeFileSync(join(dir, "kustomization.yaml"), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${files.map((f) => `  - ${f.slice(dir.length + 1)}\n`).join("")}`)
    cpSync(join(keysDir, "age1.agekey"), join(work, "age.agekey"))
    const times = []
    let decrypts = 0
    for (let i = 0; i < runs; i++) {
        const t0 = process.hrtime.bigint()
        const r = spawnSync(process.execPath, [bin, "check", dir, "--root", work, "--keys", join(work, "age.agekey"), "-o", "json"], { env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", maxBuffer: 64 << 20 })
        times.push(Number(process.hrtime.bigint() - t0) / 1e6)
        if (r.status !== 0) throw new Error(`check exited ${r.status}: ${r.stderr}`)
        decrypts = JSON.parse(r.stdout).files.filter((f) => f.result === "decrypts").length
    }
    if (decrypts !== count) throw new Error(`check reported ${decrypts} decrypting files, expected ${count}`)
    const sorted = [...times].sort((a, b) => a - b)
    const ms = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2
    if (process.argv.includes("--json")) console.log(JSON.stringify({ count, runs, ms, times }))
    else console.log(`check over ${count} encrypted Secrets: ${ms.toFixed(0)} ms (median of ${runs}; target ≤ 3000 ms)`)
} finally {
    rmSync(work, { recursive: true, force: true })
}
