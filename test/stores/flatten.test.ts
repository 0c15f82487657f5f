import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { FormatError, KsopsError } from "../../src/errors.js"
import { Branch, branchOf, Comment, type TreeValue } from "../../src/sops/tree.js"
import { flattenMetadata, unflattenMetadata } from "../../src/stores/flatten.js"
import { compareBytewise } from "../../src/stores/text.js"

describe("flattenMetadata", () => {
    it("flattens depth-first over byte-sorted keys; empty lists and maps produce nothing", () => {
        const metadata = branchOf([
            ["version", "3.13.2"],
            ["kms", [branchOf([["context", branchOf([["b", "2"], ["a", "1"]])], ["arn", "arn:x"]])]],
            ["key_groups", [branchOf([["pgp", []], ["age", [branchOf([["recipient", "age1"]])]]]), new Branch()]],
            ["age", []],
            ["lastmodified", "t"],
            ["list", [new Comment("skip"), "x", "y"]],
        ])
        expect(flattenMetadata(metadata, "sops_").map((i) => [i.key, i.value])).toEqual([
            ["sops_key_groups__list_0__map_age__list_0__map_recipient", "age1"],
            ["sops_kms__list_0__map_arn", "arn:x"],
            ["sops_kms__list_0__map_context__map_a", "1"],
            ["sops_kms__list_0__map_context__map_b", "2"],
            ["sops_lastmodified", "t"],
            ["sops_list__list_0", "x"],
            ["sops_list__list_1", "y"],
            ["sops_version", "3.13.2"],
        ])
    })

    it("reports key collisions", () => {
        const metadata = branchOf([
            ["a__map_b", "1"],
            ["a", branchOf([["b", "2"]])],
        ])
        expect(() => flattenMetadata(metadata)).toThrow(KsopsError)
        expect(() => flattenMetadata(metadata)).toThrow(/key collision "a__map_b"/)
    })
})

describe("unflattenMetadata", () => {
    it("rebuilds maps (sorted) and lists", () => {
        const b = unflattenMetadata([
            { key: "pgp__list_1__map_fp", value: "B" },
            { key: "version", value: "3" },
            { key: "pgp__list_0__map_fp", value: "A" },
            { key: "pgp__list_0__map_enc", value: "x" },
        ])
        expect(b).toEqual(
            branchOf([
                ["pgp", [branchOf([["enc", "x"], ["fp", "A"]]), branchOf([["fp", "B"]])]],
                ["version", "3"],
            ]),
        )
        expect(unflattenMetadata([])).toEqual(new Branch())
    })

    it("requires contiguous list indexes and consistent types, naming the line", () => {
        const err = (entries: { key: string; value: TreeValue; line?: number }[]) => {
            try {
                unflattenMetadata(entries)
            } catch (e) {
                expect(e).toBeInstanceOf(FormatError)
                return e as FormatError
            }
            throw new Error("expected an error")
        }
        expect(err([{ key: "l__list_1", value: "x", line: 4 }])).toMatchObject({ position: { line: 4 } })
        expect(err([{ key: "l__list_1", value: "x" }]).detail).toMatch(/Incomplete list/)
        expect(err([{ key: "l__list_0", value: "x" }, { key: "l__list_2", value: "x" }]).detail).toMatch(/Incomplete list/)
        expect(err([{ key: "l__list_-1", value: "x" }]).detail).toMatch(/Incomplete list/)
        expect(err([{ key: "a", value: "1" }, { key: "a__map_b", value: "2" }]).detail).toMatch(/Type mismatch/)
        expect(err([{ key: "a__list_0", value: "1" }, { key: "a__map_b", value: "2" }]).detail).toMatch(/Type mismatch/)
        expect(err([{ key: "a", value: "1" }, { key: "a", value: "2", line: 9 }])).toMatchObject({
            detail: 'Error while unflattening "a": Duplicate value',
            position: { line: 9 },
        })
    })

    it("treats a malformed list index as 0, like sops", () => {
        expect(unflattenMetadata([{ key: "l__list_x", value: "v" }])).toEqual(branchOf([["l", ["v"]]]))
    })
})

/** Sort every map by key (byte order), as unflatten returns them. */
function sortDeep(v: TreeValue): TreeValue {
    if (v instanceof Branch) {
        const items = v.items.map((i) => ({ key: i.key, value: sortDeep(i.value) }))
        items.sort((a, b) => compareBytewise(a.key as string, b.key as string))
        return new Branch(items)
    }
    if (Array.isArray(v)) return v.map(sortDeep)
    return v
}

const metaKey = fc.stringMatching(/^[a-z0-9]{1,6}(_[a-z0-9]{1,6}){0,2}$/)
const leaf = fc.oneof(fc.string({ unit: "grapheme" }), fc.bigInt({ min: 0n, max: 10n }), fc.boolean())
const { map } = fc.letrec<{ map: Branch; value: TreeValue }>((tie) => ({
    map: fc
        .uniqueArray(fc.tuple(metaKey, tie("value")), { selector: ([k]) => k, minLength: 1, maxLength: 4 })
        .map((entries) => branchOf(entries)),
    value: fc.oneof({ depthSize: "small" }, leaf, tie("map"), fc.array(tie("value"), { minLength: 1, maxLength: 3 })),
}))

describe("flatten properties", () => {
    it("unflatten(flatten(m)) is m with sorted maps, and flat keys are unique", () => {
        fc.assert(
            fc.property(map, (m) => {
                const flat = flattenMetadata(m)
                expect(unflattenMetadata(flat)).toEqual(sortDeep(m))
                const keys = flat.map((i) => i.key as string)
                expect(new Set(keys).size).toBe(keys.length)
            }),
            { numRuns: 300 },
        )
    })
})
