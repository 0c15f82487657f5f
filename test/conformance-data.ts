/**
 * The one way tests reach the read-only conformance data: sops vectors, the Flux CRDs and the sops docs, in
 * `<repo>/../shared` in CI (never copied into the repository) or wherever `KUBECTL_SOPS_TEST_DATA=DIR` points.
 * A fresh clone has no such folder: there the tests that need it are skipped (`describeShared`, `itShared`) and
 * `test/conformance-data-setup.ts` prints one summary line for the run; with `CI=true` its absence is a failing test.
 */
import { mkdirSync, statSync, writeFileSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it, TestRunner } from "vitest"

/** The environment variable that points the tests at the shared data folder. */
export const SHARED_DATA_ENV = "KUBECTL_SOPS_TEST_DATA"
/** Set by the global setup (local runs only): the folder where each skipping test file leaves a mark to be counted. */
export const SKIP_MARKS_ENV = "KUBECTL_SOPS_TEST_DATA_SKIPS"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The shared data folder: `$KUBECTL_SOPS_TEST_DATA` when set, else `<repo>/../shared`. */
export function sharedDataDir(env: NodeJS.ProcessEnv = process.env): string {
    const dir = env[SHARED_DATA_ENV]
    return dir ? path.resolve(dir) : path.resolve(repoRoot, "../shared")
}

/** Whether `dir` holds the shared data (its `vectors` folder is there). */
export function hasSharedData(dir: string): boolean {
    try {
        return statSync(path.join(dir, "vectors")).isDirectory()
    } catch {
        return false
    }
}

/** The one line naming what is missing and how to point at it. */
export function missingSharedData(dir: string): string {
    return `shared test data not found at ${dir} (set ${SHARED_DATA_ENV}=DIR to the folder holding vectors/, crds/ and docs/)`
}

/** The shared data folder of this run. */
export const sharedDir = sharedDataDir()
/** Whether the shared data is there; when false the tests that need it skip (or fail with CI=true). */
export const sharedData = hasSharedData(sharedDir)
/** `vectors/`: files sops wrote, their keys and expected results. */
export const vectorsDir = path.join(sharedDir, "vectors")
/** `crds/`: the Flux CRDs the test API server serves. */
export const crdsDir = path.join(sharedDir, "crds")
/** `docs/`: the sops format spec. */
export const docsDir = path.join(sharedDir, "docs")

const ci = process.env.CI === "true"
let marked = false

/** Leave this test file's mark for the run's summary line (once per file). */
function markSkipped(): void {
    const dir = process.env[SKIP_MARKS_ENV]
    if (marked || !dir) return
    marked = true
    const file = expect.getState().testPath ?? `pid-${process.pid}`
    mkdirSync(dir, { recursive: true })
    writeFileSync(path.join(dir, encodeURIComponent(path.relative(repoRoot, file))), "")
}

/** A test in place of one (or a suite) that needs the shared data: skipped locally, failing with CI=true. */
function placeholder(name: string): void {
    if (ci) {
        it(name, () => {
            throw new Error(`${missingSharedData(sharedDir)}; CI=true requires it`)
        })
    } else {
        markSkipped()
        it.skip(name, () => {})
    }
}

/** `describe` for a suite that needs the shared data; when it is missing, the body is not even collected. */
export function describeShared(name: string, fn: () => void): void {
    if (sharedData) describe(name, fn)
    else describe(name, () => placeholder(`needs the shared test data (${SHARED_DATA_ENV})`))
}

/** `it` for a test that needs the shared data. */
export function itShared(name: string, fn: () => unknown, timeout?: number): void {
    if (sharedData) it(name, fn, timeout)
    else placeholder(name)
}

/**
 * For helpers that need the shared data when called (a sandbox with the vector keys, the API server with the CRDs):
 * without it, the running test is skipped locally, and anything else (a hook, CI=true) fails with the one line.
 */
export function requireSharedData(): void {
    if (sharedData) return
    const test = ci ? undefined : TestRunner.getCurrentTest()
    if (test !== undefined) {
        markSkipped()
        test.context.skip(`needs the shared test data (${SHARED_DATA_ENV})`)
    }
    throw new Error(ci ? `${missingSharedData(sharedDir)}; CI=true requires it` : missingSharedData(sharedDir))
}
