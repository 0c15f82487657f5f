import { describe, expect, it } from "vitest"
import { FORMATS } from "../../src/stores/store.js"
import { formatFromPath, storeFor } from "../../src/stores/index.js"
import { bytes, text } from "./helpers.js"
import { branchOf } from "../../src/sops/tree.js"

describe("formatFromPath", () => {
    it("uses sops' case-sensitive suffixes", () => {
        expect(formatFromPath("a/b.yaml")).toBe("yaml")
        expect(formatFromPath("b.yml")).toBe("yaml")
        expect(formatFromPath("b.json")).toBe("json")
        expect(formatFromPath(".env")).toBe("dotenv")
        expect(formatFromPath("prod.env")).toBe("dotenv")
        expect(formatFromPath("x.ini")).toBe("ini")
        expect(formatFromPath("x.YAML")).toBe("binary")
        expect(formatFromPath("x.Json")).toBe("binary")
        expect(formatFromPath("x.txt")).toBe("binary")
        expect(formatFromPath("yaml")).toBe("binary")
        expect(formatFromPath("x.env.bak")).toBe("binary")
    })
})

describe("storeFor", () => {
    it("returns a store of each format and passes the indent options on", () => {
        for (const format of FORMATS) expect(storeFor(format, {}).format).toBe(format)
        const tree = [branchOf([["a", branchOf([["b", "c"]])]])]
        expect(text(storeFor("json", { jsonIndent: 2 }).emitPlain(tree))).toBe('{\n  "a": {\n    "b": "c"\n  }\n}\n')
        const binary = storeFor("binary", { binaryIndent: 1 })
        expect(text(binary.emitEncrypted([branchOf([["data", "x"]])], branchOf([["version", "3.13.2"]])))).toBe(
            '{\n "data": "x",\n "sops": {\n  "version": "3.13.2"\n }\n}\n',
        )
        expect(text(storeFor("yaml", { yamlIndent: 2 }).emitPlain(tree))).toBe("a:\n  b: c\n")
        expect(storeFor("dotenv", {}).loadPlain(bytes("A=1\n"))[0].get("A")).toBe("1")
    })
})
