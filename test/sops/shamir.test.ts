import { randomBytes } from "node:crypto"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { gfDiv, gfMul, shamirCombine, shamirSplit } from "../../src/sops/shamir.js"

describe("GF(2^8)", () => {
    it("matches the AES field checks", () => {
        expect(gfMul(3, 7)).toBe(9)
        expect(gfDiv(6, 3)).toBe(2)
        expect(gfDiv(3, 3)).toBe(1)
        expect(gfMul(0x57, 0x83)).toBe(0xc1)
    })
})

describe("shamir", () => {
    it("writes x = i+1 as the last byte, and any threshold subset recovers the secret", () => {
        const secret = randomBytes(32)
        const shares = shamirSplit(secret, 3, 2, (n) => randomBytes(n))
        expect(shares.map((s) => s[32])).toEqual([1, 2, 3])
        expect(shares.every((s) => s.length === 33)).toBe(true)
        for (const pair of [[0, 1], [0, 2], [1, 2]]) {
            expect(Buffer.from(shamirCombine(pair.map((i) => shares[i])))).toEqual(secret)
        }
        expect(Buffer.from(shamirCombine(shares))).toEqual(secret)
    })

    it("rejects bad parameters like sops", () => {
        const r = (n: number) => randomBytes(n)
        expect(() => shamirSplit(randomBytes(32), 3, 1, r)).toThrow("threshold must be at least 2")
        expect(() => shamirSplit(randomBytes(32), 2, 3, r)).toThrow("parts cannot be less than threshold")
        expect(() => shamirCombine([new Uint8Array([1, 1]), new Uint8Array([2, 1])])).toThrow("duplicate part")
    })

    it("round-trips arbitrary secrets", () => {
        fc.assert(
            fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 0, max: 4 }), (secret, t, extra) => {
                const shares = shamirSplit(secret, t + extra, t, (n) => randomBytes(n))
                expect(Buffer.from(shamirCombine(shares.slice(extra)))).toEqual(Buffer.from(secret))
            }),
            { numRuns: 50 },
        )
    })
})
