import { createHash } from "node:crypto"
import { afterEach, describe, expect, it } from "vitest"
import { createGcmPool, type GcmPool } from "../../src/cli/gcm-pool.js"
import { decryptScalars, encryptScalars, type IvSource, IvStash, type Scalar } from "../../src/sops/cipher.js"
import { Comment, SopsTime } from "../../src/sops/tree.js"

const KEY = Buffer.from("0123456789abcdef0123456789abcdef")

/** A deterministic IV source (SHA-256 of a counter): both paths must draw the same IVs in the same order. */
function fixedIvs(): IvSource {
    let n = 0
    return () => createHash("sha256").update(`iv ${n++}`).digest()
}

/** Values of every kind the walk hands over, empty ones included, and non-ASCII paths. */
function sample(count: number): { values: Scalar[]; aads: string[] } {
    const values: Scalar[] = []
    const aads: string[] = []
    for (let i = 0; i < count; i++) {
        const kinds: Scalar[] = [
            `value-${i}-${"x".repeat(i % 50)}`,
            "",
            BigInt(i) - 500n,
            i / 7,
            i % 2 === 0,
            new SopsTime("2024-01-02T03:04:05Z"),
            new Comment(` comment ${i} ü`),
            new Comment(""),
            Uint8Array.from([i & 255, 0, 255]),
            new Uint8Array(0),
            `ünïcödé ${i} ✓`,
        ]
        values.push(kinds[i % kinds.length])
        aads.push(`group${Math.floor(i / 40)}:kéy${i % 40}:`)
    }
    return { values, aads }
}

const describeResult = (r: Scalar | Error) => (r instanceof Error ? `Error: ${r.message}` : r)

describe("GCM worker pool (encrypt/decrypt of large batches on two threads)", () => {
    let pool: GcmPool | undefined
    afterEach(async () => {
        await pool?.close()
        pool = undefined
    })

    it("encrypts byte for byte as the serial path does, with a fixed IV source", () => {
        pool = createGcmPool({ minValues: 1000 })
        const { values, aads } = sample(9000)
        const serial = encryptScalars(values, aads, KEY, fixedIvs())
        const parallel = encryptScalars(values, aads, KEY, fixedIvs(), undefined, pool)
        expect(pool.started).toBe(true)
        expect(parallel).toHaveLength(serial.length)
        for (let i = 0; i < serial.length; i++) if (parallel[i] !== serial[i]) expect.fail(`value ${i} differs`)
        // more than one job (16,384 values each) and the boundaries between them
        const big = sample(40_000)
        expect(encryptScalars(big.values, big.aads, KEY, fixedIvs(), undefined, pool)).toEqual(encryptScalars(big.values, big.aads, KEY, fixedIvs()))
    })

    it("decrypts as the serial path does, with each error at its own index (a tampered value among thousands)", () => {
        pool = createGcmPool({ minValues: 1000 })
        const { values, aads } = sample(6000)
        const sealed = encryptScalars(values, aads, KEY, fixedIvs())
        const bad = [...sealed]
        // a flipped ciphertext character, a wrong AAD, bad base64, a non-ENC string, a short tag, a bad type tag
        const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === "A" ? "B" : "A") + s.slice(at + 1)
        bad[3777] = flip(bad[3777], 21)
        const wrongAad = [...aads]
        wrongAad[4100] = "elsewhere:"
        bad[13] = bad[13].replace(",iv:", ",iv:*")
        bad[2500] = "not encrypted"
        bad[5002] = bad[5002].replace(/,tag:[^,]*,/, ",tag:AAAA,")
        bad[5999] = bad[5999].replace(/type:\w+\]$/, "type:int]")
        const serial = decryptScalars(bad, wrongAad, KEY, undefined, false)
        const parallel = decryptScalars(bad, wrongAad, KEY, undefined, false, pool)
        expect(pool.started).toBe(true)
        expect(parallel.map(describeResult)).toEqual(serial.map(describeResult))
        // (an empty binary value, every 11th, seals to `data:,`, which sops' own format check refuses too)
        const errors = parallel.flatMap((r, i) => (r instanceof Error && i % 11 !== 9 ? [i] : []))
        expect(errors).toEqual([13, 2500, 3777, 4100, 5002, 5999])
        expect((parallel[3777] as Error).message).toBe("Could not decrypt with AES_GCM: cipher: message authentication failed")
        // the rest decrypts to the values (binary values come back raw; numbers as their types)
        expect(parallel[0]).toBe(values[0])
        expect(parallel[2]).toBe(values[2])
    })

    it("remembers IVs as the serial path does, so a re-encryption keeps unchanged values", () => {
        pool = createGcmPool({ minValues: 1000 })
        const { values, aads } = sample(3000)
        const sealed = encryptScalars(values, aads, KEY, fixedIvs())
        const serialStash = new IvStash()
        const poolStash = new IvStash()
        decryptScalars(sealed, aads, KEY, serialStash, true)
        decryptScalars(sealed, aads, KEY, poolStash, true, pool)
        const changed = [...values]
        changed[100] = "a new value"
        const again = encryptScalars(changed, aads, KEY, fixedIvs(), poolStash, pool)
        expect(again).toEqual(encryptScalars(changed, aads, KEY, fixedIvs(), serialStash))
        expect(again[99]).toBe(sealed[99])
        expect(again[100]).not.toBe(sealed[100])
    })

    it("never starts a worker for small inputs", () => {
        pool = createGcmPool()
        const { values, aads } = sample(2000)
        const sealed = encryptScalars(values, aads, KEY, fixedIvs(), undefined, pool)
        const plain = decryptScalars(sealed, aads, KEY, undefined, false, pool)
        expect(plain[0]).toBe(values[0])
        expect(pool.started).toBe(false)
    })
})
