#!/usr/bin/env node
// npm run bench: the figures the issues ask for, each a median over several runs in this one run.
// Whole processes are timed (spawn to exit), against a bare `node -e 0` measured in the same run.
// Exits 1 when a figure misses its target, an output is wrong or a step fails (each is printed as `FAILED: …`).
// Usage: node scripts/bench.mjs [--quick] [--only P1,P5,…]   (figures: P1 … P6, C1, J1, H1)
import { spawnSync } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AGE, bin, keysDir, root } from "./bench-common.mjs"
import { basicAuthSecret, largeYaml, writeSecrets } from "./gen-large.mjs"

const hook = join(root, "scripts/rss-hook.cjs")
const env = { ...process.env, SOPS_AGE_KEY_FILE: join(keysDir, "all.agekey"), KUBECTL_SOPS_NO_AGENT: "1" }
const work = mkdtempSync(join(tmpdir(), "ksops-bench-"))
const rssFile = join(work, "rss")
const quick = process.argv.includes("--quick")
// --only P5,P6: just those figures (P1 … P6, C1, H1)
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1].split(",") : undefined
const want = (name) => only === undefined || only.includes(name)
const figures = ["P1", "P2", "P3", "P4", "P5", "P6", "C1", "J1", "H1"]
for (const name of only ?? []) {
    if (!figures.includes(name)) {
        console.error(`bench: --only ${name}: no such figure (${figures.join(", ")})`)
        process.exit(2)
    }
}
const loadAtStart = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")

function median(xs) {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Run a command once; returns wall milliseconds and (for node processes) peak RSS in MiB. */
function run(args, opts = {}) {
    writeFileSync(rssFile, "")
    const t0 = process.hrtime.bigint()
    const { env: runEnv = env, ...rest } = opts
    const r = spawnSync(process.execPath, args, { stdio: ["ignore", opts.stdout ?? "ignore", "pipe"], ...rest, env: { ...runEnv, KSOPS_BENCH_RSS_FILE: rssFile } })
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

/** CPU seconds of this process's waited-for children (utime + stime). */
function childCpu() {
    const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")
    return (Number(f[13]) + Number(f[14])) / 100
}

/** CPU seconds per thread of a process. */
function threadCpu(pid) {
    const out = new Map()
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
            const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1].split(" ")
            out.set(tid, (Number(f[11]) + Number(f[12])) / 100)
        } catch {
            // the thread ended
        }
    }
    return out
}

const ksops = (...args) => ["--require", hook, bin, ...args]
const lines = []
/** What went wrong: a missed target, a wrong output, a failed step. Any entry makes the exit status 1. */
const failures = []
const fail = (what) => {
    failures.push(what)
    return false
}
const ok = (b) => (b ? "ok" : "MISSED")
/**
 * One line per figure; `target` is { text, ms?, rssMiB? }: the limits are checked and a miss is a failure.
 */
const report = (name, r, target) => {
    let met = true
    if (target?.ms !== undefined && !(r.ms <= target.ms)) met = fail(`${name}: ${r.ms.toFixed(0)} ms, target ≤ ${target.ms} ms`)
    if (target?.rssMiB !== undefined && !(r.rssMiB <= target.rssMiB)) met = fail(`${name}: ${r.rssMiB?.toFixed(0)} MiB peak, target ≤ ${target.rssMiB} MiB`)
    const t = target ? `; target ${target.text}${target.ms !== undefined || target.rssMiB !== undefined ? `: ${ok(met)}` : ""}` : ""
    lines.push(`${name.padEnd(58)} ${r.ms.toFixed(0).padStart(6)} ms${r.rssMiB ? `  ${r.rssMiB.toFixed(0).padStart(4)} MiB peak` : ""}  (median of ${r.runs}${t})`)
}
/** Run one figure; an exception (a command that failed) is a failure of that figure and the others still run. */
function section(name, fn) {
    if (!name.split("/").some(want)) return
    try {
        fn()
    } catch (e) {
        fail(`${name}: ${e instanceof Error ? e.message : e}`)
    }
}

// P1: encrypt the Flux guide's basic-auth Secret with age, whole process, beside a bare node.
section("P1", () => {
    const secret = join(work, "basic-auth.yaml")
    writeFileSync(secret, basicAuthSecret())
    const n1 = quick ? 5 : 21
    const bare = measure("node -e 0", n1, () => run(["-e", "0"]))
    const p1 = measure("P1", n1, () => run(ksops("encrypt", "--age", AGE, "--encrypted-regex", "^(data|stringData)$", secret)))
    report("bare node -e 0", bare)
    // the same with the Flux guide's .sops.yaml (path_regex and encrypted_regex from the file, not flags)
    const fluxDir = join(work, "p1-flux")
    mkdirSync(fluxDir)
    writeFileSync(join(fluxDir, ".sops.yaml"), `creation_rules:\n  - path_regex: .*.yaml\n    encrypted_regex: ^(data|stringData)$\n    age: ${AGE}\n`)
    writeFileSync(join(fluxDir, "basic-auth.yaml"), basicAuthSecret())
    const p1flux = measure("P1 .sops.yaml", n1, () => run(ksops("encrypt", "basic-auth.yaml"), { cwd: fluxDir }))
    report("P1 encrypt basic-auth (age), whole process", p1)
    report("P1 the same with a Flux-style .sops.yaml", p1flux)
    for (const [label, r] of [["P1", p1], ["P1 (.sops.yaml)", p1flux]]) {
        const ratio = r.ms / bare.ms
        const met = ratio <= 1.5 || fail(`${label}: encrypt takes ${ratio.toFixed(2)}× a bare node start, target ≤ 1.5×`)
        lines.push(`${`${label} ratio to bare node`.padEnd(58)} ${ratio.toFixed(2).padStart(6)} ×  (target ≤ 1.5×: ${ok(met)})`)
    }
})

// P2/P3: a generated 6 MiB YAML with 120,000 values.
section("P2/P3", () => {
    const big = join(work, "large.yaml")
    writeFileSync(big, largeYaml())
    const bigEnc = join(work, "large.enc.yaml")
    const n2 = quick ? 1 : 3
    const p2 = measure("P2", n2, () => run(ksops("encrypt", "--age", AGE, "--output", bigEnc, big)))
    const p3 = measure("P3", n2, () => run(ksops("decrypt", "--output", join(work, "large.dec.yaml"), bigEnc)))
    report("P2 encrypt 6 MiB YAML, 120,000 values", p2, { text: "≤ 2 s, ≤ 256 MiB", ms: 2000, rssMiB: 256 })
    report("P3 decrypt 6 MiB YAML, 120,000 values", p3, { text: "≤ 2 s, ≤ 256 MiB", ms: 2000, rssMiB: 256 })
    // largeYaml() is indented by 4 spaces, sops' (and our) default output indent, with plain scalars only: the
    // decrypted file is byte for byte the input
    if (!readFileSync(join(work, "large.dec.yaml")).equals(readFileSync(big))) fail("P3: the decrypted file differs from the original plaintext")
})

// P4: encrypt 1,000 Secret files in one invocation.
section("P4", () => {
    const dir = join(work, "secrets")
    const files = writeSecrets(dir, 1000)
    const pristine = join(work, "secrets.orig")
    cpSync(dir, pristine, { recursive: true })
    const n4 = quick ? 1 : 3
    const p4 = measure("P4", n4, () => {
        rmSync(dir, { recursive: true })
        cpSync(pristine, dir, { recursive: true })
        // untimed: flush what earlier steps wrote (the 20 MiB P2/P3 files, the copies above), so that P4's fsyncs
        // measure P4 and not the write-back of other benchmarks
        spawnSync("sync")
        return run(ksops("encrypt", "-i", "--age", AGE, "--encrypted-regex", "^(data|stringData)$", ...files))
    })
    report("P4 encrypt 1,000 Secret files, one invocation", p4, { text: "≤ 1.3 s", ms: 1300 })
})

// P5: decrypt 1,000 Secret files whose data keys are wrapped to an RSA-4096 PGP key held by the agent, in one
// invocation. The vector key cluster0 (RSA 4096 + RSA 4096 subkey, the Flux guide's parameters) is imported into an
// agent with a file keychain in a temp folder; the process has no keys of its own (no age key, empty GNUPGHOME),
// so every one of the 1,000 RSA-4096 unwraps is the agent's. Before each timed run the files are restored and the
// agent is locked (unlocked keys and cached data keys wiped), then one other file is decrypted so that the key is
// unlocked again: the timed run starts with the key held and nothing cached.
section("P5", () => {
    const p5dir = join(work, "p5")
    const p5home = join(p5dir, "home")
    mkdirSync(join(p5home, ".gnupg"), { recursive: true, mode: 0o700 })
    const FP = readFileSync(join(keysDir, "cluster0.fpr"), "utf8").trim()
    const agentEnv = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !/^(SOPS_|KUBECTL_SOPS_|GNUPGHOME$|HOME$|XDG_RUNTIME_DIR$)/.test(k)),
    )
    Object.assign(agentEnv, {
        HOME: p5home,
        GNUPGHOME: join(p5home, ".gnupg"),
        KUBECTL_SOPS_AGENT_SOCK: join(p5dir, "agent.sock"),
        KUBECTL_SOPS_KEYCHAIN: `file:${join(p5dir, "keychain.age")}`,
        KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "bench",
    })
    const cli = (args, extraEnv = {}, stdout = "ignore") => {
        const r = spawnSync(process.execPath, [bin, ...args], { env: { ...agentEnv, ...extraEnv }, stdio: ["ignore", stdout, "pipe"], encoding: "utf8" })
        if (r.status !== 0) throw new Error(`kubectl-sops ${args.join(" ")} exited ${r.status}: ${r.stderr}`)
        return r.stdout
    }
    const p5files = writeSecrets(join(p5dir, "secrets"), 1000)
    const warmFile = join(p5dir, "warm.yaml")
    writeFileSync(warmFile, basicAuthSecret("warm-up"))
    const toPgp = { KUBECTL_SOPS_PGP_PUBKEYS: join(keysDir, "cluster0.pub.asc"), KUBECTL_SOPS_NO_AGENT: "1" }
    cli(["encrypt", "-i", "--pgp", FP, "--encrypted-regex", "^(data|stringData)$", ...p5files, warmFile], toPgp)
    const p5pristine = join(p5dir, "secrets.enc")
    cpSync(join(p5dir, "secrets"), p5pristine, { recursive: true })
    cli(["agent", "start"])
    try {
        cli(["keys", "import", join(keysDir, "cluster0.sec.asc")])
        const agentPid = JSON.parse(cli(["agent", "status", "-o", "json"], {}, "pipe")).pid
        const n5 = quick ? 1 : 3
        const restore = () => {
            rmSync(join(p5dir, "secrets"), { recursive: true })
            cpSync(p5pristine, join(p5dir, "secrets"), { recursive: true })
        }
        const cpu = []
        const p5 = measure("P5", n5, () => {
            restore()
            cli(["agent", "lock"])
            cli(["decrypt", warmFile], {}, "pipe")
            const child0 = childCpu()
            const agent0 = threadCpu(agentPid)
            const r = run(ksops("decrypt", "-i", ...p5files), { env: agentEnv })
            const agent = [...threadCpu(agentPid)].map(([tid, t]) => t - (agent0.get(tid) ?? 0)).sort((a, b) => b - a)
            cpu.push({ ms: r.ms, cli: childCpu() - child0, agent: agent.reduce((a, b) => a + b, 0), top: agent.slice(0, 3) })
            return r
        })
        // the input is indented by 2 spaces; decrypt writes sops' 4 (the documented re-indentation, nothing else)
        const plain = basicAuthSecret("basic-auth-999").replace(/^ {2}/gm, "    ")
        if (readFileSync(p5files[999], "utf8") !== plain) fail("P5: the decrypted file differs from the original plaintext")
        report("P5 decrypt 1,000 Secret files, RSA-4096 PGP key in the agent", p5, { text: "≤ 2.5 s", ms: 2500 })
        const mid = cpu.sort((a, b) => a.ms - b.ms)[(cpu.length - 1) >> 1]
        lines.push(
            `   CPU of that run: CLI ${mid.cli.toFixed(2)} s, agent ${mid.agent.toFixed(2)} s (busiest threads ${mid.top.map((t) => t.toFixed(2)).join(", ")} s)`,
        )
        // the same with the agent's data-key cache warm (a second run right after: no RSA work at all)
        restore()
        const p5warm = measure("P5 cached", 1, () => run(ksops("decrypt", "-i", ...p5files), { env: agentEnv }))
        report("P5' the same again, data keys cached in the agent", p5warm)
        const status = readFileSync(`/proc/${agentPid}/status`, "utf8")
        const mib = (k) => (Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)[1]) / 1024).toFixed(0)
        lines.push(`${"P5 agent daemon RSS now / peak (peak: file keychain's scrypt)".padEnd(58)} ${mib("VmRSS").padStart(6)} / ${mib("VmHWM")} MiB`)
    } finally {
        cli(["agent", "stop"])
    }
})

// P6: the agent under 16 concurrent clients (cached unwraps): scripts/bench-agent.mjs, twice: saturated (each
// client sends its next request when the previous one is answered: throughput) and paced to 6,000 req/s in all
// (latency at a load above the throughput target).
section("P6", () => {
    // a non-zero exit of bench-agent.mjs (failed unwraps, a crash) is a failure; its figures, if printed, still show
    const agentBench = (label, ...extra) => {
        const r = spawnSync(process.execPath, [join(root, "scripts/bench-agent.mjs"), "--json", "--seconds", quick ? "1" : "3", ...extra], {
            stdio: ["ignore", "pipe", "inherit"],
            encoding: "utf8",
        })
        if (r.status !== 0) fail(`P6 (${label}): bench-agent.mjs exited ${r.status ?? r.signal}`)
        const last = r.stdout?.trim().split("\n").pop()
        try {
            return last ? JSON.parse(last) : undefined
        } catch {
            return undefined
        }
    }
    const row = (name, value, target) => lines.push(`${name.padEnd(58)} ${value}${target ? `  (target ${target})` : ""}`)
    const check = (met, what) => ok(met || fail(what))
    const sat = agentBench("saturated")
    const paced = agentBench("paced", "--rate", "6000")
    const ms = (x) => `${x.p50.toFixed(2)} / ${x.p99.toFixed(2)} ms`
    if (sat !== undefined) {
        const met = check(sat.rate >= 5000, `P6: ${Math.round(sat.rate)} req/s saturated, target ≥ 5,000 req/s`)
        row(`P6 agent unwrap, ${sat.clients} clients, cached, saturated: req/s`, `${Math.round(sat.rate)} req/s`, `≥ 5,000 req/s: ${met}`)
        row("P6   p50 / p99 latency, saturated", ms(sat))
    }
    if (paced !== undefined) {
        const met = check(paced.p99 <= 2, `P6: p99 ${paced.p99.toFixed(2)} ms at ${Math.round(paced.rate)} req/s, target ≤ 2 ms`)
        row(`P6   p50 / p99 latency at ${Math.round(paced.rate)} req/s (paced)`, ms(paced), `p99 ≤ 2 ms: ${met}`)
    }
    if (sat !== undefined && paced !== undefined) {
        const rss = Math.max(sat.rssMiB, paced.rssMiB)
        row("P6 agent daemon peak RSS", `${rss.toFixed(0)} MiB`, `≤ 100 MiB: ${check(rss <= 100, `P6: agent peak RSS ${rss.toFixed(0)} MiB, target ≤ 100 MiB`)}`)
    }
})

// C1: kubectl sops check over 1,000 age-encrypted Secrets (scripts/bench-check.mjs).
section("C1", () => {
    const r = spawnSync(process.execPath, [join(root, "scripts/bench-check.mjs"), "--json", "--runs", quick ? "1" : "3"], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" })
    if (r.status !== 0) throw new Error(`bench-check.mjs exited ${r.status ?? r.signal}`)
    const c1 = JSON.parse(r.stdout.trim().split("\n").pop())
    report("C1 check 1,000 encrypted Secrets (--keys file)", { ms: c1.ms, runs: c1.runs }, { text: "≤ 3 s", ms: 3000 })
})

// J1: the JSON store on a ~6 MiB document of 40,000 objects (the input of test/stores/json.test.ts): loadPlain +
// emitPlain in a fresh process, timed inside it (no process start), from the built dist/.
section("J1", () => {
    const script = `
        const { JsonStore } = await import(${JSON.stringify(new URL("../dist/src/stores/json.js", import.meta.url).href)})
        const entries = []
        for (let i = 0; i < 40000; i++)
            entries.push(\`"key\${i}": {"name": "value number \${i} with some text <&>", "n": \${i}, "f": \${i}.5, "list": ["a\\\\nb", true, null]}\`)
        const input = Buffer.from(\`{\${entries.join(", ")}}\`)
        const store = new JsonStore()
        const t0 = performance.now()
        const out = store.emitPlain(store.loadPlain(input))
        const ms = performance.now() - t0
        if (JSON.stringify(JSON.parse(Buffer.from(out).toString())) !== JSON.stringify(JSON.parse(input.toString()))) throw new Error("round trip differs")
        process.stdout.write(JSON.stringify({ ms, mib: input.length / 1048576 }))
    `
    const results = []
    for (let i = 0; i < (quick ? 1 : 5); i++) {
        const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" })
        if (r.status !== 0) throw new Error(`the JSON store run exited ${r.status}: ${r.stderr.trim().split("\n").pop()}`)
        results.push(JSON.parse(r.stdout))
    }
    const j1 = { ms: median(results.map((x) => x.ms)), runs: results.length }
    report(`J1 JSON store load + emit, ${results[0].mib.toFixed(1)} MiB, 40,000 objects`, j1, { text: "≤ 1 s", ms: 1000 })
})

// H1: crafted hostile inputs (scripts/bench-crafted.mjs), each a whole process against a 1 s target.
section("H1", () => {
    const r = spawnSync(process.execPath, [join(root, "scripts/bench-crafted.mjs"), "--json", "--runs", quick ? "1" : "3"], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" })
    if (r.status !== 0 && r.status !== 1) throw new Error(`bench-crafted exited ${r.status}`)
    const h1 = JSON.parse(r.stdout.trim().split("\n").pop())
    for (const c of h1.results) {
        const time = c.killed ? "killed" : `${c.ms.toFixed(0)} ms`
        const met = c.pass || fail(`H1 ${c.name}: ${time}, target < 1 s`)
        lines.push(`${`H1 ${c.name}`.padEnd(58)} ${time.padStart(9)}  (target < 1 s: ${ok(met)})`)
    }
})

console.log(`kubectl-sops benchmarks (${new Date().toISOString()}, node ${process.version}, load ${loadAtStart} at start, ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} at end)`)
for (const l of lines) console.log(l)
for (const f of failures) console.log(`FAILED: ${f}`)
rmSync(work, { recursive: true, force: true })
process.exitCode = failures.length > 0 ? 1 : 0
