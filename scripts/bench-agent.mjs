#!/usr/bin/env node
// P6: agent unwrap under load. A daemon process holds one age key (file keychain in a temp folder); 16 clients
// (one connection each, one request in flight each) send cached `datakey/unwrap` requests for ~3 s.
// Prints p50/p99 latency, requests/s and the daemon's peak RSS (VmHWM). Targets: p99 ≤ 2 ms, ≥ 5,000 req/s,
// ≤ 100 MiB. Failed unwraps are counted apart (not in req/s or latency) and make the script exit 1. Runs from the TypeScript sources (bundled with esbuild into node_modules/.cache), no build needed.
// Usage: node scripts/bench-agent.mjs [--json] [--seconds N] [--clients N] [--window N] [--rate R] [--pgp [--pgp-count N]
//        [--pgp-batch N] [--pgp-workers 0,1,2,3]]
//   --pgp  also time uncached RSA-4096 PGP unwraps (the vector key cluster0; default 1,000 entries in batches of
//          16, all in flight) on the daemon's main thread and on worker pools of several sizes, with the daemon's
//          CPU seconds per thread.
//   --rate R  pace the clients to R requests/s together (latency at a stated load) instead of saturating.
//   --json print the P6 figures as one JSON line (what `npm run bench` reads).
import { execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../", import.meta.url))
const VECTOR_KEYS = join(root, "../shared/vectors/sops-3.13.2/keys")
const argv = process.argv.slice(2)
const opt = (name, def) => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? Number(argv[i + 1]) : def
}
const SECONDS = opt("seconds", 3)
const CLIENTS = opt("clients", 16)
const WINDOW = opt("window", 1)
const RATE = opt("rate", 0)

// bundle the agent modules used here (children cannot run TypeScript)
const cache = join(root, "node_modules", ".cache", "ksops-bench-agent")
mkdirSync(cache, { recursive: true })
const entry = join(cache, "entry.ts")
writeFileSync(
    entry,
    `export { Agent } from ${JSON.stringify(join(root, "src/agent/agent.ts"))}
export { AgentClient } from ${JSON.stringify(join(root, "src/agent/client.ts"))}
export { runDaemon } from ${JSON.stringify(join(root, "src/agent/daemon.ts"))}
export { FileKeychain } from ${JSON.stringify(join(root, "src/agent/keychain.ts"))}
export { ageProvider } from ${JSON.stringify(join(root, "src/keys/age.ts"))}
export { createKeyContext } from ${JSON.stringify(join(root, "src/keys/context.ts"))}
export { encryptWithKeyFiles } from ${JSON.stringify(join(root, "src/keys/pgp-openpgp.ts"))}
`,
)
const bundle = join(cache, "agent.mjs")
execFileSync(join(root, "node_modules", ".bin", "esbuild"), [
    entry,
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--packages=external",
    `--outfile=${bundle}`,
    "--log-level=warning",
])
const daemonScript = join(cache, "daemon.mjs")
writeFileSync(
    daemonScript,
    `import { runDaemon, FileKeychain } from "./agent.mjs"
const [socket, file, workers] = process.argv.slice(2)
const keychain = new FileKeychain(file, { env: { KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "bench" }, scryptLogN: 10 })
const d = await runDaemon({ socket, keychain, workers: Number(workers) })
process.stdout.write("ready\\n")
await d.done
`,
)
const m = await import(bundle)

const work = mkdtempSync("/tmp/ksab-")
const keychainFile = join(work, "keychain.age")
const keychain = () => new m.FileKeychain(keychainFile, { env: { KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "bench" }, scryptLogN: 10 })
const ctx = m.createKeyContext({ env: {}, homeDir: work })

async function startDaemon(socket, workers) {
    const child = spawn(process.execPath, [daemonScript, socket, keychainFile, String(workers)], { stdio: ["ignore", "pipe", "inherit"] })
    await new Promise((resolve, reject) => {
        child.stdout.on("data", (d) => String(d).includes("ready") && resolve())
        child.once("exit", (c) => reject(new Error(`daemon exited ${c}`)))
    })
    return child
}

function vmHwmMiB(pid) {
    const s = readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = Number(/VmHWM:\s+(\d+)/.exec(s)[1])
    return kb / 1024
}

/** CPU seconds per thread of a process (since `base`): total and the three busiest. */
function threadCpu(pid, base = new Map()) {
    const tick = 100
    const now = new Map()
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
            const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1].split(" ")
            now.set(tid, (Number(f[11]) + Number(f[12])) / tick)
        } catch {
            // the thread ended
        }
    }
    if (base.size === 0) return now
    const per = [...now].map(([tid, s]) => s - (base.get(tid) ?? 0)).sort((a, b) => b - a)
    return { total: per.reduce((a, b) => a + b, 0), top: per.slice(0, 3) }
}

/** Failed unwraps: reported on stderr and turned into exit status 1 (what `npm run bench` checks). */
const failures = []

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]

try {
    const setup = new m.Agent({ keychain: keychain() })
    const key = await setup.generate({ type: "age", name: "bench" })
    const entries = []
    for (let i = 0; i < 64; i++) {
        const enc = await m.ageProvider.encrypt({ recipient: key.recipient }, new Uint8Array(32).fill(i), ctx)
        entries.push({ type: "age", params: { recipient: key.recipient }, enc })
    }
    let pgpFp
    if (argv.includes("--pgp")) {
        // the vector key: RSA 4096 with an RSA 4096 subkey, made with the Flux guide's parameters
        ;[{ id: pgpFp }] = await setup.importKeys({ text: readFileSync(join(VECTOR_KEYS, "cluster0.sec.asc"), "utf8") })
    }
    setup.close()

    // ---- P6: cached unwraps
    const socket = join(work, "agent.sock")
    const daemon = await startDaemon(socket, 0)
    const warm = await m.AgentClient.connect(socket)
    await warm.unwrap(entries)
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => m.AgentClient.connect(socket)))
    const latencies = []
    let errors = 0
    let firstError
    const start = performance.now()
    const end = start + SECONDS * 1000
    // --rate R: each client sends on its own schedule so that all together send R requests/s (latency at a stated
    // load); without it every client sends its next request as soon as the previous one is answered (saturation)
    const interval = RATE > 0 ? (CLIENTS * WINDOW * 1000) / RATE : 0
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
    await Promise.all(
        clients.flatMap((c, ci) =>
            Array.from({ length: WINDOW }, async (_, w) => {
                let i = ci * WINDOW + w
                let due = start + (interval * (ci * WINDOW + w)) / (CLIENTS * WINDOW)
                while (performance.now() < end) {
                    if (interval > 0) {
                        const wait = due - performance.now()
                        if (wait >= 1) await sleep(wait)
                        due += interval
                    }
                    const t = performance.now()
                    const [r] = await c.unwrap([entries[i++ % entries.length]])
                    // only answered unwraps count towards latency and req/s; a failed one is an error
                    if ("part" in r) latencies.push(performance.now() - t)
                    else {
                        errors++
                        firstError ??= r.error?.message ?? JSON.stringify(r)
                    }
                }
            }),
        ),
    )
    const elapsed = (performance.now() - start) / 1000
    const status = await warm.status()
    const rss = vmHwmMiB(daemon.pid)
    for (const c of clients) c.close()
    warm.close()
    daemon.kill("SIGTERM")
    latencies.sort((a, b) => a - b)
    const p50 = pct(latencies, 50)
    const p99 = pct(latencies, 99)
    const rate = latencies.length / elapsed
    const ok = (b) => (b ? "ok" : "MISSED")
    if (argv.includes("--json")) {
        console.log(JSON.stringify({ clients: CLIENTS, window: WINDOW, pacedTo: RATE, seconds: elapsed, requests: latencies.length, errors, p50, p99, rate, rssMiB: rss }))
    } else console.log(`P6 agent unwrap, cached: ${CLIENTS} clients × ${WINDOW} in flight${RATE > 0 ? `, paced to ${RATE} req/s` : ""}, ${elapsed.toFixed(1)} s, ${latencies.length} requests, ${errors} errors`)
    if (!argv.includes("--json")) {
        console.log(`  p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms (target ≤ 2 ms: ${ok(p99 <= 2)})`)
        console.log(`  ${Math.round(rate)} req/s (target ≥ 5,000: ${ok(rate >= 5000)})`)
        console.log(`  daemon peak RSS ${rss.toFixed(1)} MiB (target ≤ 100 MiB: ${ok(rss <= 100)}); cache entries ${status.cacheEntries}`)
    }
    if (errors > 0) {
        failures.push(`P6: ${errors} of ${errors + latencies.length} unwraps failed (first: ${firstError})`)
    }

    // ---- RSA-4096 PGP unwraps, uncached: main thread vs worker pools of several sizes
    if (pgpFp !== undefined) {
        const N = opt("pgp-count", 1000)
        const BATCH = opt("pgp-batch", 16)
        const pub = [{ path: "cluster0.pub.asc", text: readFileSync(join(VECTOR_KEYS, "cluster0.pub.asc"), "utf8") }]
        const pgpEntries = []
        const parts = []
        for (let i = 0; i < N; i++) {
            const part = randomBytes(32)
            parts.push(part.toString("base64"))
            pgpEntries.push({ type: "pgp", params: { fp: pgpFp }, enc: await m.encryptWithKeyFiles(pub, pgpFp, part) })
        }
        const sizes = argv.includes("--pgp-workers") ? String(argv[argv.indexOf("--pgp-workers") + 1]).split(",").map(Number) : [0, 1, 2, 3]
        for (const workers of sizes) {
            const s = join(work, `pgp-${workers}.sock`)
            const d = await startDaemon(s, workers)
            const c = await m.AgentClient.connect(s)
            await c.unwrap([pgpEntries[0]]) // unlock the key (the first unwrap is cached; the rest are not)
            const cpu0 = threadCpu(d.pid)
            const t = performance.now()
            const results = await Promise.all(
                Array.from({ length: Math.ceil((N - 1) / BATCH) }, (_, i) => c.unwrap(pgpEntries.slice(1 + i * BATCH, 1 + i * BATCH + BATCH))),
            )
            const ms = performance.now() - t
            const cpu = threadCpu(d.pid, cpu0)
            const good = results.flat().filter((r, i) => "part" in r && r.part === parts[i + 1]).length
            if (good !== N - 1) failures.push(`PGP unwraps (${workers} workers): ${N - 1 - good} of ${N - 1} failed or wrong`)
            const label = workers === 0 ? "main thread" : `${workers} worker thread${workers > 1 ? "s" : ""}`
            console.log(
                `RSA-4096 PGP unwraps, uncached, ${label}: ${good}/${N - 1} in ${ms.toFixed(0)} ms (${((N - 1) / (ms / 1000)).toFixed(0)}/s; daemon CPU ${cpu.total.toFixed(2)} s, busiest threads ${cpu.top.map((x) => x.toFixed(2)).join(", ")} s)`,
            )
            c.close()
            d.kill("SIGTERM")
            await new Promise((r) => d.once("exit", r))
        }
    }
} finally {
    rmSync(work, { recursive: true, force: true })
}
if (failures.length > 0) {
    for (const f of failures) process.stderr.write(`bench-agent: ${f}\n`)
    process.exitCode = 1
}
