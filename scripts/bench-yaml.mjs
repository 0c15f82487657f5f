// Measures the YAML store on the release-criteria input (largeYaml(): ~6 MiB, 120,000 values) and its real encrypted
// form (made by the engine with a fake key service).
//
// Cold mode (default) runs the CLI's pipelines in fresh processes, each step once, like `kubectl sops encrypt`
// (loadPlain → encrypt → emitEncrypted) and `decrypt` (loadEncrypted → decrypt → emitPlain), and reports per step the
// minimum over the processes plus each process's peak RSS. Warm mode repeats every store operation in one process and
// reports the minimum (JIT-optimised code, forced GC between runs).
//
// Usage: node scripts/bench-yaml.mjs [--cold=N] [--warm=N] [--secrets]   (defaults: --cold=5 --warm=10)
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { largeYaml } from "./gen-large.mjs"

const self = fileURLToPath(import.meta.url)
const root = path.resolve(path.dirname(self), "..")
const args = process.argv.slice(2)
const opt = (name, dflt) => {
    const a = args.find((x) => x.startsWith(`--${name}=`))
    return a === undefined ? dflt : a.slice(name.length + 3)
}
const child = opt("child", undefined)
const ownDir = opt("dir", undefined) === undefined
const dir = opt("dir", undefined) ?? mkdtempSync(path.join(tmpdir(), "bench-yaml-"))
// the parent made the folder (the children get --dir): it goes when the parent exits, also after an error
if (ownDir) process.on("exit", () => rmSync(dir, { recursive: true, force: true }))
const bundle = path.join(dir, "yaml.mjs")

if (child === undefined) {
    const { build } = await import("esbuild")
    await build({
        stdin: {
            contents: [
                'export { YamlStore } from "./src/stores/yaml.ts"',
                'export { encryptDocument, decryptDocument } from "./src/sops/document.ts"',
                'export { metadataToTree, metadataFromTree } from "./src/sops/metadata.ts"',
            ].join("\n"),
            resolveDir: root,
            loader: "ts",
        },
        bundle: true,
        platform: "node",
        format: "esm",
        outfile: bundle,
        logLevel: "error",
    })
}
const { YamlStore, encryptDocument, decryptDocument, metadataToTree, metadataFromTree } = await import(
    pathToFileURL(bundle).href
)

// The "key service" stores the data key in the clear (hex) so another process can decrypt.
const keys = {
    keyId: () => "fake",
    encrypt: async (_entry, part) => Buffer.from(part).toString("hex"),
    decrypt: async (entry) => Buffer.from(entry.enc, "hex"),
}
const entropy = { randomBytes: (n) => randomBytes(n), now: () => new Date("2026-01-01T00:00:00Z") }
const params = { keyGroups: [[{ type: "age", params: { recipient: "age1fake" }, enc: "" }]], selection: {} }
const store = new YamlStore()

const trace = process.env.BENCH_YAML_TRACE === "1"
function step(times, label, fn) {
    const t0 = performance.now()
    if (trace) process.stderr.write(`${label} starts at ${t0.toFixed(0)} ms\n`)
    const r = fn()
    times[label] = performance.now() - t0
    if (trace) process.stderr.write(`${label} ends at ${(t0 + times[label]).toFixed(0)} ms\n`)
    return r
}

if (child !== undefined) {
    // one pipeline, once, in this fresh process
    const times = {}
    if (child === "encrypt") {
        const input = readFileSync(path.join(dir, "large.yaml"))
        const branches = step(times, "loadPlain", () => store.loadPlain(input))
        const t0 = performance.now()
        const md = await encryptDocument(branches, params, keys, entropy)
        times["(encrypt walk)"] = performance.now() - t0
        const out = step(times, "emitEncrypted", () => store.emitEncrypted(branches, metadataToTree(md)))
        writeFileSync(path.join(dir, "large.enc.yaml"), out)
    } else {
        const input = readFileSync(path.join(dir, "large.enc.yaml"))
        const file = step(times, "loadEncrypted", () => store.loadEncrypted(input))
        const t0 = performance.now()
        await decryptDocument(file.branches, metadataFromTree(file.metadata), keys, { keepIvs: false })
        times["(decrypt walk)"] = performance.now() - t0
        const out = step(times, "emitPlain", () => store.emitPlain(file.branches))
        if (Buffer.compare(Buffer.from(out), readFileSync(path.join(dir, "large.yaml"))) !== 0)
            times["!! round trip differs"] = 1
    }
    times.rssMiB = process.resourceUsage().maxRSS / 1024
    process.stdout.write(JSON.stringify(times))
    process.exit(0)
}

function secrets() {
    const docs = []
    for (let d = 0; d < 3000; d++) {
        let s = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-${d}\n  namespace: ns-${d % 17}\n  labels:\n    app: app-${d}\ntype: Opaque\ndata:\n`
        for (let i = 0; i < 34; i++) s += `  key_${i}: ${Buffer.from(`value-${d}-${i}-${"x".repeat(10)}`).toString("base64")}\n`
        docs.push(s)
    }
    return docs.join("---\n")
}

const fmt = (ms) => `${ms.toFixed(0).padStart(6)} ms`
const cold = Number(opt("cold", "5"))
const warm = Number(opt("warm", "10"))
const inputs = [["largeYaml()", largeYaml()]]
if (args.includes("--secrets")) inputs.push(["3000 Secret documents", secrets()])

for (const [name, text] of inputs) {
    const input = Buffer.from(text)
    writeFileSync(path.join(dir, "large.yaml"), input)
    console.log(`\n${name}: ${(input.length / 1048576).toFixed(2)} MiB   (load average ${loadavg()[0].toFixed(2)})`)
    if (cold > 0) {
        const best = {}
        for (let i = 0; i < cold; i++) {
            for (const mode of ["encrypt", "decrypt"]) {
                const out = execFileSync(process.execPath, [self, `--child=${mode}`, `--dir=${dir}`], { encoding: "utf8" })
                for (const [k, v] of Object.entries(JSON.parse(out))) {
                    const key = k === "rssMiB" ? `peak RSS (${mode})` : k
                    best[key] = Math.min(best[key] ?? Number.POSITIVE_INFINITY, v)
                }
            }
        }
        if (best["!! round trip differs"] !== undefined) {
            console.log("FAILED: decrypting the encrypted file does not give the original bytes back")
            process.exitCode = 1
        }
        console.log(`cold, one run per fresh process, min of ${cold}:`)
        for (const [k, v] of Object.entries(best))
            console.log(`  ${k.padEnd(22)} ${k.startsWith("peak") ? `${v.toFixed(0).padStart(6)} MiB` : fmt(v)}`)
    }
    if (warm > 0) {
        const warmOp = (label, fn) => {
            let best = Number.POSITIVE_INFINITY
            let r
            for (let i = 0; i < warm; i++) {
                r = undefined
                globalThis.gc?.()
                const t0 = performance.now()
                r = fn()
                best = Math.min(best, performance.now() - t0)
            }
            console.log(`  ${label.padEnd(22)} ${fmt(best)}`)
            return r
        }
        console.log(`warm, same process, min of ${warm}${globalThis.gc ? "" : " (run with --expose-gc for a GC between runs)"}:`)
        const plainBranches = store.loadPlain(input)
        warmOp("loadPlain", () => store.loadPlain(input))
        warmOp("emitPlain", () => store.emitPlain(plainBranches))
        const branches = store.loadPlain(input)
        const md = metadataToTree(await encryptDocument(branches, params, keys, entropy))
        const encrypted = warmOp("emitEncrypted", () => store.emitEncrypted(branches, md))
        warmOp("loadEncrypted", () => store.loadEncrypted(encrypted))
        console.log(`  encrypted size ${(encrypted.length / 1048576).toFixed(2)} MiB`)
    }
}
