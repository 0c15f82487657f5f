import { describe, expect, it } from "vitest"
import { getPath, parseTreePath, setPath, unsetPath } from "../../src/sops/tree-path.js"
import { type Branch, branchOf, Comment } from "../../src/sops/tree.js"

describe("tree paths", () => {
    it("parses sops' bracket syntax", () => {
        expect(parseTreePath(`["data"]["password"]`)).toEqual(["data", "password"])
        expect(parseTreePath(`['a'][0]["b c"]`)).toEqual(["a", 0, "b c"])
    })

    it.each([``, `data`, `["data"`, `[x]`, `["a"]x`])("rejects %j with exit kind invalid-tree-path-format", (s) => {
        expect(() => parseTreePath(s)).toThrow(expect.objectContaining({ kind: "invalid-tree-path-format" }))
    })

    it("gets, sets and unsets, skipping comments in lists", () => {
        const doc = branchOf([
            ["data", branchOf([["user", "YWRtaW4="]])],
            ["list", [new Comment(" c"), "a", "b"]],
        ])
        const branches = [doc]
        expect(getPath(branches, ["data", "user"])).toBe("YWRtaW4=")
        expect(getPath(branches, ["list", 1])).toBe("b")
        expect(() => getPath(branches, ["data", "nope"])).toThrow(`component ["data"]["nope"] not found`)
        setPath(branches, ["data", "password"], "cGFzcw==")
        setPath(branches, ["new", "deep", 0], "x")
        setPath(branches, ["list", 0], "A")
        expect(getPath(branches, ["data", "password"])).toBe("cGFzcw==")
        expect(getPath(branches, ["new", "deep"])).toEqual(["x"])
        expect(getPath(branches, ["list"])).toEqual([new Comment(" c"), "A", "b"])
        expect(unsetPath(branches, ["data", "user"])).toBe(true)
        expect(unsetPath(branches, ["data", "user"])).toBe(false)
        expect((getPath(branches, ["data"]) as Branch).items.map((i) => i.key)).toEqual(["password"])
    })
})
