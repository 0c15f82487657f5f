import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { KsopsError } from "../../src/errors.js"
import { Branch, branchOf } from "../../src/sops/tree.js"
import { BinaryStore } from "../../src/stores/binary.js"
import { bytes, text } from "./helpers.js"

const store = new BinaryStore()

describe("binary store", () => {
    it("holds the whole file under data and gives the same bytes back", () => {
        fc.assert(
            fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
                const branches = store.loadPlain(input)
                expect(branches[0].items.map((i) => i.key)).toEqual(["data"])
                expect(Buffer.from(store.emitPlain(branches)).equals(Buffer.from(input))).toBe(true)
            }),
            { numRuns: 300 },
        )
    })

    it("copies the input (the tree does not alias the caller's buffer)", () => {
        const input = bytes("abc")
        const value = store.loadPlain(input)[0].get("data") as Uint8Array
        input[0] = 0x7a
        expect(text(value)).toBe("abc")
    })

    it("writes the encrypted envelope with the JSON writer and its own indent", () => {
        const tree = [branchOf([["data", "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"]])]
        const metadata = branchOf([["version", "3.13.2"]])
        const tab = text(store.emitEncrypted(tree, metadata))
        expect(tab).toBe('{\n\t"data": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",\n\t"sops": {\n\t\t"version": "3.13.2"\n\t}\n}\n')
        expect(text(new BinaryStore({ indent: 4 }).emitEncrypted(tree, metadata))).toBe(tab.replaceAll("\t", "    "))
        const back = store.loadEncrypted(bytes(tab))
        expect(back.branches[0].get("data")).toBe("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]")
        expect(back.metadata.get("version")).toBe("3.13.2")
    })

    it("emits a decrypted string data value as its UTF-8 bytes", () => {
        expect(text(store.emitPlain([branchOf([["data", "héllo\n"]])]))).toBe("héllo\n")
    })

    it("refuses trees without a string data value", () => {
        expect(() => store.emitPlain([branchOf([["other", "x"]])])).toThrow("no binary data found in tree")
        expect(() => store.emitPlain([branchOf([["data", 1n]])])).toThrow("'data' key in tree does not have a string value")
        expect(() => store.emitPlain([branchOf([["data", new Branch()]])])).toThrow(KsopsError)
        expect(() => store.emitPlain([new Branch(), new Branch()])).toThrow("exactly one tree branch")
        expect(() => store.emitValue(1n)).toThrow(/not structured/)
        expect(text(store.emitValue("x"))).toBe("x")
    })
})
