import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { KsopsError, MetadataNotFoundError } from "../../src/errors.js"
import { Branch, branchOf, Comment, SopsTime, type TreeValue } from "../../src/sops/tree.js"
import { formatJsonFloat, JsonStore, quoteJsonString } from "../../src/stores/json.js"
import { bytes, text, formatErrorOf } from "./helpers.js"

const store = new JsonStore()
const load = (s: string) => store.loadPlain(bytes(s))[0]
const emit = (b: Branch, indent?: number) => text(new JsonStore({ indent }).emitPlain([b]))

describe("JSON reading", () => {
    it("keeps key order and duplicate keys", () => {
        const b = load('{"b": 1, "a": 2, "b": 3}')
        expect(b.items).toEqual([
            { key: "b", value: 1n },
            { key: "a", value: 2n },
            { key: "b", value: 3n },
        ])
    })

    it("reads integer literals that fit int64 as ints, everything else as floats", () => {
        const b = load(
            '{"i": 42, "neg": -7, "max": 9223372036854775807, "min": -9223372036854775808, "over": 9223372036854775808, "f": 1.0, "e": 1e2, "negzero": -0, "big": 12345678901234567}',
        )
        expect(b.get("i")).toBe(42n)
        expect(b.get("neg")).toBe(-7n)
        expect(b.get("max")).toBe(9223372036854775807n)
        expect(b.get("min")).toBe(-9223372036854775808n)
        expect(b.get("over")).toBe(2 ** 63)
        expect(b.get("f")).toBe(1)
        expect(typeof b.get("f")).toBe("number")
        expect(b.get("e")).toBe(100)
        expect(b.get("negzero")).toBe(0n)
        expect(b.get("big")).toBe(12345678901234567n)
    })

    it("reads strings, escapes, surrogates, literals and nesting", () => {
        const b = load(
            '{"s": "a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00", "lone": "\\ud800x", "low": "\\udc00", "t": true, "f": false, "n": null, "l": [[], {}, [1]]}',
        )
        expect(b.get("s")).toBe('a"b\\c/d\b\f\n\r\té😀')
        expect(b.get("lone")).toBe("\ufffdx")
        expect(b.get("low")).toBe("\ufffd")
        expect(b.get("t")).toBe(true)
        expect(b.get("f")).toBe(false)
        expect(b.get("n")).toBeNull()
        expect(b.get("l")).toEqual([[], new Branch(), [1n]])
    })

    it("turns each invalid UTF-8 byte into U+FFFD", () => {
        const input = new Uint8Array([...bytes('{"k": "a'), 0xe2, 0x82, 0x41, 0xff, ...bytes('"}')])
        expect(new JsonStore().loadPlain(input)[0].get("k")).toBe("a\ufffd\ufffdA\ufffd")
    })

    it("ignores anything after the top-level object, like sops' token reader", () => {
        expect(load('{"a": 1} trailing {').items).toHaveLength(1)
    })

    it("reports malformed input with line and column", () => {
        const e = formatErrorOf(() => load('{\n  "a": 1,\n  "b": }'))
        expect(e.position).toEqual({ line: 3, column: 8 })
        expect(e.detail).toBe("invalid character '}' looking for beginning of value")
        expect(formatErrorOf(() => load('{"a" 1}')).detail).toBe("invalid character '1' after object key")
        expect(formatErrorOf(() => load('{"a": 1 "b": 2}')).detail).toBe(
            "invalid character '\"' after object key:value pair",
        )
        expect(formatErrorOf(() => load('{"a": 1,}')).detail).toBe(
            "invalid character '}' looking for beginning of object key string",
        )
        expect(formatErrorOf(() => load('{"a": [1,]}')).detail).toBe("invalid character ']' looking for beginning of value")
        expect(formatErrorOf(() => load('{"a": [1 2]}')).detail).toBe("invalid character '2' after array element")
        expect(formatErrorOf(() => load('{"a": "x\ny"}')).detail).toBe("invalid character '\\n' in string literal")
        expect(formatErrorOf(() => load('{"a": "\\x"}')).detail).toBe("invalid character 'x' in string escape code")
        expect(formatErrorOf(() => load('{"a": tru}')).detail).toMatch(/^invalid character '}' in literal true/)
        expect(formatErrorOf(() => load('{"a": 1.}')).detail).toMatch(/^invalid character '}' after decimal point/)
        expect(formatErrorOf(() => load('{"a": 1e400}')).detail).toMatch(/value out of range/)
        expect(formatErrorOf(() => load('{"a": "x')).detail).toBe("unexpected end of JSON input")
        expect(formatErrorOf(() => load('{"a": 1')).detail).toBe("unexpected end of JSON input")
        expect(formatErrorOf(() => load("")).detail).toBe("EOF")
        expect(formatErrorOf(() => load("\ufeff{}")).detail).toMatch(/^invalid character/)
    })

    it("refuses a top level that is not an object", () => {
        expect(formatErrorOf(() => load("[1]")).detail).toMatch(/^SOPS only supports JSON files with a top-level object/)
        expect(formatErrorOf(() => load('"x"')).detail).toMatch(/not other JSON types\. Got "x" of type string instead$/)
        expect(formatErrorOf(() => load("12")).detail).toMatch(/Got 12 of type int instead$/)
    })

    it("stops at absurd nesting instead of overflowing the stack", () => {
        const deep = `{"a": ${"[".repeat(20000)}${"]".repeat(20000)}}`
        expect(formatErrorOf(() => load(deep)).detail).toBe("exceeded max depth")
        const ok = `{"a": ${"[".repeat(5000)}${"]".repeat(5000)}}`
        expect(load(ok).items).toHaveLength(1)
    })
})

describe("JSON writing", () => {
    it("escapes like Go encoding/json", () => {
        expect(quoteJsonString('<a href="x">&</a>')).toBe('"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"')
        expect(quoteJsonString("\u2028\u2029\u0000\u001f\b\f\n\r\t\\\u007f é😀\ufffd")).toBe(
            '"\\u2028\\u2029\\u0000\\u001f\\b\\f\\n\\r\\t\\\\\u007f é😀\ufffd"',
        )
    })

    it("formats floats like Go encoding/json", () => {
        const cases: [number, string][] = [
            [1, "1"],
            [0.25, "0.25"],
            [-0, "-0"],
            [1e21, "1e+21"],
            [1e20, "100000000000000000000"],
            [1e-7, "1e-7"],
            [0.000001, "0.000001"],
            [1.5e-10, "1.5e-10"],
            [2 ** 63, "9223372036854776000"],
            [123456789.125, "123456789.125"],
            [Number.MAX_VALUE, "1.7976931348623157e+308"],
            [5e-324, "5e-324"],
        ]
        for (const [v, s] of cases) expect(formatJsonFloat(v)).toBe(s)
        expect(() => formatJsonFloat(Number.NaN)).toThrow(KsopsError)
        expect(() => formatJsonFloat(Number.POSITIVE_INFINITY)).toThrow(/unsupported value: \+Inf/)
    })

    it("indents with tabs by default, n spaces, or only newlines; empty containers stay inline", () => {
        const b = branchOf([
            ["a", [1n, new Branch(), []]],
            ["b", branchOf([["c", "d"]])],
        ])
        expect(emit(b)).toBe('{\n\t"a": [\n\t\t1,\n\t\t{},\n\t\t[]\n\t],\n\t"b": {\n\t\t"c": "d"\n\t}\n}\n')
        expect(emit(b, 2)).toBe('{\n  "a": [\n    1,\n    {},\n    []\n  ],\n  "b": {\n    "c": "d"\n  }\n}\n')
        expect(emit(b, 0)).toBe('{\n"a": [\n1,\n{},\n[]\n],\n"b": {\n"c": "d"\n}\n}\n')
        expect(emit(new Branch())).toBe("{}\n")
        expect(() => emit(b, -2)).toThrow(/smaller than -1/)
    })

    it("drops comments and writes times, bytes and special values", () => {
        const b = branchOf([
            [new Comment(" top"), null],
            ["t", new SopsTime("2024-01-01T00:00:00.5+01:00")],
            ["l", [new Comment("x"), true, null, 1.5]],
            ["only", [new Comment("x")]],
            ["raw", new Uint8Array([0x61, 0xff, 0x3c])],
        ])
        expect(emit(b)).toBe(
            '{\n\t"t": "2024-01-01T00:00:00.5+01:00",\n\t"l": [\n\t\ttrue,\n\t\tnull,\n\t\t1.5\n\t],\n\t"only": [],\n\t"raw": "a\\ufffd\\u003c"\n}\n',
        )
    })

    it("appends the metadata as the last key and refuses a data key named sops", () => {
        const out = text(store.emitEncrypted([branchOf([["a", "x"]])], branchOf([["version", "3.13.2"]])))
        expect(out).toBe('{\n\t"a": "x",\n\t"sops": {\n\t\t"version": "3.13.2"\n\t}\n}\n')
        expect(() => store.emitEncrypted([branchOf([["sops", "x"]])], new Branch())).toThrow(/reserved key/)
    })

    it("emits single values for --extract", () => {
        expect(text(store.emitValue("raw\n<"))).toBe("raw\n<")
        expect(text(store.emitValue(5n))).toBe("5")
        expect(text(store.emitValue(["a", 1.5]))).toBe('[\n\t"a",\n\t1.5\n]')
        expect(text(store.emitValue(branchOf([["k", "v"]])))).toBe('{\n\t"k": "v"\n}\n')
    })
})

describe("JSON metadata", () => {
    it("splits off the sops key", () => {
        const file = store.loadEncrypted(bytes('{"a": 1, "sops": {"version": "3.13.2"}, "b": 2}'))
        expect(file.branches[0].items.map((i) => i.key)).toEqual(["a", "b"])
        expect(file.metadata.get("version")).toBe("3.13.2")
        expect(store.hasMetadataKey(store.loadPlain(bytes('{"sops": 1}')))).toBe(true)
        expect(store.hasMetadataKey(store.loadPlain(bytes('{"x": 1}')))).toBe(false)
    })
    it("reports missing, duplicate and non-map metadata", () => {
        expect(() => store.loadEncrypted(bytes('{"a": 1}'))).toThrow(MetadataNotFoundError)
        expect(() => store.loadEncrypted(bytes('{"sops": {}, "sops": {}}'))).toThrow(/Found duplicate sops entry/)
        expect(() => store.loadEncrypted(bytes('{"sops": 1}'))).toThrow(/not a mapping/)
    })
})

/** What a JSON round trip makes of a value: floats printed without fraction or exponent come back as ints. */
function normalize(v: TreeValue): TreeValue {
    if (typeof v === "number") {
        const s = formatJsonFloat(v)
        if (!/^-?\d+$/.test(s)) return v
        const i = BigInt(s)
        return i >= -(2n ** 63n) && i < 2n ** 63n ? i : v
    }
    if (v instanceof Branch) return new Branch(v.items.map((i) => ({ key: i.key, value: normalize(i.value) })))
    if (Array.isArray(v)) return v.map(normalize)
    return v
}

const scalar = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    // not -0: it is written "-0" (like Go), which reads back as the int 0 (like sops) and is then written "0", so
    // the byte-for-byte second pass below would differ (a rare counterexample that made this test flaky)
    fc
        .double({ noNaN: true, noDefaultInfinity: true })
        .map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.boolean(),
    fc.constant(null),
)
const { tree } = fc.letrec<{ tree: Branch; value: TreeValue }>((tie) => ({
    tree: fc
        .array(fc.tuple(fc.string({ unit: "binary" }), tie("value")), { maxLength: 5 })
        .map((entries) => branchOf(entries)),
    value: fc.oneof({ depthSize: "small" }, scalar, tie("tree"), fc.array(tie("value"), { maxLength: 4 })),
}))

describe("JSON properties", () => {
    it("load(emit(tree)) gives the tree back (ints for integral floats)", () => {
        fc.assert(
            fc.property(tree, fc.integer({ min: -1, max: 4 }), (b, indent) => {
                const s = new JsonStore({ indent })
                const out = s.emitPlain([b])
                const back = s.loadPlain(out)[0]
                expect(back).toEqual(normalize(b))
                expect(text(s.emitPlain([back]))).toBe(text(out))
            }),
            { numRuns: 300 },
        )
    })
    it("agrees with JSON.parse on what it writes", () => {
        fc.assert(
            fc.property(tree, (b) => {
                expect(() => JSON.parse(text(store.emitPlain([b])))).not.toThrow()
            }),
        )
    })
})

// Speed is a benchmark figure (`npm run bench`, J1: load + emit of this same document, with a target); here only
// what the large document must come out as.
describe("a large JSON document", () => {
    it("loads and emits a ~6 MiB file with 40,000 objects, unchanged through a round trip", () => {
        const entries: string[] = []
        for (let i = 0; i < 40000; i++) {
            entries.push(
                `"key${i}": {"name": "value number ${i} with some text <&>", "n": ${i}, "f": ${i}.5, "list": ["a\\nb", true, null]}`,
            )
        }
        const input = bytes(`{${entries.join(", ")}}`)
        expect(input.length).toBeGreaterThan(4 * 1024 * 1024)
        const branches = store.loadPlain(input)
        expect(branches[0].items).toHaveLength(40000)
        const out = store.emitPlain(branches)
        expect(JSON.parse(text(out))).toEqual(JSON.parse(text(input)))
        expect(text(store.emitPlain(store.loadPlain(out)))).toBe(text(out))
    })
})
