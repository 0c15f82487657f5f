import { createCipheriv, randomBytes } from "node:crypto"
import fc from "fast-check"
import { RE2JS } from "re2js"
import { describe, expect, it } from "vitest"
import {
    decodeStdBase64,
    decryptScalar,
    decryptScalars,
    encryptScalar,
    encryptScalars,
    IvStash,
    isEncryptedValue,
    parseEncryptedValue,
    scanEncrypted,
    type Scalar,
} from "../../src/sops/cipher.js"
import { Comment, SopsTime } from "../../src/sops/tree.js"

const KEY = Buffer.from("f".repeat(32))
const iv = () => randomBytes(32)

/** sops' own regex, run by an RE2 engine (the oracle for the scanner). */
const SOPS_RE = RE2JS.compile("^ENC\\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\\]")

/** The sops error messages a bad `ENC[…]` value may give: none of them quotes the value. */
const VALUE_ERROR =
    /^(Input string does not match sops' data format|Error base64-decoding (data|iv|tag): illegal base64 data|Could not decrypt with AES_GCM: cipher: message authentication failed|Unknown datatype: .*|the decrypted value is not .* as its tag type:\w+ says .*)$/s

/** An ENC string sealed with node:crypto directly (the reference the cipher must agree with). */
function seal(pt: string, aad: string, type: string, ivBytes = randomBytes(32), key = KEY): string {
    const c = createCipheriv("aes-256-gcm", key, ivBytes)
    c.setAAD(Buffer.from(aad))
    const data = Buffer.concat([c.update(pt), c.final()])
    return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${ivBytes.toString("base64")},tag:${c.getAuthTag().toString("base64")},type:${type}]`
}

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

    it("rejects junk with sops' message (never the input) and never crashes on random input", () => {
        expect(() => decryptScalar("ENC[nope]", KEY, "k:")).toThrow("does not match sops' data format")
        fc.assert(
            fc.property(fc.string(), (s) => {
                let error: unknown
                try {
                    decryptScalar(`ENC[AES256_GCM,${s}`, KEY, "k:")
                } catch (e) {
                    error = e
                }
                // random text never authenticates: every input fails with one of the known messages
                expect(error).toBeInstanceOf(Error)
                expect((error as Error).message).toMatch(VALUE_ERROR)
            }),
        )
    })

    it("rejects unknown types", () => {
        const enc = encryptScalar("7", KEY, "k:", iv).replace("type:str", "type:weird")
        expect(() => decryptScalar(enc, KEY, "k:")).toThrow("Unknown datatype: weird")
    })

    it("agrees with node:crypto's AES-256-GCM on random keys, AADs, plaintexts and IV lengths, one by one and in batches", () => {
        fc.assert(
            fc.property(
                fc.uint8Array({ minLength: 32, maxLength: 32 }),
                fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.string(), fc.uint8Array({ minLength: 1, maxLength: 40 })), { maxLength: 8 }),
                (keyBytes, msgs) => {
                    const key = Buffer.from(keyBytes)
                    const refs = msgs.map(([pt, aad, ivb]) => seal(pt, aad, "str", Buffer.from(ivb), key))
                    const aads = msgs.map((m) => m[1])
                    expect(decryptScalars(refs, aads, key)).toEqual(msgs.map((m) => m[0]))
                    // the batch encrypter with the same IVs gives the reference strings
                    let n = 0
                    const ivs = msgs.map((m) => Buffer.from(m[2]))
                    expect(encryptScalars(msgs.map((m) => m[0]), aads, key, () => ivs[n++])).toEqual(refs)
                    for (const [j, ref] of refs.entries()) expect(decryptScalar(ref, key, aads[j])).toBe(msgs[j][0])
                },
            ),
            { numRuns: 150 },
        )
    })

    it("flags a bad value in place in a batch and decrypts the others", () => {
        const encs = ["a", "b", "c"].map((v, i) => encryptScalar(v, KEY, `k${i}:`, iv))
        const tampered = encs[1].replace(/tag:(.)/, (_, c: string) => `tag:${c === "A" ? "B" : "A"}`)
        const out = decryptScalars([encs[0], tampered, encs[2]], ["k0:", "k1:", "k2:"], KEY)
        expect(out[0]).toBe("a")
        expect((out[1] as Error).message).toBe("Could not decrypt with AES_GCM: cipher: message authentication failed")
        expect(out[2]).toBe("c")
    })
})

describe("type tags (finding 1: the tag is not authenticated)", () => {
    it.each(["int", "bool", "float", "time"])("a str value re-tagged %s fails naming the type, never the plaintext", (type) => {
        const enc = encryptScalar("hunter2", KEY, "data:password:", iv).replace("type:str]", `type:${type}]`)
        let error: Error | undefined
        try {
            decryptScalar(enc, KEY, "data:password:")
        } catch (e) {
            error = e as Error
        }
        expect(error?.message).toContain(`type:${type}`)
        expect(error?.message).not.toContain("hunter2")
        const [batch] = decryptScalars([enc], ["data:password:"], KEY)
        expect((batch as Error).message).toBe(error?.message)
    })

    it("int values out of the int64 range fail the same way", () => {
        const enc = seal("9223372036854775808", "k:", "int")
        expect(() => decryptScalar(enc, KEY, "k:")).toThrow(/^the decrypted value is not an integer .* type:int/)
    })
})

describe("ENC[…] scanner (finding 5: linear time, sops' exact split)", () => {
    const token = fc.constantFrom(",iv:", ",tag:", ",type:", "]", "[", ",", ":", "\n", "\r", "x", "A=", "é", "😀", "iv", "tag")
    const tail = fc.array(token, { maxLength: 24 }).map((t) => t.join(""))
    const piece = fc.array(token, { maxLength: 4 }).map((t) => t.join(""))
    const input = fc.oneof(
        fc.tuple(piece, piece, piece, piece, tail).map(([d, v, t, y, rest]) => `ENC[AES256_GCM,data:${d},iv:${v},tag:${t},type:${y}]${rest}`),
        tail.map((t) => `ENC[AES256_GCM,data:${t}`),
        tail,
        fc.string().map((t) => `ENC[AES256_GCM,data:${t}`),
    )

    it("splits every input as sops' regex does under RE2 (leftmost-first, greedy)", () => {
        fc.assert(
            fc.property(input, (s) => {
                const m = SOPS_RE.matcher(s)
                const want = m.find() ? { data: m.group(1), iv: m.group(2), tag: m.group(3), type: m.group(4) } : undefined
                expect(scanEncrypted(s)).toEqual(want)
                expect(isEncryptedValue(s)).toBe(want !== undefined)
            }),
            { numRuns: 3000 },
        )
    })

    it("takes sops' split on ambiguous inputs", () => {
        expect(scanEncrypted("ENC[AES256_GCM,data:a,iv:b,tag:c,type:d],iv:e,tag:f,type:g]x")).toEqual({
            data: "a,iv:b,tag:c,type:d]",
            iv: "e",
            tag: "f",
            type: "g",
        })
        expect(scanEncrypted("ENC[AES256_GCM,data:a,iv:b,tag:c,type:d]\n,iv:e,tag:f,type:g]")).toEqual({ data: "a", iv: "b", tag: "c", type: "d" })
        // RE2's '.' takes everything but '\n' (JavaScript's also refuses '\r', U+2028 and U+2029)
        expect(scanEncrypted("ENC[AES256_GCM,data:a\rb,iv:c\u2028,tag:d,type:e]")).toEqual({ data: "a\rb", iv: "c\u2028", tag: "d", type: "e" })
        expect(scanEncrypted("ENC[AES256_GCM,data:,iv:b,tag:c,type:d]")).toBeUndefined()
        expect(scanEncrypted("ENC[AES256_GCM,data:a,iv:b,tag:c,type:]")).toBeUndefined()
    })

    it("finishes on a crafted 40 KB value that made the backtracking regex run for hours", { timeout: 10_000 }, () => {
        // 5.6 KB took 4.8 s with the old regex (about k⁴); 40 KB would take about 12 days
        const s = `ENC[AES256_GCM,data:${",iv:,tag:,type:".repeat(2700)}`
        expect(s.length).toBeGreaterThan(40_000)
        expect(scanEncrypted(s)).toBeUndefined()
        expect(() => decryptScalar(s, KEY, "k:")).toThrow("Input string does not match sops' data format")
        expect(decryptScalars([s, `${s}]`], ["k:", "k:"], KEY).map((e) => (e as Error).message)).toEqual([
            "Input string does not match sops' data format",
            "Error base64-decoding data: illegal base64 data",
        ])
    })
})

describe("base64 (finding 8: exactly Go's StdEncoding)", () => {
    /** Go's base64.StdEncoding.DecodeString acceptance: CR/LF skipped, padded standard alphabet. */
    const goAccepts = (s: string) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s.replace(/[\r\n]/g, ""))

    it("accepts and rejects what Go does", () => {
        fc.assert(
            fc.property(fc.array(fc.constantFrom("A", "b", "9", "+", "/", "=", "-", "_", "\n", "\r", " ", "é"), { maxLength: 14 }), (chars) => {
                const s = chars.join("")
                const got = decodeStdBase64(s)
                expect(got !== undefined).toBe(goAccepts(s))
                if (got) expect(got.equals(Buffer.from(s.replace(/[\r\n]/g, ""), "base64"))).toBe(true)
            }),
            { numRuns: 3000 },
        )
        // padding bits need not be zero (Go's StdEncoding is not Strict)
        expect(decodeStdBase64("AB==")).toEqual(Buffer.from([0]))
    })

    it("rejects base64url in every field, one by one and in batches", () => {
        const ivb = Buffer.alloc(32, 0xfb) // base64 "+/…" characters
        const good = seal("\xfb\xff\xfe", "k:", "str", ivb)
        expect(good).toMatch(/iv:[^,]*[+/]/)
        expect(decryptScalar(good, KEY, "k:")).toBe("\xfb\xff\xfe")
        const url = good.replace(/iv:([^,]*)/, (_, v: string) => `iv:${v.replace(/\+/g, "-").replace(/\//g, "_")}`)
        expect(() => decryptScalar(url, KEY, "k:")).toThrow("Error base64-decoding iv: illegal base64 data")
        expect((decryptScalars([url], ["k:"], KEY)[0] as Error).message).toBe("Error base64-decoding iv: illegal base64 data")
        const unpadded = good.replace(/tag:([^,]*)==/, "tag:$1")
        expect((decryptScalars([unpadded], ["k:"], KEY)[0] as Error).message).toBe("Error base64-decoding tag: illegal base64 data")
    })

    it("skips line breaks inside a field as Go does", () => {
        const enc = encryptScalar("hello", KEY, "k:", iv)
        const broken = enc.replace(/iv:(....)/, "iv:$1\r")
        expect(decryptScalars([broken], ["k:"], KEY)).toEqual(["hello"])
    })
})

describe("IV stash (finding 7: never one IV for two different values)", () => {
    it("keeps values apart whose AAD, type and plaintext run together with NULs", () => {
        // old key `${aad}\0${type}\0${bytes}`: ("a:\0str\0X:", str, "v") and ("a:", str, "X:\0str\0v") collided
        const stash = new IvStash()
        const enc = encryptScalar("v", KEY, "a:\u0000str\u0000X:", iv)
        decryptScalar(enc, KEY, "a:\u0000str\u0000X:", stash)
        const other = encryptScalar("X:\u0000str\u0000v", KEY, "a:", iv, stash)
        expect(parseEncryptedValue(other).iv.equals(parseEncryptedValue(enc).iv)).toBe(false)
    })

    it("never gives two different (AAD, plaintext) pairs the same IV under one key", () => {
        const piece = fc.array(fc.constantFrom("a", ":", "\u0000", "str", "\u0000str\u0000", "int", "X", "7"), { maxLength: 5 }).map((p) => p.join(""))
        const value: fc.Arbitrary<Scalar> = fc.oneof(piece, fc.constantFrom(7n, 1.5, true))
        fc.assert(
            fc.property(fc.array(fc.tuple(piece, value), { maxLength: 8 }), fc.array(fc.tuple(piece, value), { maxLength: 8 }), (before, after) => {
                let counter = 0
                const fresh = () => {
                    const b = Buffer.alloc(32)
                    b.writeUInt32BE(++counter)
                    return b
                }
                const stash = new IvStash()
                const seen = new Map<string, string>()
                const note = (enc: string, aad: string) => {
                    if (enc === "") return
                    const p = parseEncryptedValue(enc)
                    const plain = decryptScalar(enc, KEY, aad)
                    const who = JSON.stringify([aad, p.type, String(plain)])
                    const ivKey = p.iv.toString("hex")
                    expect(seen.get(ivKey) ?? who).toBe(who)
                    seen.set(ivKey, who)
                }
                const file = encryptScalars(
                    before.map((b) => b[1]),
                    before.map((b) => b[0]),
                    KEY,
                    fresh,
                )
                for (const [j, enc] of file.entries()) {
                    note(enc, before[j][0])
                    decryptScalar(enc, KEY, before[j][0], stash)
                }
                const later = [...after]
                // values whose (AAD, plaintext) would run together with an earlier one's in a NUL-joined key
                for (const [aad, v] of before) {
                    if (typeof v !== "string") continue
                    const joined = `${aad}\u0000str\u0000${v}`
                    for (let p = joined.indexOf("\u0000str\u0000"); p >= 0; p = joined.indexOf("\u0000str\u0000", p + 1)) {
                        later.push([joined.slice(0, p), joined.slice(p + 5)])
                    }
                }
                const edited = encryptScalars(
                    later.map((a) => a[1]),
                    later.map((a) => a[0]),
                    KEY,
                    fresh,
                    stash,
                )
                for (const [j, enc] of edited.entries()) note(enc, later[j][0])
            }),
            { numRuns: 1000 },
        )
    })
})
