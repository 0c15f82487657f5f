import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { FormatError, KsopsError, MetadataNotFoundError } from "../../src/errors.js"
import { Branch, branchOf, Comment, SopsTime } from "../../src/sops/tree.js"
import { DotenvStore } from "../../src/stores/dotenv.js"
import { bytes, text } from "./helpers.js"

const store = new DotenvStore()

describe("dotenv reading", () => {
    it("splits at the first '=', keeps spaces, turns \\n into newlines, treats first-byte # as a comment", () => {
        const b = store.loadPlain(bytes("A=1\n\nkey with space = v=w \n#c1\n  #not a comment=x\nNL=a\\nb\\\\n\nE=\n=novalue\n"))[0]
        expect(b.items).toEqual([
            { key: "A", value: "1" },
            { key: "key with space ", value: " v=w " },
            { key: new Comment("c1"), value: null },
            { key: "  #not a comment", value: "x" },
            { key: "NL", value: "a\nb\\\n" },
            { key: "E", value: "" },
            { key: "", value: "novalue" },
        ])
    })

    it("keeps quotes and a carriage return as part of the value", () => {
        expect(store.loadPlain(bytes("Q=\"x\"\r\n"))[0].get("Q")).toBe('"x"\r')
    })

    it("refuses a line without '=' and names its line", () => {
        try {
            store.loadPlain(bytes("A=1\n# ok\nbroken\n"))
            expect.unreachable()
        } catch (e) {
            expect(e).toBeInstanceOf(FormatError)
            expect((e as FormatError).position).toEqual({ line: 3 })
            expect((e as FormatError).message).toBe("3: invalid dotenv input line (no '=')")
        }
    })
})

describe("dotenv writing", () => {
    it("writes pairs and comments, escapes newlines, prints other scalars like sops", () => {
        const b = branchOf([
            [new Comment(" hello"), null],
            ["S", "a\nb"],
            ["I", 42n],
            ["F", 1.5],
            ["G", 3],
            ["BIG", 1e21],
            ["B", true],
            ["T", new SopsTime("2024-01-01T10:00:00.25Z")],
            ["N", null],
        ])
        expect(text(store.emitPlain([b]))).toBe(
            "# hello\nS=a\\nb\nI=42\nF=1.5\nG=3.0\nBIG=1E+21\nB=true\nT=2024-01-01T10:00:00Z\nN=<nil>\n",
        )
    })

    it("refuses complex values", () => {
        expect(() => store.emitPlain([branchOf([["M", new Branch()]])])).toThrow(
            "cannot use complex value in dotenv file; offending key M",
        )
        expect(() => store.emitPlain([branchOf([["L", ["x"]]])])).toThrow(KsopsError)
    })

    it("appends flattened sops_ metadata and refuses data keys with that prefix", () => {
        const metadata = branchOf([
            ["version", "3.13.2"],
            ["age", [branchOf([["recipient", "age1x"], ["enc", "line1\nline2\n"]])]],
            ["shamir_threshold", 2n],
            ["lastmodified", "2024-01-01T00:00:00Z"],
        ])
        const out = text(store.emitEncrypted([branchOf([["A", "x"]])], metadata))
        expect(out).toBe(
            "A=x\nsops_age__list_0__map_enc=line1\\nline2\\n\nsops_age__list_0__map_recipient=age1x\nsops_lastmodified=2024-01-01T00:00:00Z\nsops_shamir_threshold=2\nsops_version=3.13.2\n",
        )
        const back = store.loadEncrypted(bytes(out))
        expect(back.branches[0].items).toEqual([{ key: "A", value: "x" }])
        const age = back.metadata.get("age") as Branch[]
        expect(age[0].get("enc")).toBe("line1\nline2\n")
        expect(back.metadata.get("shamir_threshold")).toBe("2")
        expect(() => store.emitEncrypted([branchOf([["sops_x", "y"]])], metadata)).toThrow(/reserved key prefix "sops_"/)
    })

    it("reports missing metadata and broken flattened keys with their line", () => {
        expect(() => store.loadEncrypted(bytes("A=1\n"))).toThrow(MetadataNotFoundError)
        try {
            store.loadEncrypted(bytes("A=1\nsops_pgp__list_1__map_fp=X\n"))
            expect.unreachable()
        } catch (e) {
            expect(e).toBeInstanceOf(FormatError)
            expect((e as FormatError).detail).toMatch(/Incomplete list/)
            expect((e as FormatError).position).toEqual({ line: 2 })
        }
        expect(() => store.loadEncrypted(bytes("sops_a=1\nsops_a__map_b=2\n"))).toThrow(/Type mismatch/)
        expect(() => store.loadEncrypted(bytes("sops_a=1\nsops_a=2\n"))).toThrow(/Duplicate value/)
    })

    it("detects the metadata key and emits single values", () => {
        expect(store.hasMetadataKey([branchOf([["sops_mac", "x"]])])).toBe(true)
        expect(store.hasMetadataKey([branchOf([["sops", "x"]])])).toBe(false)
        expect(text(store.emitValue("a\nb"))).toBe("a\nb")
        expect(() => store.emitValue(1n)).toThrow("the dotenv store only supports emitting strings, got int")
    })
})

const key = fc.string({ unit: "grapheme" }).filter((k) => !k.includes("=") && !k.includes("\n") && !k.startsWith("#"))
const value = fc.string({ unit: "grapheme" }).filter((v) => !v.includes("\\n"))
const comment = fc.string({ unit: "grapheme" }).filter((c) => !c.includes("\n"))

describe("dotenv properties", () => {
    it("load(emit(tree)) gives the tree back for flat string maps with comments", () => {
        const item = fc.oneof(
            fc.tuple(key, value).map(([k, v]) => ({ key: k as string | Comment, value: v as string | null })),
            comment.map((c) => ({ key: new Comment(c) as string | Comment, value: null as string | null })),
        )
        fc.assert(
            fc.property(fc.array(item, { maxLength: 8 }), (items) => {
                const b = new Branch(items)
                const out = store.emitPlain([b])
                expect(store.loadPlain(out)[0]).toEqual(b)
            }),
            { numRuns: 300 },
        )
    })
})
