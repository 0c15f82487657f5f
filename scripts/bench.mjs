#!/usr/bin/env node
// npm run bench: the figures the issues ask for, each a median over several runs in this one run.
// Whole processes are timed (spawn to exit), against a bare `node -e 0` measured in the same run.
import { spawnSync } from "node:child_process"
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { basicAuthSecret, largeYaml, writeSecrets } from "./gen-large.mjs"

const root = fileURLToPath(new URL("../", import.meta.url))
const bin = join(root, "bin/kubectl-sops")
const hook = join(root, "scripts/rss-hook.cjs")
const vectors = join(root, "../shared/vectors/sops-3.13.2/keys")
const AGE = readFileSync(join(vectors, "age1.pub"), "utf8").trim()
const env = { ...process.env, SOPS_AGE_KEY_FILE: join(vectors, "all.agekey"), KUBECTL_SOPS_NO_AGENT: "1" }
const work = mkdtempSync(join(tmpdir(), "ksops-bench-"))
const rssFile = join(work, "rss")
const quick = process.argv.includes("--quick")

function median(xs) {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Run a command once; returns wall milliseconds and (for node processes) peak RSS in MiB. */
function run(args, opts = {}) {
    writeFileSync(rssFile, "")
    const t0 = process.hrtime.bigint()
    const r = spawnSync(process.execPath, args, { env: { ...env, KSOPS_BENCH_RSS_FILE: rssFile }, stdio: ["ignore", opts.stdout ?? "ignore", "pipe"], ...opts })
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`)
    const rss = readFileSync(rssFile, "utf8").trim().split("\n").filter(Boolean).map(Number)
    return { ms, rssMiB: rss.length ? Math.max(...rss) / 1024 : undefined }
}

function measure(label, times, make) {
    const results = []
    for (let i = 0; i < times; i++) results.push(make(i))
    const ms = median(results.map((r) => r.ms))
    const rss = results.map((r) => r.rssMiB).filter((x) => x !== undefined)
    return { label, ms, rssMiB: rss.length ? Math.max(...rss) : undefined, runs: times }
}

const ksops = (...args) => ["--require", hook, bin, ...args]
const lines = []
const report = (name, r, target) =>
    lines.push(`${name.padEnd(58)} ${r.ms.toFixed(0).padStart(6)} ms${r.rssMiB ? `  ${r.rssMiB.toFixed(0).padStart(4)} MiB peak` : ""}  (median of ${r.runs}${target ? `; target ${target}` : ""})`)

// P1: encrypt the Flux guide's basic-auth Secret with age, whole process, beside a bare node.
const secret = join(work, "basic-auth.yaml")
writeFileSync(secret, basicAuthSecret())
const n1 = quick ? 5 : 21
const bare = measure("node -e 0", n1, () => run(["-e", "0"]))
const p1 = measure("P1", n1, () => run(ksops("encrypt", "--age", AGE, "--encrypted-regex", "^(data|stringData)$", secret)))
report("bare node -e 0", bare)
report("P1 encrypt basic-auth (age), whole process", p1, "≤ 1.5× bare node")
lines.push(`${"P1 ratio to bare node".padEnd(58)} ${(p1.ms / bare.ms).toFixed(2).padStart(6)} ×`)

// P2/P3: a generated 6 MiB YAML with 120,000 values.
const big = join(work, "large.yaml")
writeFileSync(big, largeYaml())
const bigEnc = join(work, "large.enc.yaml")
const n2 = quick ? 1 : 3
const p2 = measure("P2", n2, () => run(ksops("encrypt", "--age", AGE, "--output", bigEnc, big)))
const p3 = measure("P3", n2, () => run(ksops("decrypt", "--output", join(work, "large.dec.yaml"), bigEnc)))
report("P2 encrypt 6 MiB YAML, 120,000 values", p2, "≤ 2 s, ≤ 256 MiB")
report("P3 decrypt 6 MiB YAML, 120,000 values", p3, "≤ 2 s, ≤ 256 MiB")
if (readFileSync(join(work, "large.dec.yaml"), "utf8") !== readFileSync(big, "utf8").replace(/^ {4}/gm, "    ")) lines.push("   (warning: P3 output differs from the input)")

// P4: encrypt 1,000 Secret files in one invocation.
const dir = join(work, "secrets")
const files = writeSecrets(dir, 1000)
const pristine = join(work, "secrets.orig")
cpSync(dir, pristine, { recursive: true })
const n4 = quick ? 1 : 3
const p4 = measure("P4", n4, () => {
    rmSync(dir, { recursive: true })
    cpSync(pristine, dir, { recursive: true })
    return run(ksops("encrypt", "-i", "--age", AGE, "--encrypted-regex", "^(data|stringData)$", ...files))
})
report("P4 encrypt 1,000 Secret files, one invocation", p4, "≤ 1.3 s")

console.log(`kubectl-sops benchmarks (${new Date().toISOString()}, node ${process.version}, load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`)
for (const l of lines) console.log(l)
rmSync(work, { recursive: true, force: true })
