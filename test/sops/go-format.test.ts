import { describe, expect, it } from "vitest"
import { formatFloat } from "../../src/sops/go-format.js"

describe("formatFloat (Go strconv.FormatFloat(v, fmt, -1, 64))", () => {
    it.each([
        [1e21, "1000000000000000000000"],
        [1e-7, "0.0000001"],
        [1.0, "1"],
        [-0, "-0"],
        [Number.NaN, "NaN"],
        [Number.POSITIVE_INFINITY, "+Inf"],
        [Number.NEGATIVE_INFINITY, "-Inf"],
        [2 ** 63, "9223372036854776000"],
        [1234567.89, "1234567.89"],
        [0.1, "0.1"],
        [25.4, "25.4"],
        [1234568000, "1234568000"],
        [0, "0"],
        [-1.5, "-1.5"],
    ])("f: %s → %s", (v, want) => {
        expect(formatFloat(v, "f")).toBe(want)
    })

    it.each([
        [1e6, "1e+06"],
        [123456, "123456"],
        [1234567, "1.234567e+06"],
        [0.0001, "0.0001"],
        [0.00001, "1e-05"],
        [1.5, "1.5"],
        [0, "0"],
        [1e21, "1e+21"],
        [-2.5e-10, "-2.5e-10"],
        [1e100, "1e+100"],
    ])("g: %s → %s", (v, want) => {
        expect(formatFloat(v, "g")).toBe(want)
    })

    it.each([
        [1e6, "1e+06"],
        [1.5, "1.5e+00"],
        [0, "0e+00"],
        [123.456, "1.23456e+02"],
    ])("e: %s → %s", (v, want) => {
        expect(formatFloat(v, "e")).toBe(want)
    })

    it("G and E use upper-case exponents", () => {
        expect(formatFloat(1e6, "G")).toBe("1E+06")
        expect(formatFloat(1e6, "E")).toBe("1E+06")
    })
})
