/**
 * Line endings, byte order marks and invalid UTF-8 in the text stores, against what sops 3.13.2 does:
 * - go-yaml v3 skips a UTF-8 BOM and takes CRLF (and a lone CR) as line breaks (vectors sops-3.13.2-cli/yaml-bom,
 *   yaml-crlf); its reader refuses invalid UTF-8 and control characters (readerc.go);
 * - Go's encoding/json takes CR as white space but refuses a BOM: `invalid character 'ï' looking for beginning of
 *   value` (its scanner names the first byte, 0xEF, as a code point);
 * - go-ini skips a UTF-8 BOM and trims the CR of CRLF lines.
 */
import { describe, expect, it } from "vitest"
import type { Branch } from "../../src/sops/tree.js"
import { IniStore } from "../../src/stores/ini.js"
import { JsonStore } from "../../src/stores/json.js"
import { YamlStore } from "../../src/stores/yaml.js"
import { bytes, text, vector, vectorText, formatErrorOf } from "./helpers.js"

const BOM = [0xef, 0xbb, 0xbf]
const raw = (...parts: (string | number[])[]) =>
    new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...Buffer.from(p, "latin1")] : p)))

describe("YAML: BOM and CRLF (go-yaml v3)", () => {
    const yaml = new YamlStore()
    const roundTrip = (input: Uint8Array) => text(yaml.emitPlain(yaml.loadPlain(input)))

    it("reads sops' yaml-bom and yaml-crlf inputs as sops does (its out.yaml)", () => {
        for (const c of ["yaml-bom", "yaml-crlf"]) {
            const input = vector(`sops-3.13.2-cli/${c}/in.yaml`)
            expect(roundTrip(input), c).toBe(vectorText(`sops-3.13.2-cli/${c}/out.yaml`))
        }
    })

    it("a BOM with CRLF lines, a lone CR, comments, block scalars and a multi-document file", () => {
        const lf = "# top\na: 1\nb: |\n  line one\n  line two\nc:\n  - x # note\n  - 'y'\n---\nd: two\n"
        const expected = roundTrip(bytes(lf))
        expect(roundTrip(raw(BOM, lf.replace(/\n/g, "\r\n")))).toBe(expected)
        expect(roundTrip(raw(lf.replace(/\n/g, "\r")))).toBe(expected)
        // the block scalar's lines come out with LF only: no CR is kept inside values
        const b = yaml.loadPlain(raw(BOM, lf.replace(/\n/g, "\r\n")))[0].get("b")
        expect(b).toBe("line one\nline two\n")
    })
})

describe("YAML: invalid UTF-8 and control characters (go-yaml v3's reader)", () => {
    const yaml = new YamlStore()
    const cases: [string, Uint8Array, string, { line: number; column: number }][] = [
        // Latin-1 "café" at the end of the file: 0xE9 starts a 3-byte sequence the file ends inside of
        ["latin-1 at the end", raw("a: 1\nb: caf\xe9\n"), "yaml: incomplete UTF-8 octet sequence", { line: 2, column: 7 }],
        // Latin-1 inside a line: the byte after 0xE9 is not a continuation byte
        ["latin-1 inside", raw("a: caf\xe9 au lait\n"), "yaml: invalid trailing UTF-8 octet", { line: 1, column: 8 }],
        // a lone continuation byte (Latin-1 '©')
        ["continuation byte", raw("a: \xa9 2024\n"), "yaml: invalid leading UTF-8 octet", { line: 1, column: 4 }],
        ["0xFF", raw("k: v\n\xff\n"), "yaml: invalid leading UTF-8 octet", { line: 2, column: 1 }],
        ["overlong", raw("a: \xc0\xafSECRET\n"), "yaml: invalid length of a UTF-8 sequence", { line: 1, column: 4 }],
        ["surrogate", raw("a: \xed\xa0\x80SECRET\n"), "yaml: invalid Unicode character", { line: 1, column: 4 }],
        ["in a comment, after CRLF lines", raw("a: 1\r\n# \xe9t\xe9\r\n"), "yaml: invalid trailing UTF-8 octet", { line: 2, column: 4 }],
        ["NUL", raw("a: S\x00SECRET\n"), "yaml: control characters are not allowed", { line: 1, column: 5 }],
        ["DEL", raw("a: S\x7fSECRET\n"), "yaml: control characters are not allowed", { line: 1, column: 5 }],
        ["C1 control", raw("a: S", [0xc2, 0x80], "SECRET\n"), "yaml: control characters are not allowed", { line: 1, column: 5 }],
        ["U+FFFF", raw("a: ", [0xef, 0xbf, 0xbf], "SECRET\n"), "yaml: control characters are not allowed", { line: 1, column: 4 }],
    ]
    for (const [name, input, detail, position] of cases) {
        it(`${name}: "${detail}" where the byte is, for plain and encrypted loads`, () => {
            for (const load of [() => yaml.loadPlain(input), () => yaml.loadEncrypted(input)]) {
                const e = formatErrorOf(load)
                expect(e.detail).toBe(detail)
                expect(e.position).toEqual(position)
                // one line, and nothing of the value in it
                expect(e.message).not.toContain("\n")
                expect(e.message).not.toMatch(/SECRET|caf|lait|2024|\ufffd/)
            }
        })
    }

    it("accepts what go-yaml accepts: U+0085, tabs, CR, non-BMP characters, a BOM", () => {
        const ok = raw(BOM, "a: \"x", [0xc2, 0x85], "y\"\r\nb: \"\t\"\rc: ", [0xf0, 0x9f, 0x94, 0x91], "\n")
        const tree = yaml.loadPlain(ok)[0]
        expect(tree.get("a")).toBe("x\u0085y")
        expect(tree.get("b")).toBe("\t")
        expect(tree.get("c")).toBe("\u{1f511}")
    })
})

describe("JSON: BOM and CRLF (Go's encoding/json)", () => {
    const json = new JsonStore()

    it("refuses a UTF-8 BOM as Go does: invalid character 'ï'", () => {
        const e = formatErrorOf(() => json.loadPlain(raw(BOM, '{"a": 1}\n')))
        expect(e.detail).toBe("invalid character 'ï' looking for beginning of value")
        expect(e.message).not.toContain("\ufeff")
    })

    it("names other bad first characters like Go's quoteChar", () => {
        const detail = (s: Uint8Array) => formatErrorOf(() => json.loadPlain(s)).detail
        expect(detail(raw("\x01{}"))).toBe("invalid character '\\x01' looking for beginning of value")
        expect(detail(raw("\x0b{}"))).toBe("invalid character '\\v' looking for beginning of value")
        expect(detail(raw("\x7f{}"))).toBe("invalid character '\\x7f' looking for beginning of value")
        expect(detail(raw([0xc2, 0xa0], "{}"))).toBe("invalid character 'Â' looking for beginning of value")
        expect(detail(raw([0xe2, 0x80, 0x8b], "{}"))).toBe("invalid character 'â' looking for beginning of value")
        expect(detail(raw("x{}"))).toBe("invalid character 'x' looking for beginning of value")
    })

    it("takes CRLF as white space: the same tree as with LF", () => {
        const lf = '{\n  "a": 1,\n  "b": ["x", {"c": "two words"}]\n}\n'
        const crlf = lf.replace(/\n/g, "\r\n")
        expect(text(json.emitPlain(json.loadPlain(bytes(crlf))))).toBe(text(json.emitPlain(json.loadPlain(bytes(lf)))))
    })
})

describe("INI: BOM and CRLF (go-ini)", () => {
    const ini = new IniStore()

    it("skips a BOM and the CR of CRLF lines: the same tree as the LF file", () => {
        const lf = "; comment\n[section]\nkey = value\nother = two words\n\n[second]\nk = v\n"
        const expected = text(ini.emitPlain(ini.loadPlain(bytes(lf))))
        expect(text(ini.emitPlain(ini.loadPlain(raw(BOM, lf.replace(/\n/g, "\r\n")))))).toBe(expected)
        const tree = ini.loadPlain(raw(BOM, lf.replace(/\n/g, "\r\n")))[0]
        // the BOM is not part of the first line (the comment, kept in the DEFAULT section) and no value ends in CR
        expect(tree.items.map((i) => i.key)).toEqual(["DEFAULT", "section", "second"])
        expect((tree.get("section") as Branch).get("other")).toBe("two words")
    })
})
