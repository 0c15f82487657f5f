/**
 * Vitest global setup: when the shared test data is missing, count the test files that skipped because of it and
 * print one summary line for the whole run; with CI=true, say once up front that the tests needing it will fail.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { hasSharedData, missingSharedData, SHARED_DATA_ENV, SKIP_MARKS_ENV, sharedDataDir } from "./conformance-data.js"

export default function setup(): (() => void) | undefined {
    const dir = sharedDataDir()
    if (hasSharedData(dir)) return undefined
    if (process.env.CI === "true") {
        // the tests that need it fail (some in their setup, with the missing file named): say why once, up front
        console.error(`${missingSharedData(dir)}; CI=true requires it, so the tests that need it fail`)
        return undefined
    }
    const marks = mkdtempSync(path.join(tmpdir(), "kubectl-sops-shared-skips-"))
    process.env[SKIP_MARKS_ENV] = marks
    return () => {
        const n = readdirSync(marks).length
        rmSync(marks, { recursive: true, force: true })
        if (n > 0) console.log(`shared test data not found at ${dir}: ${n} file${n === 1 ? "" : "s"} of conformance tests skipped (set ${SHARED_DATA_ENV}=DIR)`)
    }
}
