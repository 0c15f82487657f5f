/**
 * Value encryption: AES-256-GCM with a 32-byte IV, the `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` syntax, the
 * type tags and their plaintext forms (sops §2). Deterministic given the IVs it is handed.
 */
import { createCipheriv, createDecipheriv } from "node:crypto"
import { ErrorKind, KsopsError } from "../errors.js"
import { formatFloat } from "./go-format.js"
import { parseRfc3339 } from "./time.js"
import { Comment, SopsTime, type TreeValue } from "./tree.js"

/** A scalar a leaf can hold. */
export type Scalar = string | bigint | number | boolean | SopsTime | Comment | Uint8Array

/** The type tags sops writes and reads. */
export type TypeTag = "str" | "int" | "float" | "bool" | "time" | "comment" | "bytes"

const ENC_RE = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** True when the string looks like a sops encrypted value. */
export function isEncryptedValue(s: string): boolean {
    return s.startsWith("ENC[AES256_GCM,") && ENC_RE.test(s)
}

/** The parts of an `ENC[…]` string. */
export interface EncryptedValue {
    data: Buffer
    iv: Buffer
    tag: Buffer
    type: string
}

function b64(s: string, what: string, input: string): Buffer {
    if (!B64_RE.test(s)) throw new Error(`Error base64-decoding ${what} of ${input}: illegal base64 data`)
    return Buffer.from(s, "base64")
}

/**
 * Parse an `ENC[…]` string (strict padded base64).
 * @throws Error `Input string … does not match sops' data format`
 */
export function parseEncryptedValue(s: string): EncryptedValue {
    const m = ENC_RE.exec(s)
    if (!m) throw new Error(`Input string ${s} does not match sops' data format`)
    return { data: b64(m[1], "data", s), iv: b64(m[2], "iv", s), tag: b64(m[3], "tag", s), type: m[4] }
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"])
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"])
const INT_RE = /^[+-]?\d+$/
const FLOAT_RE = /^[+-]?(?:\d+(?:_\d+)*\.?(?:\d+(?:_\d+)*)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?$/
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** Go `strconv.ParseFloat(s, 64)` for the forms sops can meet. */
function parseGoFloat(s: string): number {
    const lower = s.toLowerCase()
    const unsigned = lower.replace(/^[+-]/, "")
    const negative = lower.startsWith("-")
    if (unsigned === "inf" || unsigned === "infinity") return negative ? -Infinity : Infinity
    if (unsigned === "nan") return Number.NaN
    if (FLOAT_RE.test(s) && !s.includes("_")) return Number(s)
    throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`)
}

/** The canonical plaintext bytes of a scalar and its type tag (sops §2.3). */
export function scalarPlaintext(v: Scalar): { bytes: Uint8Array; type: TypeTag } {
    if (typeof v === "string") return { bytes: Buffer.from(v, "utf8"), type: "str" }
    if (typeof v === "bigint") return { bytes: Buffer.from(v.toString(), "latin1"), type: "int" }
    if (typeof v === "number") return { bytes: Buffer.from(formatFloat(v, "f"), "latin1"), type: "float" }
    if (typeof v === "boolean") return { bytes: Buffer.from(v ? "True" : "False", "latin1"), type: "bool" }
    if (v instanceof SopsTime) return { bytes: Buffer.from(v.text, "latin1"), type: "time" }
    if (v instanceof Comment) return { bytes: Buffer.from(v.value, "utf8"), type: "comment" }
    return { bytes: v, type: "str" }
}

/** The bytes the MAC hashes for a (non-comment) scalar. */
export function macBytes(v: Scalar): Uint8Array {
    return scalarPlaintext(v).bytes
}

/** Turn decrypted bytes back into a typed scalar. */
function typed(bytes: Buffer, type: string, raw: boolean): Scalar {
    const text = (): string => bytes.toString("utf8")
    switch (type) {
        case "str":
            return raw ? new Uint8Array(bytes) : text()
        case "int": {
            const s = text()
            if (!INT_RE.test(s)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`)
            const n = BigInt(s)
            if (n < INT64_MIN || n > INT64_MAX) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`)
            return n
        }
        case "float":
            return parseGoFloat(text())
        case "bool": {
            const s = text()
            if (TRUE.has(s)) return true
            if (FALSE.has(s)) return false
            throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`)
        }
        case "time":
            return parseRfc3339(text())
        case "comment":
            return new Comment(text())
        case "bytes":
            return new Uint8Array(bytes)
        default:
            throw new Error(`Unknown datatype: ${type}`)
    }
}

/** Remembers the IV of every value decrypted, so unchanged values re-encrypt to the same `ENC[…]` (small diffs). */
export class IvStash {
    private readonly ivs = new Map<string, Buffer>()

    private static key(aad: string, type: TypeTag, bytes: Uint8Array): string {
        return `${aad}\u0000${type}\u0000${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1")}`
    }

    /** Record the IV a value was encrypted with. */
    remember(aad: string, type: TypeTag, bytes: Uint8Array, iv: Buffer): void {
        this.ivs.set(IvStash.key(aad, type, bytes), iv)
    }

    /** The IV to reuse for this exact value at this path, if any. */
    lookup(aad: string, type: TypeTag, bytes: Uint8Array): Buffer | undefined {
        return this.ivs.get(IvStash.key(aad, type, bytes))
    }

    /** Forget everything. */
    clear(): void {
        this.ivs.clear()
    }
}

/** A source of fresh 32-byte IVs. */
export type IvSource = () => Buffer

/**
 * Encrypt one scalar.
 * @param v - the value (an empty string or comment stays empty)
 * @param key - the 32-byte data key
 * @param aad - the path string (`a:b:`) or, for the MAC, `lastmodified`
 * @param nextIv - fresh IVs
 * @param stash - IVs of values decrypted earlier in this process
 */
export function encryptScalar(v: Scalar, key: Uint8Array, aad: string, nextIv: IvSource, stash?: IvStash): string {
    const { bytes, type } = scalarPlaintext(v)
    if (bytes.length === 0 && (typeof v === "string" || v instanceof Comment)) return ""
    const iv = stash?.lookup(aad, type, bytes) ?? nextIv()
    const cipher = createCipheriv("aes-256-gcm", key, iv)
    cipher.setAAD(Buffer.from(aad, "utf8"))
    const data = Buffer.concat([cipher.update(bytes), cipher.final()])
    const tag = cipher.getAuthTag()
    return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${tag.toString("base64")},type:${type}]`
}

/**
 * Decrypt one `ENC[…]` string.
 * @param raw - keep `str` values as bytes (binary store)
 * @throws Error with sops' wording (`Could not decrypt with AES_GCM: …`, `Input string … does not match …`)
 */
export function decryptScalar(s: string, key: Uint8Array, aad: string, stash?: IvStash, raw = false): Scalar {
    if (s === "") return ""
    const enc = parseEncryptedValue(s)
    let plain: Buffer
    try {
        const decipher = createDecipheriv("aes-256-gcm", key, enc.iv)
        decipher.setAAD(Buffer.from(aad, "utf8"))
        decipher.setAuthTag(enc.tag)
        plain = Buffer.concat([decipher.update(enc.data), decipher.final()])
    } catch {
        throw new Error("Could not decrypt with AES_GCM: cipher: message authentication failed")
    }
    const value = typed(plain, enc.type, raw)
    if (stash && enc.type !== "bytes") stash.remember(aad, enc.type as TypeTag, plain, enc.iv)
    return value
}

/** Wraps walk failures in the error kind sops exits 25/23 with. */
export function treeError(decrypting: boolean, cause: unknown): KsopsError {
    const msg = cause instanceof Error ? cause.message : String(cause)
    return decrypting
        ? new KsopsError(ErrorKind.DecryptingTree, `Error decrypting tree: Error walking tree: Could not decrypt value: ${msg}`, {
              cause,
              hint: "the encrypted value was changed or belongs to another file",
          })
        : new KsopsError(ErrorKind.EncryptingTree, `Error encrypting tree: ${msg}`, { cause })
}

/** True for values the walk treats as leaves. */
export function isScalar(v: TreeValue): v is Scalar {
    return v !== null && typeof v !== "object" ? true : v instanceof SopsTime || v instanceof Comment || v instanceof Uint8Array
}
