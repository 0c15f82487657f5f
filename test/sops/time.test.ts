import { describe, expect, it } from "vitest"
import { formatDateSeconds, formatRfc3339Seconds, parseRfc3339, parseYamlTimestamp } from "../../src/sops/time.js"

describe("parseRfc3339", () => {
    it.each([
        ["2025-08-06T18:55:05Z", "2025-08-06T18:55:05Z"],
        ["2006-01-02T15:04:05.120+07:06", "2006-01-02T15:04:05.12+07:06"],
        ["2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00Z"],
        ["2024-01-01T00:00:00.000000000Z", "2024-01-01T00:00:00Z"],
        ["2024-02-29T23:59:59.123456789-05:30", "2024-02-29T23:59:59.123456789-05:30"],
    ])("%s → %s", (input, want) => {
        expect(parseRfc3339(input).text).toBe(want)
    })

    it.each(["", "2024-01-01", "2024-01-01t00:00:00Z", "2024-01-01 00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-01T24:00:00Z"])(
        "rejects %j",
        (input) => {
            expect(() => parseRfc3339(input)).toThrow(/parsing time/)
        },
    )

    it("formats seconds for the MAC's AAD", () => {
        expect(formatRfc3339Seconds(parseRfc3339("2025-08-06T18:55:05.5+00:00"))).toBe("2025-08-06T18:55:05Z")
        expect(formatRfc3339Seconds(parseRfc3339("2025-08-06T18:55:05.5+02:00"))).toBe("2025-08-06T18:55:05+02:00")
        expect(formatDateSeconds(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))).toBe("2026-01-02T03:04:05Z")
    })
})

describe("parseYamlTimestamp (yaml.v3 rules)", () => {
    it.each([
        ["2024-01-01", "2024-01-01T00:00:00Z"],
        ["2025-01-02 03:04:05", "2025-01-02T03:04:05Z"],
        ["2024-1-2T3:4:5Z", "2024-01-02T03:04:05Z"],
        ["2024-01-02t03:04:05.5+01:00", "2024-01-02T03:04:05.5+01:00"],
        ["2001-12-14 21:59:43.10", "2001-12-14T21:59:43.1Z"],
    ])("%s → %s", (input, want) => {
        expect(parseYamlTimestamp(input)?.text).toBe(want)
    })

    it.each(["2024", "20240-01-01", "2024-13-01", "2024-01-01T00:00:00", "2024-01-01 00:00:00Z", "hello", "2024-01-01x"])(
        "%j is not a timestamp",
        (input) => {
            expect(parseYamlTimestamp(input)).toBeUndefined()
        },
    )
})
