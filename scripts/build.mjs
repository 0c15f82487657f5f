#!/usr/bin/env node
// Build: tsc (dist/src, dist/plugins), the fast-path bundle (dist/fast), and oclif.manifest.json (committed).
// Usage: node scripts/build.mjs [--no-manifest] [--no-bundle]
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
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

step("clean dist", () => rmSync(path.join(root, "dist"), { recursive: true, force: true }))
step("tsc -p tsconfig.build.json", () => {
    try {
        run(bin("tsc"), ["-p", "tsconfig.build.json"])
    } catch (error) {
        // tsc still emits on type errors; KSOPS_BUILD_LENIENT=1 (development only) goes on with that output.
        if (process.env.KSOPS_BUILD_LENIENT !== "1") throw error
        process.stderr.write("build: type errors ignored (KSOPS_BUILD_LENIENT=1)\n")
    }
})

const fastDir = path.join(root, "dist", "fast")
if (args.has("--no-bundle")) {
    step("fast path (unbundled)", () => {
        execFileSync("mkdir", ["-p", fastDir])
        writeFileSync(path.join(fastDir, "main.js"), 'export * from "../src/cli/main.js"\n')
    })
} else {
    step("esbuild dist/fast", () => {
        const esbuild = bin("esbuild")
        run(esbuild, [
            "src/cli/main.ts",
            "--bundle",
            "--splitting",
            "--format=esm",
            "--platform=node",
            "--target=node20",
            "--minify-syntax",
            "--minify-whitespace",
            "--legal-comments=linked",
            "--external:@oclif/core",
            "--banner:js=import{createRequire as __ksCreateRequire}from\"node:module\";const require=__ksCreateRequire(import.meta.url);",
            "--chunk-names=chunks/[name]-[hash]",
            `--outdir=${fastDir}`,
            "--log-level=warning",
        ])
    })
}

if (!args.has("--no-manifest")) {
    step("oclif manifest", () => {
        execFileSync(bin("oclif"), ["manifest"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] })
        // Stable formatting so the committed file diffs cleanly.
        const file = path.join(root, "oclif.manifest.json")
        if (existsSync(file)) writeFileSync(file, `${JSON.stringify(JSON.parse(readFileSync(file, "utf8")), null, 2)}\n`)
    })
}
