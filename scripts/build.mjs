#!/usr/bin/env node
// Build: tsc (dist/src, dist/plugins), the fast-path bundle (dist/fast), and oclif.manifest.json (committed).
// Usage: node scripts/build.mjs [--no-manifest]
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const args = new Set(process.argv.slice(2))
const bin = (name) => path.join(root, "node_modules", ".bin", name)
const run = (cmd, argv) => {
    try {
        execFileSync(cmd, argv, { cwd: root, stdio: "inherit" })
    } catch (error) {
        throw new BuildError(`${path.basename(cmd)} failed (exit ${error.status ?? error.signal})`)
    }
}
class BuildError extends Error {}
process.on("uncaughtException", (error) => {
    process.stderr.write(`build: ${error instanceof BuildError ? error.message : error.stack}\n`)
    process.exit(1)
})
const step = (label, fn) => {
    const start = performance.now()
    fn()
    process.stderr.write(`build: ${label} (${Math.round(performance.now() - start)} ms)\n`)
}

// Prune compiled files whose source is gone instead of deleting dist/ (other processes may be running the CLI).
step("prune dist", () => {
    for (const top of ["src", "plugins"]) {
        const out = path.join(root, "dist", top)
        if (!existsSync(out)) continue
        for (const rel of readdirSync(out, { recursive: true })) {
            const m = /^(.*)\.(js|d\.ts)$/.exec(String(rel))
            if (m && !existsSync(path.join(root, top, `${m[1]}.ts`))) rmSync(path.join(out, String(rel)))
        }
    }
})
step("tsc -p tsconfig.build.json", () => {
    try {
        run(bin("tsc"), ["-p", "tsconfig.build.json"])
    } catch (error) {
        // tsc still emits on type errors; KSOPS_BUILD_LENIENT=1 (development only) goes on with that output.
        if (process.env.KSOPS_BUILD_LENIENT !== "1") throw error
        process.stderr.write("build: type errors ignored (KSOPS_BUILD_LENIENT=1)\n")
    }
})

// The fast path: one CommonJS bundle of src/cli/main.ts and everything the file commands use. CommonJS because
// Node 20 loads one require()d file markedly faster than an ESM module graph (measured: see README, Performance).
// Heavy, rarely used modules stay outside and are import()ed on demand from node_modules: oclif (help and other
// commands), openpgp (PGP key files), age-encryption (age plugin/post-quantum recipients).
const fastDir = path.join(root, "dist", "fast")
step("esbuild dist/fast/main.cjs", () => {
    run(bin("esbuild"), [
        "src/cli/main.ts",
        "--bundle",
        "--format=cjs",
        "--platform=node",
        "--target=node20",
        "--minify",
        "--charset=ascii",
        "--legal-comments=linked",
        "--external:@oclif/core",
        "--external:openpgp",
        "--external:age-encryption",
        // key-service clients, loaded only by their plugins/ provider when a key of that type is used
        "--external:node-vault",
        // the key agent's native keychain binding (a .node file) and its WebSocket library load from node_modules
        "--external:@napi-rs/keyring",
        "--external:ws",
        // the Kubernetes client (ESM, ~0.6 s to import): loaded only by commands that talk to a cluster
        "--external:@kubernetes/client-node",
        // the AWS SDK (plugins/aws-kms): loaded only when a kms key is used
        "--external:@aws-sdk/*",
        // src/sops/regex.ts loads re2js with the bundle's require; its import.meta branch is for the unbundled build
        "--log-override:empty-import-meta=silent",
        `--outfile=${fastDir}-next/main.cjs`,
        "--log-level=warning",
    ])
    // V8 drops the dynamic-import hook of a script restored from the code cache, so the bundle's import() calls
    // go through __ksImport, a parameter that bin/fast-loader.cjs passes in (a plain import() there).
    const bundle = path.join(`${fastDir}-next`, "main.cjs")
    const code = readFileSync(bundle, "utf8")
    const rewritten = code.replace(/\bimport\((?=["'`])/g, "__ksImport(")
    if (/\bimport\(/.test(rewritten)) throw new BuildError("dist/fast/main.cjs: an import() with a computed specifier is left")
    // bin/fast-loader.cjs reads the bundle as latin1.
    if (/[^\x00-\x7f]/.test(rewritten)) throw new BuildError("dist/fast/main.cjs: not ASCII")
    writeFileSync(bundle, rewritten)
    // Swap in the new bundle in one rename so a running CLI never sees a half-written folder.
    rmSync(`${fastDir}-old`, { recursive: true, force: true })
    if (existsSync(fastDir)) renameSync(fastDir, `${fastDir}-old`)
    renameSync(`${fastDir}-next`, fastDir)
    rmSync(`${fastDir}-old`, { recursive: true, force: true })
})

step("V8 code cache dist/fast/main.cjs.cache", () => run(process.execPath, [path.join(root, "scripts", "code-cache.cjs")]))

if (!args.has("--no-manifest")) {
    step("oclif manifest", () => {
        // No update check: keeps the build offline and quiet.
        execFileSync(bin("oclif"), ["manifest"], {
            cwd: root,
            stdio: ["ignore", "ignore", "inherit"],
            env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: "true" },
        })
        // Stable formatting and command order (oclif lists them in file-system order) so the committed file diffs cleanly.
        const file = path.join(root, "oclif.manifest.json")
        if (existsSync(file)) {
            const manifest = JSON.parse(readFileSync(file, "utf8"))
            manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
            writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`)
        }
    })
}
