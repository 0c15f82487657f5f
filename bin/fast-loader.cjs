// Loads dist/fast/main.cjs with V8's code cache (dist/fast/main.cjs.cache, written by the build after a warm-up
// run), so the bundle's functions need not be parsed and compiled again on every start. A stale or foreign cache
// (another Node or V8 version) is rejected by V8 and the bundle is simply compiled.
"use strict"
const fs = require("node:fs")
const path = require("node:path")
const vm = require("node:vm")
const { createRequire } = require("node:module")

const file = path.resolve(__dirname, "../dist/fast/main.cjs")
const cacheFile = `${file}.cache`

/** The bundle's import() calls are rewritten to this (see scripts/build.mjs); bare names resolve from the package. */
const ksImport = (specifier) => import(specifier)

/** Load the fast-path bundle. Returns its exports and the vm.Script (for making the cache). */
function loadFast() {
    // esbuild writes ASCII only (non-ASCII is escaped), so latin1 reads it exactly and faster than utf8.
    const source = fs.readFileSync(file, "latin1")
    let cachedData
    try {
        cachedData = fs.readFileSync(cacheFile)
    } catch {
        cachedData = undefined
    }
    const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __ksImport) {${source}\n})`, {
        filename: file,
        cachedData,
    })
    const mod = { exports: {} }
    script.runInThisContext()(mod.exports, createRequire(file), mod, file, path.dirname(file), ksImport)
    return { exports: mod.exports, script }
}

module.exports = { loadFast, cacheFile }
