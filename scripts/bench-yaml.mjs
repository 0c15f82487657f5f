// Measures the YAML store on generated ~6 MiB inputs (120,000 values): loadPlain, emitPlain, emitEncrypted,
// loadEncrypted. Usage: node --expose-gc scripts/bench-yaml.mjs
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { build } from "esbuild"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const out = path.join(mkdtempSync(path.join(tmpdir(), "bench-yaml-")), "yaml.mjs")
await build({
    stdin: {
        contents: 'export { YamlStore } from "./src/stores/yaml.ts"\nexport { Branch } from "./src/sops/tree.ts"\n',
        resolveDir: root,
        loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: out,
    logLevel: "error",
})
const { YamlStore, Branch } = await import(pathToFileURL(out).href)

function secrets() {
    const docs = []
    for (let d = 0; d < 3000; d++) {
        let s = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-${d}\n  namespace: ns-${d % 17}\n  labels:\n    app: app-${d}\ntype: Opaque\ndata:\n`
        for (let i = 0; i < 34; i++) s += `  key_${i}: ${Buffer.from(`value-${d}-${i}-${"x".repeat(10)}`).toString("base64")}\n`
        docs.push(s)
    }
    return docs.join("---\n")
}

function nested() {
    let s = ""
    for (let a = 0; a < 120; a++) {
        s += `group_${a}:\n`
        for (let b = 0; b < 10; b++) {
            s += `  section_${b}:\n`
            for (let c = 0; c < 100; c++) s += `    key_${c}: "some string value number ${a}-${b}-${c} with words"\n`
        }
    }
    return s
}

const enc = (n) => `ENC[AES256_GCM,data:${"A".repeat(n)},iv:${"B".repeat(43)}=,tag:${"C".repeat(22)}==,type:str]`
function encryptLeaves(v) {
    if (v instanceof Branch) {
        for (const it of v.items) it.value = encryptLeaves(it.value)
        return v
    }
    if (Array.isArray(v)) return v.map(encryptLeaves)
    if (typeof v === "string") return enc(Math.ceil((v.length * 4) / 3))
    return v
}

function time(label, fn) {
    globalThis.gc?.()
    const t0 = performance.now()
    const r = fn()
    const ms = performance.now() - t0
    const rss = process.memoryUsage().rss / 1048576
    console.log(`${label.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms   rss ${rss.toFixed(0)} MiB`)
    return r
}

const store = new YamlStore()
const metadata = new Branch([
    { key: "lastmodified", value: "2026-11-29T17:10:06Z" },
    { key: "mac", value: enc(88) },
    { key: "version", value: "3.13.2" },
])
for (const [name, text] of [
    ["3000 Secret documents", secrets()],
    ["one nested map", nested()],
]) {
    const input = Buffer.from(text)
    console.log(`\n${name}: ${(input.length / 1048576).toFixed(2)} MiB`)
    const branches = time("loadPlain", () => store.loadPlain(input))
    time("emitPlain", () => store.emitPlain(branches))
    for (const b of branches) encryptLeaves(b)
    const encrypted = time("emitEncrypted", () => store.emitEncrypted(branches, metadata))
    console.log(`  encrypted size ${(encrypted.length / 1048576).toFixed(2)} MiB`)
    time("loadEncrypted", () => store.loadEncrypted(encrypted))
}
console.log(`\npeak rss ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`)
writeFileSync(path.join(path.dirname(out), "done"), "")
