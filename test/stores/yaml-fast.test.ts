import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { FormatError } from "../../src/errors.js"
import { Branch, Comment, SopsTime, type TreeValue } from "../../src/sops/tree.js"
import { YamlParser } from "../../src/stores/yaml/parser.js"
import { YamlStore } from "../../src/stores/yaml.js"

const enc = (s: string) => new TextEncoder().encode(s)
const store = new YamlStore()

/** A canonical text of a parse result (tree or error), telling every value type and comment kind apart. */
function show(v: TreeValue): string {
    if (v instanceof Branch)
        return `{${v.items.map((i) => `${i.key instanceof Comment ? show(i.key) : JSON.stringify(i.key)}=${show(i.value)}`).join(",")}}`
    if (Array.isArray(v)) return `[${v.map(show).join(",")}]`
    if (v instanceof Comment) return `#${v.inline ? "i" : "h"}${JSON.stringify(v.value)}`
    if (v instanceof SopsTime) return `time(${v.text})`
    if (v instanceof Uint8Array) return `bytes(${Buffer.from(v).toString("hex")})`
    if (typeof v === "bigint") return `${v}n`
    if (typeof v === "number") return `f(${Object.is(v, -0) ? "-0" : String(v)})`
    return JSON.stringify(v)
}

function parse(text: string, fastPaths: boolean): string {
    try {
        return new YamlParser(enc(text), { fastPaths }).parseStream().map(show).join("\n---\n")
    } catch (e) {
        return `error: ${(e as Error).message} ${JSON.stringify((e as FormatError).position)}`
    }
}

describe("parser fast path (key: plain scalar) against the general path", () => {
    const indent = fc.constantFrom("", "", "", " ", "  ", "    ", "\t", "  \t")
    const key = fc.constantFrom("a", "b1", "key", "'q k'", '"d"', "- x", "? k", "-", "k#", "1", "sops")
    const sep = fc.constantFrom(": ", ": ", ":", ":  ", ": \t", " : ", ":\t")
    const value = fc.oneof(
        fc.stringMatching(/^[a-z0-9 :#'"\t&*!|>[\]{},%@`~.?-]{0,8}$/),
        fc.constantFrom("true", "~", "1", "0x1F", "2001-01-01", "<<", "18446744073709551616", "x y", "a:b", "a #b", "é", ""),
    )
    const trailing = fc.constantFrom("", "", " ", " # c", "\t", "  ", "#x")
    const line = fc.oneof(
        { weight: 8, arbitrary: fc.tuple(indent, key, sep, value, trailing).map((p) => p.join("")) },
        { weight: 1, arbitrary: fc.constantFrom("", " ", "# top", "  # deep", "---", "...", "\t") },
        { weight: 2, arbitrary: fc.tuple(indent, value).map(([i, v]) => i + v) },
    )
    const doc = fc.array(line, { minLength: 1, maxLength: 8 }).chain((lines) =>
        fc.boolean().map((finalNewline) => lines.join("\n") + (finalNewline ? "\n" : "")),
    )

    it("gives the same tree or the same error", () => {
        fc.assert(
            fc.property(doc, (text) => {
                expect(parse(text, true)).toBe(parse(text, false))
            }),
            { numRuns: 3000 },
        )
    })

    it("handles the common shapes (and their neighbours) like the general path", () => {
        const cases = [
            "a: b\nc: d\n",
            "a: b",
            "a: b  \nc: d\n",
            "a: b\n  c\n",
            "a: b\n\n  c\n",
            "a: b\n# x\nc: d\n",
            "a: b\n  # x\nc: d\n",
            "g:\n    k: v\n    k2: 0x10\nh: ~\n",
            "a: b # c\n",
            "a: b: c\n",
            "a: b\n\t\nc: d\n",
            "a: -x\nb: ?y\nc: :z\n",
            "- a: b\n  c: d\n",
            "a: 18446744073709551616\n",
        ]
        for (const text of cases) expect(parse(text, true), text).toBe(parse(text, false))
    })
})

describe("plain scalar continuation", () => {
    it("continues a plain scalar after trailing blanks on its line", () => {
        expect(store.loadPlain(enc("a: foo  \n  bar\nb: c\n"))[0].get("a")).toBe("foo bar")
        expect(store.loadPlain(enc("a: foo\t\n  bar\n"))[0].get("a")).toBe("foo bar")
        expect(store.loadPlain(enc("a:\n- foo \n  bar\n"))[0].get("a")).toEqual(["foo bar"])
        expect(store.loadPlain(enc("a: foo  # c\nb: bar\n"))[0].get("a")).toBe("foo")
    })
})

describe("explicitly tagged scalars (yaml.v3 resolve with a tag)", () => {
    const value = (s: string) => store.loadPlain(enc(`v: ${s}\n`))[0].get("v")
    it("types quoted scalars tagged !!int, !!float, !!bool, !!null, !!timestamp", () => {
        expect(value('!!int "5"')).toBe(5n)
        expect(value("!!int '0x10'")).toBe(16n)
        expect(value('!!float "5"')).toBe(5)
        expect(value('!!float "1.5"')).toBe(1.5)
        expect(value("!!bool 'true'")).toBe(true)
        expect(value('!!null ""')).toBe(null)
        expect(value('!!timestamp "2001-02-03"')).toEqual(new SopsTime("2001-02-03T00:00:00Z"))
        expect(value('!<tag:yaml.org,2002:int> "7"')).toBe(7n)
    })

    it("turns an int into a float under !!float, also for plain scalars", () => {
        expect(value("!!float 5")).toBe(5)
        expect(typeof value("!!float 5")).toBe("number")
        expect(value("!!int 5")).toBe(5n)
    })

    it("keeps the text for !!str (short or long form) and unknown tags", () => {
        expect(value('!!str "5"')).toBe("5")
        expect(value("!<tag:yaml.org,2002:str> 5")).toBe("5")
        expect(value("!custom 5")).toBe("5")
        expect(value("!!map 5")).toBe("5")
    })

    it("fails on the first document when the text does not fit the tag, and leaves null in later ones", () => {
        expect(() => value('!!int "abc"')).toThrow("yaml: cannot decode !!str `abc` as a !!int")
        expect(() => value("!!bool yes")).toThrow("yaml: cannot decode !!str `yes` as a !!bool")
        expect(() => value("!!int 2001-01-01")).toThrow("yaml: cannot decode !!str `2001-01-01` as a !!int")
        expect(() => value("!!int 1.5")).toThrow("yaml: cannot decode !!float `1.5` as a !!int")
        const docs = store.loadPlain(enc('a: 1\n---\nv: !!int "abc"\n'))
        expect(docs[1].get("v")).toBe(null)
    })

    it("types tagged quoted keys, so a non-string key is reported", () => {
        expect(() => store.loadPlain(enc('!!int "5": x\n'))).toThrow("non-string key (type int)")
        expect(() => store.loadPlain(enc('a: 1\n!!int "5": x\n'))).toThrow("non-string key (type int)")
        const b = store.loadPlain(enc("!!str 5: x\nb: &k y\n&a c: *k\n"))[0]
        expect(b.items.map((i) => i.key)).toEqual(["5", "b", "c"])
        expect(b.get("c")).toBe("y")
    })
})
