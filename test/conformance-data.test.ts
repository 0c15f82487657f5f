import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { hasSharedData, missingSharedData, SHARED_DATA_ENV, sharedDataDir } from "./conformance-data.js"

const dirs: string[] = []
afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe("the shared test data helper", () => {
    it("takes KUBECTL_SOPS_TEST_DATA (resolved) over the folder `shared` beside the repository", () => {
        const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
        const beside = path.join(path.dirname(repo), "shared")
        expect(sharedDataDir({})).toBe(beside)
        expect(sharedDataDir({ [SHARED_DATA_ENV]: "" })).toBe(beside)
        expect(sharedDataDir({ [SHARED_DATA_ENV]: "/srv/data/" })).toBe("/srv/data")
        expect(sharedDataDir({ [SHARED_DATA_ENV]: "rel" })).toBe(path.resolve("rel"))
    })

    it("finds the data only where a vectors/ folder is", () => {
        const dir = mkdtempSync(path.join(tmpdir(), "ksops-shared-"))
        dirs.push(dir)
        expect(hasSharedData(dir)).toBe(false)
        expect(hasSharedData(path.join(dir, "missing"))).toBe(false)
        mkdirSync(path.join(dir, "vectors"))
        expect(hasSharedData(dir)).toBe(true)
    })

    it("names the folder and the variable in one line", () => {
        const line = missingSharedData("/nowhere")
        expect(line).toContain("/nowhere")
        expect(line).toContain("KUBECTL_SOPS_TEST_DATA=DIR")
        expect(line).not.toContain("\n")
    })
})
