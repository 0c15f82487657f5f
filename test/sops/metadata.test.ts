import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { KsopsError } from "../../src/errors.js"
import { metadataFromTree, metadataToTree } from "../../src/sops/metadata.js"
import { type Branch, branchOf, SopsTime, type TreeValue } from "../../src/sops/tree.js"

const AGE = "age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u"

function base(extra: [string, TreeValue][] = []): Branch {
    return branchOf([
        ["age", [branchOf([["recipient", AGE], ["enc", "-----BEGIN AGE ENCRYPTED FILE-----\n"]])]],
        ["lastmodified", "2026-01-02T03:04:05Z"],
        ["mac", "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"],
        ["version", "3.13.2"],
        ...extra,
    ])
}

const keys = (b: Branch) => b.items.map((i) => i.key)

describe("metadata", () => {
    it("reads a single group, applies weak typing, and writes sorted keys as sops 3.13 does", () => {
        const md = metadataFromTree(base([["unencrypted_suffix", "_unencrypted"], ["shamir_threshold", "0"], ["kms", []]]))
        expect(md.keyGroups).toEqual([[{ type: "age", params: { recipient: AGE }, enc: "-----BEGIN AGE ENCRYPTED FILE-----\n" }]])
        expect(md.selection).toEqual({ unencryptedSuffix: "_unencrypted" })
        const out = metadataToTree(md)
        expect(keys(out)).toEqual(["age", "lastmodified", "mac", "unencrypted_suffix", "version"])
        expect(keys((out.get("age") as Branch[])[0])).toEqual(["enc", "recipient"])
    })

    it("writes several groups as key_groups with age and hc_vault always present", () => {
        const pgp = { type: "pgp", params: { fp: "ABCD" }, enc: "x", createdAt: "2026-01-02T03:04:05Z" }
        const age = { type: "age", params: { recipient: AGE }, enc: "y" }
        const md = { ...metadataFromTree(base()), keyGroups: [[pgp], [age]], shamirThreshold: 2 }
        const out = metadataToTree(md)
        expect(keys(out)).toEqual(["key_groups", "lastmodified", "mac", "shamir_threshold", "version"])
        const groups = out.get("key_groups") as Branch[]
        expect(keys(groups[0])).toEqual(["age", "hc_vault", "pgp"])
        expect(keys((groups[0].get("pgp") as Branch[])[0])).toEqual(["created_at", "enc", "fp"])
        expect(metadataFromTree(out).keyGroups).toEqual([[pgp], [age]])
    })

    it("prefers top-level key lists over key_groups, like sops", () => {
        const md = metadataFromTree(base([["key_groups", [branchOf([["pgp", [branchOf([["fp", "X"], ["enc", "e"], ["created_at", "2026-01-02T03:04:05Z"]])]]])]]]))
        expect(md.keyGroups).toHaveLength(1)
        expect(md.keyGroups[0][0].type).toBe("age")
    })

    it.each([
        [[["encrypted_regex", "a"], ["unencrypted_suffix", "b"]], /Cannot use more than one of/],
        [[["lastmodified", "yesterday"]], /lastmodified/],
        [[["lastmodified", new SopsTime("2026-01-02T03:04:05Z")]], /lastmodified must be a string/],
        [[["version", "banana"]], /not a valid version/],
        [[["shamir_threshold", "two"]], /shamir_threshold must be an integer/],
    ] as [[string, TreeValue][], RegExp][])("rejects bad metadata %#", (fields, message) => {
        const b = base()
        for (const [k, v] of fields) {
            const item = b.items.find((i) => i.key === k)
            if (item) item.value = v
            else b.items.push({ key: k, value: v })
        }
        expect(() => metadataFromTree(b)).toThrow(message)
    })

    it("refuses a file without keys", () => {
        const b = base()
        b.items.shift()
        expect(() => metadataFromTree(b)).toThrow("No keys found in file")
    })

    const scalar = fc.oneof(fc.string(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.double(), fc.boolean(), fc.constant(null))
    const tree: fc.Arbitrary<TreeValue> = fc.letrec<{ v: TreeValue }>((tie) => ({
        v: fc.oneof(
            { depthSize: "small" },
            scalar,
            fc.array(tie("v"), { maxLength: 3 }),
            fc.array(fc.tuple(fc.constantFrom("age", "pgp", "kms", "enc", "fp", "recipient", "lastmodified", "mac", "version", "key_groups", "x"), tie("v")), { maxLength: 5 }).map((e) => branchOf(e)),
        ),
    })).v

    it("never crashes on junk: it returns metadata or throws a KsopsError", () => {
        fc.assert(
            fc.property(
                fc.array(fc.tuple(fc.constantFrom("age", "pgp", "kms", "key_groups", "lastmodified", "mac", "version", "shamir_threshold", "mac_only_encrypted", "encrypted_regex"), tree), { maxLength: 8 }),
                (entries) => {
                    try {
                        const md = metadataFromTree(branchOf(entries))
                        expect(md.keyGroups.length).toBeGreaterThan(0)
                    } catch (e) {
                        expect(e).toBeInstanceOf(KsopsError)
                    }
                },
            ),
            { numRuns: 500 },
        )
    })
})
