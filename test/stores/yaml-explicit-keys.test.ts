/**
 * Explicit mapping keys (`? key` then `: value`): yaml.v3 writes a key in that form when it is longer than 128 bytes
 * or holds a line break (yaml_emitter_check_simple_key), so the parser must read back everything the emitter writes.
 */
import { readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { FormatError } from "../../src/errors.js"
import { Branch, Comment, SopsTime, type TreeValue } from "../../src/sops/tree.js"
import { YamlParser } from "../../src/stores/yaml/parser.js"
import { YamlStore } from "../../src/stores/yaml.js"
import { AGE1, sandbox } from "../commands/fixtures.js"

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => Buffer.from(b).toString("utf8")
const store = new YamlStore()
const load1 = (s: string) => store.loadPlain(enc(s))[0]

/** A canonical text of a tree, telling value types and comment kinds apart. */
function show(v: TreeValue): string {
    if (v instanceof Branch)
        return `{${v.items.map((i) => `${i.key instanceof Comment ? show(i.key) : JSON.stringify(i.key)}=${show(i.value)}`).join(",")}}`
    if (Array.isArray(v)) return `[${v.map(show).join(",")}]`
    if (v instanceof Comment) return `#${v.inline ? "i" : "h"}${JSON.stringify(v.value)}`
    if (v instanceof SopsTime) return `time(${v.text})`
    if (typeof v === "bigint") return `${v}n`
    if (typeof v === "number") return `f(${String(v)})`
    return JSON.stringify(v)
}

/** Emit with `indent`, then load and re-emit: the same tree and the same bytes. */
function roundTrip(b: Branch, indent = 4): string {
    const s = new YamlStore({ indent })
    const text = dec(s.emitPlain([b]))
    const back = s.loadPlain(enc(text))
    expect(back.length).toBe(1)
    expect(show(back[0])).toBe(show(b))
    expect(dec(s.emitPlain(back))).toBe(text)
    return text
}

function parseError(text: string): FormatError {
    try {
        new YamlParser(enc(text)).parseStream()
    } catch (e) {
        expect(e).toBeInstanceOf(FormatError)
        return e as FormatError
    }
    throw new Error(`parsed: ${JSON.stringify(text)}`)
}

const k130 = "k".repeat(130)
const k200 = "a".repeat(200)

describe("what the emitter writes for keys it cannot write simply", () => {
    it("a key over 128 bytes: `? key` then `: value` at the same indentation", () => {
        const text = roundTrip(new Branch([{ key: k130, value: "v" }, { key: "b", value: 1n }]))
        expect(text).toBe(`? ${k130}\n: v\nb: 1\n`)
        // 128 bytes is still simple
        expect(roundTrip(new Branch([{ key: "x".repeat(128), value: "v" }]))).toBe(`${"x".repeat(128)}: v\n`)
        // the limit is in bytes: 71 characters, 141 bytes
        const utf = `x${"é".repeat(70)}`
        expect(roundTrip(new Branch([{ key: utf, value: "v" }]))).toBe(`? ${utf}\n: v\n`)
    })

    it("keys that need quoting", () => {
        const keys = [`a: b #${"z".repeat(130)}`, `'${"s".repeat(130)}`, `true${" ".repeat(130)}x`, `- ${"d".repeat(130)}`, `${"q".repeat(130)}"\\`, `#${"c".repeat(130)}`, `${"t".repeat(130)} `, `null${"\t".repeat(130)}`]
        const b = new Branch(keys.map((key, i) => ({ key, value: BigInt(i) })))
        const text = roundTrip(b)
        expect(text).toContain(`? 'a: b #${"z".repeat(130)}'\n: 0\n`)
        expect(text).toContain(`? '''${"s".repeat(130)}'\n: 1\n`)
        roundTrip(b, 2)
    })

    it("keys with line breaks: a literal block scalar after `?`", () => {
        const b = new Branch([
            { key: "multi\nline\n", value: "v2" },
            { key: "multi2\nline", value: null },
            { key: " lead\nx", value: "" },
            { key: "keep\n\n", value: true },
            { key: "a\rb", value: "cr" },
        ])
        const text = roundTrip(b)
        expect(text).toContain("? |\n    multi\n    line\n: v2\n? |-\n    multi2\n    line\n: null\n? |4-\n     lead\n    x\n: \"\"\n")
        expect(roundTrip(b, 2)).toContain("? |2-\n   lead\n  x\n")
    })

    it("collection values after `:` are written compactly", () => {
        const b = new Branch([
            { key: k130, value: new Branch([{ key: "a", value: 1n }, { key: "m", value: "x" }]) },
            { key: `l${k130}`, value: ["a", new Branch([{ key: "p", value: "q" }, { key: "r", value: "s" }]), ["x", "y"]] },
            { key: `e${k130}`, value: new Branch() },
            { key: `f${k130}`, value: [] },
        ])
        expect(roundTrip(b, 2)).toBe(`? ${k130}\n: a: 1\n  m: x\n? l${k130}\n: - a\n  - p: q\n    r: s\n  - - x\n    - "y"\n? e${k130}\n: {}\n? f${k130}\n: []\n`)
        expect(roundTrip(b)).toContain(`? ${k130}\n:   a: 1\n    m: x\n`)
    })

    it("inside sequences and nested explicit keys", () => {
        const deep = new Branch([{ key: "s".repeat(140), value: "deep\ntext\n" }])
        const b = new Branch([
            {
                key: "seq",
                value: [
                    new Branch([{ key: "m".repeat(140), value: "x" }, { key: "o", value: "y" }]),
                    new Branch([{ key: "p".repeat(140), value: new Branch([{ key: "q", value: true }, { key: "r".repeat(140), value: [deep] }]) }]),
                    new Branch([{ key: "multi\nkey", value: null }]),
                ],
            },
            { key: "u".repeat(130), value: new Branch([{ key: "w".repeat(130), value: new Branch([{ key: "y".repeat(130), value: null }]) }]) },
            { key: "end", value: "e" },
        ])
        for (const indent of [2, 3, 4, 8]) roundTrip(b, indent)
        const text = roundTrip(b, 2)
        expect(text).toContain(`  - ? ${"m".repeat(140)}\n    : x\n    o: "y"\n`)
        expect(text).toContain(`? ${"u".repeat(130)}\n: ? ${"w".repeat(130)}\n  : ? ${"y".repeat(130)}\n    : null\nend: e\n`)
    })

    it("comments around explicit entries", () => {
        const b = new Branch([
            { key: new Comment(" head"), value: null },
            { key: k130, value: "v" },
            { key: new Comment(" before"), value: null },
            { key: new Comment(" inline", true), value: null },
            { key: `x${k130}`, value: "w" },
            { key: new Comment(" before map"), value: null },
            { key: `y${k130}`, value: new Branch([{ key: new Comment(" inner"), value: null }, { key: "a", value: 1n }]) },
            { key: `z${k130}`, value: [new Comment(" first"), new Comment(" second"), "a", new Comment(" on b", true), "b"] },
            { key: new Comment(" tail"), value: null },
        ])
        const text = roundTrip(b)
        expect(text).toContain(`# before\n? x${k130}\n: w # inline\n`)
        // the head comment of a collection value goes after the `:`
        expect(text).toContain(`? y${k130}\n:   # inner\n    a: 1\n`)
        expect(text).toContain(`? z${k130}\n:   # first\n    # second\n    - a\n    - b # on b\n`)
        roundTrip(b, 2)
    })

    it("the store's encrypted form (ENC values, sops metadata) loads back", () => {
        const s = new YamlStore()
        const b = new Branch([{ key: "stringData", value: new Branch([{ key: k200, value: "ENC[AES256_GCM,data:AA==,iv:x,tag:y,type:str]" }]) }])
        const text = dec(s.emitPlain([b]))
        expect(text).toBe(`stringData:\n    ? ${k200}\n    : ENC[AES256_GCM,data:AA==,iv:x,tag:y,type:str]\n`)
        expect(show(s.loadPlain(enc(text))[0])).toBe(show(b))
    })
})

describe("explicit keys written by hand", () => {
    it("scalar key styles", () => {
        expect(show(load1("? plain key\n: v\n? 'single'' q'\n: 1\n? \"dq\\tx\"\n: 2\n? |\n  lit\n: 3\n? >-\n  fold\n  ed\n: 4\n"))).toBe(
            '{"plain key"="v","single\' q"=1n,"dq\\tx"=2n,"lit\\n"=3n,"fold ed"=4n}',
        )
        // a multi-line plain or quoted key
        expect(show(load1("? a\n  b\n: v\n? \"c\n  d\"\n: w\n"))).toBe('{"a b"="v","c d"="w"}')
        // the key on the line after `?`
        expect(show(load1("?\n  k\n: v\n"))).toBe('{"k"="v"}')
        // properties and aliases
        expect(show(load1("a: &x kk\n? !!str 12\n: v\n? *x\n: w\n? &y z\n: *y\n"))).toBe('{"a"="kk","12"="v","kk"="w","z"="z"}')
    })

    it("values: none, on the `:` line, on the following lines", () => {
        expect(show(load1("? a\n? b\nc: 1\n? d\n"))).toBe('{"a"=null,"b"=null,"c"=1n,"d"=null}')
        expect(show(load1("? a\n:\n  x: 1\n  y: [1, 2]\n? b\n:\n  - 1\n? c\n:\nd: |\n  t\n"))).toBe('{"a"={"x"=1n,"y"=[1n,2n]},"b"=[1n],"c"=null,"d"="t\\n"}')
        expect(show(load1("? a\n: |\n  t\n? b\n: >\n  f\n  g\n? c\n: \"q\"\n? d\n: plain\n  more\n"))).toBe('{"a"="t\\n","b"="f g\\n","c"="q","d"="plain more"}')
        expect(show(load1("? a\n: b: 1\n  c: 2\n? d\n: - 1\n  - 2\n? e\n: ? f\n  : g\n"))).toBe('{"a"={"b"=1n,"c"=2n},"d"=[1n,2n],"e"={"f"="g"}}')
        // nested block mapping entries and sequences
        expect(show(load1("top:\n  ? a\n  : 1\n  b: 2\nlist:\n- ? k\n  : v\n  o: p\n-\n  ? q\n  : r\n"))).toBe('{"top"={"a"=1n,"b"=2n},"list"=[{"k"="v","o"="p"},{"q"="r"}]}')
    })

    it("comments", () => {
        expect(show(load1("# h\n? a # on key\n# between\n: v # on value\n# after\nb: 1\n"))).toBe(
            '{#h" h"=null,#h" on key"=null,#h" between"=null,#i" on value"=null,"a"="v",#h" after"=null,"b"=1n}',
        )
        // after the `:`, the head comment of a collection value (where the emitter writes it), else the entry's
        expect(show(load1("? # on ?\n  a\n: # on colon\n  x: 1\n"))).toBe('{#h" on ?"=null,"a"={#h" on colon"=null,"x"=1n}}')
        expect(show(load1("? a\n: # on colon\n  # next\n  - 1\n"))).toBe('{"a"=[#h" on colon",#h" next",1n]}')
        expect(show(load1("? a\n: # on colon\n  v\n"))).toBe('{#h" on colon"=null,"a"="v"}')
        expect(show(load1("? |  # on block\n  t\n: v\n"))).toBe('{#h" on block"=null,"t\\n"="v"}')
        // a comment closing a nested mapping stays in it, as with simple keys
        expect(show(load1("a:\n  ? b\n  : c\n  # in a\nd: e\n"))).toBe(show(load1("a:\n  b: c\n  # in a\nd: e\n")))
    })

    it("the same errors as for simple keys", () => {
        expect(parseError("? a\n: 1\na: 2\n").message).toContain('yaml: unmarshal errors:\n  line 3: mapping key "a" already defined at line 1')
        expect(parseError("a: 1\n? a\n").message).toContain('mapping key "a" already defined at line 1')
        expect(parseError("? 1\n: x\n").message).toContain("Tree contains a non-string key (type int)")
        expect(parseError("? a\n:  x\n  : y\n").message).toContain("yaml: line")
        expect(parseError("? a\n: x\n b: 1\n").message).toContain("line 3: mapping values are not allowed in this context")
    })

    it("collection keys are refused", () => {
        for (const text of ["? a: b\n: v\n", "? - a\n: v\n", "? [a]\n: v\n", "? {a: 1}\n: v\n", "?\n  a: 1\n: v\n", "?\n  - a\n", "x:\n  ? *y\n"]) {
            const e = parseError(text.replace("*y", "k: 1"))
            expect(e.message, text).toContain("complex mapping keys are not supported")
        }
    })
})

describe("property: emit then load gives the same tree, long and multi-line keys included", () => {
    // a multi-line string starting with a blank gets an indentation indicator, which yaml.v3 (and this parser) read
    // against the wrong indentation inside a sequence when the indent is over 2: a separate, older limitation
    const indicatorFree = (s: string) => !(/^[ \n\r\u0085\u2028\u2029]/.test(s) && /[\n\r\u0085\u2028\u2029]/.test(s))
    const key = fc.oneof(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.tuple(fc.string({ maxLength: 6 }), fc.integer({ min: 120, max: 200 }), fc.constantFrom("a", "é", " ", "#", ":", "'", '"', "\\", "-")).map(
            ([p, n, c]) => `${p}${c.repeat(Math.ceil(n / Buffer.byteLength(c)))}`,
        ),
        fc.constantFrom("a\nb", "a\n", "x\n ", "a \nb ", "a\n\n", "x\ty\nz", "k: v\n# c", "- a\n- b", "'q'\n\"d\""),
    ).filter(indicatorFree)
    const scalar: fc.Arbitrary<TreeValue> = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("a\nb", "", "x: y", "#c", "l\n"), fc.bigInt({ min: -9n, max: 9n }), fc.boolean(), fc.constant(null)).filter(
        (v) => typeof v !== "string" || indicatorFree(v),
    )
    const commentText = fc.stringMatching(/^[ a-zA-Z0-9#:-]{0,10}$/).map((s) => s.replace(/\s+$/, ""))
    const { map } = fc.letrec<{ tree: TreeValue; map: Branch; list: TreeValue[] }>((tie) => ({
        tree: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalar, tie("map"), tie("list")),
        map: fc
            .uniqueArray(fc.tuple(key.filter((k) => k !== "sops"), tie("tree")), { selector: (e) => e[0], maxLength: 4 })
            .chain((entries) =>
                fc.array(fc.tuple(fc.nat(entries.length), commentText), { maxLength: 2 }).map((cs) => {
                    const items: { key: string | Comment; value: TreeValue }[] = entries.map(([k, v]) => ({ key: k, value: v }))
                    for (const [at, text] of cs.sort((a, b) => b[0] - a[0]))
                        if (at >= 1 && at < items.length) items.splice(at, 0, { key: new Comment(text), value: null })
                    return new Branch(items)
                }),
            ),
        list: fc.array(tie("tree"), { maxLength: 3 }),
    }))
    it("holds, and re-emitting gives the same bytes", () => {
        fc.assert(
            fc.property(
                map.filter((b) => b.items.length > 0),
                fc.integer({ min: 2, max: 8 }),
                (b, indent) => {
                    roundTrip(b, indent)
                },
            ),
            { numRuns: 400 },
        )
    })
})

describe("end to end: the built CLI encrypts and decrypts a Secret with a 200-character key", () => {
    it("decrypts what it encrypted", async () => {
        const box = sandbox()
        const file = path.join(box.dir, "secret.yaml")
        const plain = `apiVersion: v1\nkind: Secret\nmetadata:\n    name: x\nstringData:\n    ${k200}: value\n    short: s\n`
        writeFileSync(file, plain)
        const e = await box.run(["encrypt", "--age", AGE1, "secret.yaml"])
        expect(e.stderr).toBe("")
        expect(e.code).toBe(0)
        expect(e.stdout).toMatch(new RegExp(`\\n    \\? ${k200}\\n    : ENC\\[AES256_GCM,data:[^\\n]*,type:str\\]\\n    short: ENC\\[`))
        writeFileSync(path.join(box.dir, "secret.enc.yaml"), e.stdout)
        const d = await box.run(["decrypt", "secret.enc.yaml"])
        expect(d.stderr).toBe("")
        expect(d.code).toBe(0)
        // sops writes the long key in explicit form; everything else as it was
        expect(d.stdout).toBe(plain.replace(`    ${k200}: value\n`, `    ? ${k200}\n    : value\n`))
        // and decrypting in place then re-encrypting keeps working
        const i = await box.run(["decrypt", "--in-place", "secret.enc.yaml"])
        expect(i.code).toBe(0)
        expect(readFileSync(path.join(box.dir, "secret.enc.yaml"), "utf8")).toBe(d.stdout)
        const again = await box.run(["encrypt", "--age", AGE1, "secret.enc.yaml"])
        expect(again.code).toBe(0)
        expect(again.stdout).toContain(`    ? ${k200}\n    : ENC[`)
    }, 60_000)
})
