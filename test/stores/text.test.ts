import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { SopsTime } from "../../src/sops/tree.js"
import { byteLength, compareBytewise, decodeUtf8, goTrimSpace, valToString } from "../../src/stores/text.js"

describe("store text helpers", () => {
    it("decodes invalid UTF-8 one U+FFFD per byte, as Go does", () => {
        expect(decodeUtf8(new Uint8Array([0x61, 0xe2, 0x82, 0x41]))).toBe("a\ufffd\ufffdA")
        expect(decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toBe("\ufffd\ufffd\ufffd")
        expect(decodeUtf8(new Uint8Array([0xf0, 0x9f, 0x98, 0x80, 0xc0, 0xaf]))).toBe("😀\ufffd\ufffd")
        expect(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toBe("\ufeffa")
    })

    it("agrees with TextDecoder on valid input and measures bytes", () => {
        fc.assert(
            fc.property(fc.string({ unit: "grapheme" }), (s) => {
                const b = new TextEncoder().encode(s)
                expect(decodeUtf8(b)).toBe(s)
                expect(byteLength(s)).toBe(b.length)
            }),
        )
    })

    it("trims Go white space (NEL and NBSP yes, BOM no)", () => {
        expect(goTrimSpace("\u0085\u00a0 x \t\u3000")).toBe("x")
        expect(goTrimSpace("\ufeffx")).toBe("\ufeffx")
    })

    it("compares strings in UTF-8 byte order", () => {
        const sorted = ["b", "a", "\uffff", "😀", "Z", "aa"].sort(compareBytewise)
        expect(sorted).toEqual(["Z", "a", "aa", "b", "\uffff", "😀"])
    })

    it("prints values like sops ValToString", () => {
        const cases: [number, string][] = [
            [3, "3.0"],
            [-0, "-0.0"],
            [123456, "123456.0"],
            [1234567, "1.234567E+06"],
            [0.0001, "0.0001"],
            [0.00001, "1E-05"],
            [1.5, "1.5"],
            [Number.NaN, "NaN"],
            [Number.NEGATIVE_INFINITY, "-Inf"],
        ]
        for (const [v, s] of cases) expect(valToString(v)).toBe(s)
        expect(valToString(12n)).toBe("12")
        expect(valToString(false)).toBe("false")
        expect(valToString(null)).toBe("<nil>")
        expect(valToString(new SopsTime("2024-05-06T07:08:09.123+02:00"))).toBe("2024-05-06T07:08:09+02:00")
    })
})
