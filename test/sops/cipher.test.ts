import { randomBytes } from "node:crypto"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decryptScalar, encryptScalar, IvStash, parseEncryptedValue } from "../../src/sops/cipher.js"
import { Comment, SopsTime } from "../../src/sops/tree.js"

const KEY = Buffer.from("f".repeat(32))
const iv = () => randomBytes(32)

describe("value cipher", () => {
    it("decrypts sops' own test vector, and only with the right AAD", () => {
        const enc = "ENC[AES256_GCM,data:oYyi,iv:MyIDYbT718JRr11QtBkcj3Dwm4k1aCGZBVeZf0EyV8o=,tag:t5z2Z023Up0kxwCgw1gNxg==,type:str]"
        expect(decryptScalar(enc, KEY, "bar:")).toBe("foo")
        expect(() => decryptScalar(enc, KEY, "")).toThrow("Could not decrypt with AES_GCM: cipher: message authentication failed")
    })

    it("writes a 32-byte IV, padded base64 and the type tag", () => {
        const enc = encryptScalar("hello", KEY, "a:", iv)
        expect(enc).toMatch(/^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]+,iv:[A-Za-z0-9+/]{43}=,tag:[A-Za-z0-9+/]{22}==,type:str\]$/)
        expect(parseEncryptedValue(enc).iv.length).toBe(32)
    })

    it.each([
        ["str", "x"],
        ["int", 42n],
        ["int", -(2n ** 63n)],
        ["float", 1.5],
        ["bool", true],
        ["time", new SopsTime("2024-01-01T00:00:00Z")],
    ] as const)("round-trips %s", (type, value) => {
        const enc = encryptScalar(value, KEY, "k:", iv)
        expect(enc).toContain(`type:${type}]`)
        expect(decryptScalar(enc, KEY, "k:")).toEqual(value)
    })

    it("encodes bools Title-case and floats without exponent", () => {
        const dec = (v: string | boolean | number) => parseEncryptedValue(encryptScalar(v, KEY, "k:", iv)).data.length
        expect(dec(true)).toBe(4)
        expect(dec(false)).toBe(5)
        expect(dec(1e21)).toBe(22)
    })

    it("never encrypts empty strings or comments", () => {
        expect(encryptScalar("", KEY, "k:", iv)).toBe("")
        expect(encryptScalar(new Comment(""), KEY, "k:", iv)).toBe("")
        expect(decryptScalar("", KEY, "k:")).toBe("")
    })

    it("reuses the IV of an unchanged value through the stash", () => {
        const stash = new IvStash()
        const enc = encryptScalar("same", KEY, "k:", iv)
        decryptScalar(enc, KEY, "k:", stash)
        expect(encryptScalar("same", KEY, "k:", iv, stash)).toBe(enc)
        expect(encryptScalar("other", KEY, "k:", iv, stash)).not.toContain(parseEncryptedValue(enc).iv.toString("base64"))
    })

    it("rejects junk with sops' message and never crashes on random input", () => {
        expect(() => decryptScalar("ENC[nope]", KEY, "k:")).toThrow("does not match sops' data format")
        fc.assert(
            fc.property(fc.string(), (s) => {
                try {
                    decryptScalar(`ENC[AES256_GCM,${s}`, KEY, "k:")
                } catch (e) {
                    expect(e).toBeInstanceOf(Error)
                }
            }),
        )
    })

    it("rejects unknown types and bad typed plaintexts", () => {
        const enc = encryptScalar("7", KEY, "k:", iv).replace("type:str", "type:weird")
        expect(() => decryptScalar(enc, KEY, "k:")).toThrow("Unknown datatype: weird")
    })
})
