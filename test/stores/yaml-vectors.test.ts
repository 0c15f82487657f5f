import { existsSync, readdirSync, readFileSync } from "node:fs"
import path from "node:path"
import { expect, it } from "vitest"
import { YamlStore } from "../../src/stores/yaml.js"
import { describeShared, vectorsDir } from "../conformance-data.js"

const VECTORS = vectorsDir
const CASES = path.join(VECTORS, "sops-3.13.2")
const RES = path.join(VECTORS, "sops-repo/functional-tests/res")

/** YAML files written by sops 3.13.x (encrypted, so with a `sops:` key). */
function encryptedByNewWriter(): string[] {
    const out: string[] = []
    for (const c of readdirSync(CASES).sort()) {
        for (const f of ["out.stdout", "input.yaml", "before.yaml"]) {
            const p = path.join(CASES, c, f)
            if (!existsSync(p)) continue
            const text = readFileSync(p, "utf8")
            if (/^sops:$/m.test(text) && /^ {4}version: 3\.13\.\d+$/m.test(text)) out.push(p)
        }
    }
    out.push(path.join(RES, "format.enc.yaml"))
    return out
}

describeShared("yaml store: sops 3.13 output re-emits byte for byte", () => {
    const store = new YamlStore()
    for (const p of encryptedByNewWriter()) {
        it(path.relative(VECTORS, p), () => {
            const bytes = readFileSync(p)
            const f = store.loadEncrypted(bytes)
            const out = Buffer.from(store.emitEncrypted(f.branches, f.metadata)).toString("utf8")
            expect(out).toBe(bytes.toString("utf8"))
        })
    }
})
