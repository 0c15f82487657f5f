import { createCipheriv, randomBytes } from "node:crypto"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { AesGcm } from "../../src/sops/gcm.js"

function nodeGcm(key: Uint8Array, iv: Uint8Array, pt: Uint8Array, aad: Uint8Array) {
    const c = createCipheriv("aes-256-gcm", key, iv)
    c.setAAD(aad)
    const data = Buffer.concat([c.update(pt), c.final()])
    return { data, tag: c.getAuthTag() }
}

describe("AesGcm", () => {
    it("equals Node's AES-256-GCM for random keys, IV lengths, plaintexts and AADs", () => {
        fc.assert(
            fc.property(
                fc.uint8Array({ minLength: 32, maxLength: 32 }),
                fc.uint8Array({ minLength: 1, maxLength: 64 }),
                fc.uint8Array({ maxLength: 200 }),
                fc.uint8Array({ maxLength: 70 }),
                (key, iv, pt, aad) => {
                    const ours = new AesGcm(key).encrypt(iv, pt, aad)
                    const theirs = nodeGcm(key, iv, pt, aad)
                    expect(ours.data.equals(theirs.data)).toBe(true)
                    expect(ours.tag.equals(theirs.tag)).toBe(true)
                    expect(new AesGcm(key).decrypt(iv, ours.data, ours.tag, aad).equals(Buffer.from(pt))).toBe(true)
                },
            ),
            { numRuns: 300 },
        )
    })

    it("rejects a wrong tag, AAD or ciphertext", () => {
        const key = randomBytes(32)
        const iv = randomBytes(32)
        const g = new AesGcm(key)
        const { data, tag } = g.encrypt(iv, Buffer.from("secret"), Buffer.from("a:"))
        expect(() => g.decrypt(iv, data, tag, Buffer.from("b:"))).toThrow("message authentication failed")
        const bad = Buffer.from(tag)
        bad[0] ^= 1
        expect(() => g.decrypt(iv, data, bad, Buffer.from("a:"))).toThrow("message authentication failed")
        const flipped = Buffer.from(data)
        flipped[0] ^= 1
        expect(() => g.decrypt(iv, flipped, tag, Buffer.from("a:"))).toThrow("message authentication failed")
    })
})

describe("AesGcm batches", () => {
    it("batch() seals and opens like Node's GCM message by message, and flags bad tags in place", () => {
        fc.assert(
            fc.property(
                fc.uint8Array({ minLength: 32, maxLength: 32 }),
                fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.uint8Array({ maxLength: 90 }), fc.uint8Array({ maxLength: 40 })), {
                    maxLength: 12,
                }),
                (key, msgs) => {
                    const g = new AesGcm(key)
                    const n = msgs.length
                    const pack = (k: 0 | 1 | 2) => {
                        const buf = Buffer.concat(msgs.map((m) => Buffer.from(m[k])))
                        const off = new Int32Array(n)
                        const len = new Int32Array(n)
                        let at = 0
                        msgs.forEach((m, i) => {
                            off[i] = at
                            len[i] = m[k].length
                            at += m[k].length
                        })
                        return { buf, off, len }
                    }
                    const iv = pack(0)
                    const pt = pack(1)
                    const ad = pack(2)
                    const ct = Buffer.alloc(pt.buf.length)
                    const tags = Buffer.alloc(16 * n)
                    g.batch(false, n, iv.buf, iv.off, iv.len, pt.buf, pt.off, pt.len, ad.buf, ad.off, ad.len, ct, tags)
                    for (const [i, [ivi, pti, adi]] of msgs.entries()) {
                        const ref = nodeGcm(key, ivi, pti, adi)
                        expect(ct.subarray(pt.off[i], pt.off[i] + pt.len[i]).equals(ref.data)).toBe(true)
                        expect(tags.subarray(16 * i, 16 * i + 16).equals(ref.tag)).toBe(true)
                    }
                    if (n > 0) tags[0] ^= 1
                    const back = Buffer.alloc(ct.length)
                    const ok = g.batch(true, n, iv.buf, iv.off, iv.len, ct, pt.off, pt.len, ad.buf, ad.off, ad.len, back, tags)
                    for (const [i, m] of msgs.entries()) {
                        expect(ok[i]).toBe(i !== 0)
                        if (i !== 0) expect(back.subarray(pt.off[i], pt.off[i] + pt.len[i]).equals(Buffer.from(m[1]))).toBe(true)
                    }
                },
            ),
            { numRuns: 100 },
        )
    })
})
