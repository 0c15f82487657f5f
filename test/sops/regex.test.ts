import fc from "fast-check"
import { RE2JS } from "re2js"
import { describe, expect, it } from "vitest"
import { compileGoRegex, fastSource, GoRegexSyntaxError, goRegexError } from "../../src/sops/regex.js"
import { compileRule } from "../../src/sops/walk.js"

/** The oracle: re2js (Go's regexp ported) called directly, MatchString = unanchored find. */
function oracle(pattern: string, s: string): boolean | string {
    try {
        return RE2JS.compile(pattern).matcher(s).find()
    } catch (e) {
        return (e as Error).message
    }
}

function ours(pattern: string, s: string): boolean | string {
    try {
        return compileGoRegex(pattern).test(s)
    } catch (e) {
        if (!(e instanceof GoRegexSyntaxError)) throw e
        return e.message
    }
}

describe("Go regexes from files and flags", () => {
    it.each([
        ["(?P<name>ab)c", "xabc", true],
        ["(?<name>ab)c", "xabc", true],
        ["ab\\z", "ab\n", false],
        ["ab$", "ab\n", false],
        ["(?i)^DATA$", "data", true],
        ["(?m)^b$", "a\nb\nc", true],
        ["(?s)a.b", "a\nb", true],
        ["a.b", "a\nb", false],
        ["a.b", "a\u2028b", true],
        ["a.b", "a😀b", true],
        ["^\\pL+$", "Ünïcode", true],
        ["^\\p{Greek}+$", "αβγ", true],
        ["[[:digit:]]", "x1", true],
        ["\\Qa.b\\E", "axb", false],
        ["a{,3}", "a{,3}", true],
        ["^(data|stringData)$", "stringData", true],
        ["^(data|stringData)$", "metadata", false],
        [".*.yaml", "secret.yaml", true],
        [".*.yaml", "yaml", false],
    ])("%s on %j is %s, as in Go", (pattern, subject, expected) => {
        expect(ours(pattern, subject)).toBe(expected)
        expect(oracle(pattern, subject)).toBe(expected)
    })

    it.each([
        ["(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"],
        // Go 1.22+ reads (?< as a named group: a look-behind is an invalid name
        ["(?<=a)b", "error parsing regexp: invalid named capture: `(?<=a)b`"],
        ["(a)\\1", "error parsing regexp: invalid escape sequence: `\\1`"],
        ["\\u0041", "error parsing regexp: invalid escape sequence: `\\u`"],
        ["(", "error parsing regexp: missing closing ): `(`"],
        ["a**", "error parsing regexp: invalid nested repetition operator: `**`"],
        ["a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"],
    ])("refuses %s with Go's message", (pattern, message) => {
        expect(goRegexError(pattern)).toBe(message)
        expect(() => compileGoRegex(pattern)).toThrow(GoRegexSyntaxError)
    })

    it("matches a backtracking bomb in linear time (finding: ^(a+)+$ took 10.5 s for a 28-character key)", () => {
        // 10,000 characters: a backtracking engine would need about 2^10000 steps
        const rule = compileRule({ encryptedRegex: "^(a+)+$" })
        expect(rule.keyMatches?.(`${"a".repeat(10_000)}!`)).toBe(false)
        expect(rule.keyMatches?.("a".repeat(10_000))).toBe(true)
        const comment = compileRule({ encryptedCommentRegex: "^(\\s*#?)+x$" })
        expect(comment.commentRegex?.test(`${" #".repeat(5_000)}y`)).toBe(false)
    }, 10_000)

    it("selects keys in the walk as sops does with Go-only syntax (finding: JS semantics changed what is encrypted and MACed)", () => {
        // each of these decides whether a value is encrypted (and, with mac_only_encrypted, whether it is MACed)
        const matches = (encryptedRegex: string, key: string) => compileRule({ encryptedRegex }).keyMatches?.(key)
        expect(matches("^a.b$", "a\u2028b")).toBe(true)
        expect(matches("^\\pL+$", "données")).toBe(true)
        expect(matches("^(?P<k>data)$", "data")).toBe(true)
        expect(matches("^data\\z", "data")).toBe(true)
        expect(matches("(?i)^DATA$", "Data")).toBe(true)
        expect(matches("[[:upper:]]", "DATA")).toBe(true)
        expect(matches("\\Qa.b\\E", "axb")).toBe(false)
        expect(compileRule({ unencryptedCommentRegex: "^\\pL+$" }).commentRegex?.test("é")).toBe(true)
    })

    it("treats a pattern Go refuses as matching nothing in the walk, as sops does", () => {
        expect(compileRule({ encryptedRegex: "(" }).keyMatches?.("(")).toBe(false)
        expect(compileRule({ unencryptedRegex: "(?=x)" }).keyMatches?.("x")).toBe(false)
    })

    it("keeps the Flux idioms off re2js (fast subset)", () => {
        expect(fastSource("^(data|stringData)$")).toBe("^(?:data|stringData)$")
        expect(fastSource(".*.yaml")).toBe("[^\\n]yaml")
        expect(fastSource("\\.env$")).toBe("\\.env$")
        expect(fastSource("^(a+)+$")).toBeUndefined()
        expect(fastSource("a\\.*")).toBeUndefined()
        expect(fastSource("(?i)a")).toBeUndefined()
        expect(fastSource(`(a|b)`.repeat(4))).toBe("(?:a|b)".repeat(4))
        expect(fastSource(`(a|b)`.repeat(5))).toBeUndefined()
        // long subjects go to re2js: the same answers
        const flux = compileGoRegex("^(data|stringData)$")
        expect(flux.test(`${"data".repeat(2000)}`)).toBe(false)
        expect(compileGoRegex(".*.yaml").test(`${"x".repeat(5000)}.yaml`)).toBe(true)
    })

    // Patterns of the fast subset's grammar plus characters just outside it, against the oracle.
    const atom = fc.constantFrom("a", "b", "y", ".", "\\.", "\\*", "\\$", "^", "$", "😀", "\n", "\u2028", "-", "/", ".*", "*", "+", "?", "{1}", "\\-", "]", "}")
    const fastPattern: fc.Arbitrary<string> = fc.letrec<{ seq: string; group: string }>((tie) => ({
        seq: fc.array(fc.oneof({ weight: 4, arbitrary: atom }, { weight: 1, arbitrary: tie("group") }), { maxLength: 6 }).map((xs) => xs.join("")),
        group: fc
            .tuple(fc.constantFrom("(", "(?:"), fc.array(tie("seq"), { minLength: 1, maxLength: 3 }))
            .map(([open, alts]) => `${open}${alts.join("|")})`),
    })).seq
    const subject = fc
        .array(fc.constantFrom("a", "b", "y", ".", "*", "$", "😀", "\n", "\r", "\u2028", "-", "/", "ya", "\ud800"), { maxLength: 12 })
        .map((xs) => xs.join(""))

    it("agrees with Go's regexp (re2js) on the fast subset and around it", () => {
        fc.assert(
            fc.property(fastPattern, subject, (pattern, s) => {
                expect(ours(pattern, s)).toBe(oracle(pattern, s))
            }),
            { numRuns: 3000, interruptAfterTimeLimit: 8_000 },
        )
    }, 10_000)

    it("agrees with Go's regexp (re2js) on arbitrary patterns, in bounded time", () => {
        const chars = fc.constantFrom(..."ab()[]{}|*+?.^$\\-:PQEzdwspL<>=!,0123 i".split(""))
        fc.assert(
            fc.property(fc.array(chars, { maxLength: 16 }).map((xs) => xs.join("")), subject, (pattern, s) => {
                expect(ours(pattern, s)).toBe(oracle(pattern, s))
            }),
            { numRuns: 3000, interruptAfterTimeLimit: 8_000 },
        )
    }, 10_000)
})
