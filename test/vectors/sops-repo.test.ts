/**
 * Every vector of sops' own repository decrypts to the recorded leaves and MAC (EXPECTED.json), through the stores
 * and the engine, with the data key recorded for it (key providers are tested against the same files separately).
 */
import { readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { expect, it } from "vitest"
import { decryptDocument } from "../../src/sops/document.js"
import type { KeyService } from "../../src/sops/keys.js"
import { metadataFromTree } from "../../src/sops/metadata.js"
import { Branch, Comment, SopsTime, type TreeValue } from "../../src/sops/tree.js"
import { formatFromPath, storeFor } from "../../src/stores/index.js"
import type { Format } from "../../src/stores/store.js"
import { describeShared, sharedData, vectorsDir } from "../conformance-data.js"

const ROOT = pathToFileURL(`${vectorsDir}/sops-repo/`)

interface Leaf {
    aad: string
    type: string
    value: unknown
}
interface Expected {
    format: string
    data_key_hex: string
    leaves_in_mac_order: Leaf[]
    mac_computed: string
    mac_ok: boolean
    comments?: { aad: string; plaintext: string }[]
}

const expected = (sharedData ? JSON.parse(readFileSync(new URL("EXPECTED.json", ROOT), "utf8")) : {}) as Record<string, Expected>

/** A key service that knows one data key: the vector's, recovered earlier with gpg. */
function fixedKey(hex: string): KeyService {
    return {
        keyId: (e) => String(e.params.fp ?? e.params.recipient ?? e.type),
        encrypt: () => Promise.reject(new Error("not used")),
        decrypt: () => Promise.resolve(Buffer.from(hex, "hex")),
    }
}

/** Leaves in walk order with their AAD (list indexes omitted, comments use the enclosing path). */
function leaves(branches: Branch[]): { aad: string; value: TreeValue }[] {
    const out: { aad: string; value: TreeValue }[] = []
    const visit = (v: TreeValue, path: string): void => {
        if (v instanceof Branch) {
            for (const item of v.items) {
                if (item.key instanceof Comment) out.push({ aad: path || ":", value: item.key })
                else visit(item.value, `${path}${item.key}:`)
            }
        } else if (Array.isArray(v)) for (const e of v) visit(e, path)
        else if (v !== null) out.push({ aad: path || ":", value: v })
    }
    for (const b of branches) visit(b, "")
    return out
}

function plainOf(v: TreeValue): unknown {
    if (typeof v === "bigint") return Number(v)
    if (v instanceof SopsTime) return v.text
    if (v instanceof Uint8Array) return Buffer.from(v).toString("utf8")
    return v
}

describeShared("sops repository vectors (EXPECTED.json)", () => {
    for (const [file, exp] of Object.entries(expected)) {
        it(`${file} decrypts to the expected leaves and MAC`, async () => {
            const format = (exp.format === "binary" ? "binary" : formatFromPath(file)) as Format
            const store = storeFor(format)
            const { branches, metadata } = store.loadEncrypted(readFileSync(new URL(file, ROOT)))
            const md = metadataFromTree(metadata)
            const run = decryptDocument(branches, md, fixedKey(exp.data_key_hex), { raw: format === "binary" })
            if (!exp.mac_ok) {
                await expect(run).rejects.toThrow(/MAC mismatch/)
                return
            }
            await run
            const got = leaves(branches).filter((l) => !(l.value instanceof Comment))
            expect(got.map((l) => l.aad)).toEqual(exp.leaves_in_mac_order.map((l) => l.aad))
            for (const [i, l] of exp.leaves_in_mac_order.entries()) {
                const want = typeof l.value === "object" && l.value !== null && "float" in l.value ? (l.value as { float: number }).float : l.value
                expect(plainOf(got[i].value)).toEqual(want)
            }
            if (exp.comments && exp.comments.length > 0) {
                const comments = leaves(branches).filter((l) => l.value instanceof Comment)
                expect(comments.map((c) => [c.aad, (c.value as Comment).value])).toEqual(exp.comments.map((c) => [c.aad, c.plaintext]))
            }
        })
    }
})
