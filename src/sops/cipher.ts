/**
 * Value encryption: AES-256-GCM with a 32-byte IV, the `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` syntax, the
 * type tags and their plaintext forms (sops §2). Deterministic given the IVs it is handed.
 */
import { ErrorKind, KsopsError } from "../errors.js"
import { AesGcm } from "./gcm.js"
import { formatFloat } from "./go-format.js"
import { parseRfc3339 } from "./time.js"
import { Comment, SopsTime, type TreeValue } from "./tree.js"

/** A scalar a leaf can hold. */
export type Scalar = string | bigint | number | boolean | SopsTime | Comment | Uint8Array

/** The type tags sops writes and reads. */
export type TypeTag = "str" | "int" | "float" | "bool" | "time" | "comment" | "bytes"

const ENC_RE = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/
const B64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/

/** Standard base64 with padding, as Go's StdEncoding accepts it. */
function b64ok(s: string): boolean {
    return s.length % 4 === 0 && B64_CHARS.test(s)
}

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
    if (!b64ok(s)) throw new Error(`Error base64-decoding ${what} of ${input}: illegal base64 data`)
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

    /** {@link remember} for a range of a shared buffer. */
    rememberRange(aad: string, type: TypeTag, buf: Buffer, off: number, len: number, ivBuf: Buffer, ivOff: number, ivLen: number): void {
        this.ivs.set(`${aad}\u0000${type}\u0000${buf.toString("latin1", off, off + len)}`, Buffer.from(ivBuf.subarray(ivOff, ivOff + ivLen)))
    }

    /** {@link lookup} for a range of a shared buffer. */
    lookupRange(aad: string, type: TypeTag, buf: Buffer, off: number, len: number): Buffer | undefined {
        if (this.ivs.size === 0) return undefined
        return this.ivs.get(`${aad}\u0000${type}\u0000${buf.toString("latin1", off, off + len)}`)
    }

    /** Forget everything. */
    clear(): void {
        this.ivs.clear()
    }
}

let cached: { key: Buffer; gcm: AesGcm } | undefined

/** The AES-GCM context of a data key (one per key; a file's values all share it). */
function gcmFor(key: Uint8Array): AesGcm {
    if (cached && cached.key.length === key.length && cached.key.equals(key)) return cached.gcm
    const gcm = new AesGcm(key)
    cached?.key.fill(0)
    cached = { key: Buffer.from(key), gcm }
    return gcm
}

/** Forget the cached key schedule (after a run, so no key material lingers). */
export function forgetCipherCache(): void {
    cached?.key.fill(0)
    cached = undefined
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
    const { data, tag } = gcmFor(key).encrypt(iv, bytes, Buffer.from(aad, "utf8"))
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
        plain = gcmFor(key).decrypt(enc.iv, enc.data, enc.tag, Buffer.from(aad, "utf8"))
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

/** How many values one AES call handles (bounds the batch buffers). */
const BATCH = 4096

/** Per-batch ranges in shared buffers. */
class Ranges {
    readonly off: Int32Array
    readonly len: Int32Array
    constructor(n: number) {
        this.off = new Int32Array(n)
        this.len = new Int32Array(n)
    }
}

/** The plaintext of a scalar written into `buf` at `at` (no per-value Buffer); returns its length and type. */
function writePlaintext(v: Scalar, buf: Buffer, at: number): { len: number; type: TypeTag } {
    if (typeof v === "string") return { len: buf.write(v, at, "utf8"), type: "str" }
    if (v instanceof Comment) return { len: buf.write(v.value, at, "utf8"), type: "comment" }
    const { bytes, type } = scalarPlaintext(v)
    buf.set(bytes, at)
    return { len: bytes.length, type }
}

function plaintextSize(v: Scalar): number {
    if (typeof v === "string") return Buffer.byteLength(v, "utf8")
    if (v instanceof Comment) return Buffer.byteLength(v.value, "utf8")
    return scalarPlaintext(v).bytes.length
}

/**
 * Encrypt many scalars with one key in batches (shared buffers, one AES call per batch); the same output as
 * {@link encryptScalar} value by value.
 */
export function encryptScalars(values: readonly Scalar[], aads: readonly string[], key: Uint8Array, nextIv: IvSource, stash?: IvStash): string[] {
    const gcm = gcmFor(key)
    const out: string[] = new Array(values.length)
    for (let start = 0; start < values.length; start += BATCH) {
        const end = Math.min(values.length, start + BATCH)
        const n = end - start
        let ptSize = 0
        let adSize = 0
        for (let i = start; i < end; i++) {
            ptSize += plaintextSize(values[i])
            adSize += Buffer.byteLength(aads[i], "utf8")
        }
        const pt = Buffer.allocUnsafe(ptSize)
        const ad = Buffer.allocUnsafe(adSize)
        const ivs = Buffer.allocUnsafe(32 * n)
        const ctOut = Buffer.allocUnsafe(ptSize)
        const tags = Buffer.allocUnsafe(16 * n)
        const p = new Ranges(n)
        const a = new Ranges(n)
        const ivR = new Ranges(n)
        const types: TypeTag[] = new Array(n)
        const idx: number[] = []
        let pAt = 0
        let aAt = 0
        let k = 0
        for (let i = start; i < end; i++) {
            const v = values[i]
            const { len, type } = writePlaintext(v, pt, pAt)
            if (len === 0 && (typeof v === "string" || v instanceof Comment)) {
                out[i] = ""
                continue
            }
            p.off[k] = pAt
            p.len[k] = len
            pAt += len
            a.off[k] = aAt
            a.len[k] = ad.write(aads[i], aAt, "utf8")
            aAt += a.len[k]
            const reuse = stash?.lookupRange(aads[i], type, pt, p.off[k], len)
            ;(reuse ?? nextIv()).copy(ivs, 32 * k)
            ivR.off[k] = 32 * k
            ivR.len[k] = 32
            types[k] = type
            idx.push(i)
            k++
        }
        gcm.batch(false, k, ivs, ivR.off, ivR.len, pt, p.off, p.len, ad, a.off, a.len, ctOut, tags)
        // One flat string for the batch, sliced per value: values stay flat (cheap to scan, emit and collect)
        // instead of being concatenations of four parts each.
        const parts: string[] = new Array(k)
        for (let j = 0; j < k; j++) {
            const o = p.off[j]
            parts[j] =
                `ENC[AES256_GCM,data:${ctOut.toString("base64", o, o + p.len[j])},iv:${ivs.toString("base64", 32 * j, 32 * j + 32)},tag:${tags.toString("base64", 16 * j, 16 * j + 16)},type:${types[j]}]`
        }
        const joined = parts.join("")
        let at = 0
        for (let j = 0; j < k; j++) {
            const len = parts[j].length
            out[idx[j]] = joined.slice(at, at + len)
            at += len
        }
        pt.fill(0)
    }
    return out
}


/**
 * Decrypt many `ENC[…]` strings with one key in batches. Each result is the scalar or the Error that
 * {@link decryptScalar} would have thrown for it.
 */
export function decryptScalars(
    strings: readonly string[],
    aads: readonly string[],
    key: Uint8Array,
    stash?: IvStash,
    raw = false,
): (Scalar | Error)[] {
    const gcm = gcmFor(key)
    const out: (Scalar | Error)[] = new Array(strings.length)
    for (let start = 0; start < strings.length; start += BATCH) {
        const end = Math.min(strings.length, start + BATCH)
        const n = end - start
        let dataSize = 0
        let ivSize = 0
        let adSize = 0
        const parts: (RegExpExecArray | null)[] = new Array(n)
        for (let i = start; i < end; i++) {
            const s = strings[i]
            if (s === "") {
                out[i] = ""
                continue
            }
            const m = ENC_RE.exec(s)
            if (!m) {
                out[i] = new Error(`Input string ${s} does not match sops' data format`)
                continue
            }
            parts[i - start] = m
            dataSize += (m[1].length / 4) * 3
            ivSize += (m[2].length / 4) * 3
            adSize += Buffer.byteLength(aads[i], "utf8")
        }
        const data = Buffer.allocUnsafe(dataSize)
        const ivs = Buffer.allocUnsafe(ivSize)
        const ad = Buffer.allocUnsafe(adSize)
        const tags = Buffer.alloc(16 * n)
        const plain = Buffer.allocUnsafe(dataSize)
        const d = new Ranges(n)
        const v = new Ranges(n)
        const a = new Ranges(n)
        const idx: number[] = []
        const types: string[] = []
        let dAt = 0
        let vAt = 0
        let aAt = 0
        let k = 0
        for (let i = start; i < end; i++) {
            const m = parts[i - start]
            if (!m) continue
            d.off[k] = dAt
            d.len[k] = data.write(m[1], dAt, "base64")
            dAt += d.len[k]
            v.off[k] = vAt
            v.len[k] = ivs.write(m[2], vAt, "base64")
            vAt += v.len[k]
            a.off[k] = aAt
            a.len[k] = ad.write(aads[i], aAt, "utf8")
            aAt += a.len[k]
            const tagLen = tags.write(m[3], 16 * k, 16, "base64")
            if (tagLen !== 16 || Buffer.byteLength(m[3], "base64") !== 16) tags.fill(0, 16 * k, 16 * k + 16)
            types.push(m[4])
            idx.push(i)
            k++
        }
        const ok = gcm.batch(true, k, ivs, v.off, v.len, data, d.off, d.len, ad, a.off, a.len, plain, tags)
        for (let j = 0; j < k; j++) {
            const i = idx[j]
            if (!ok[j]) {
                // base64 is checked only here: a value whose tag verifies decoded to what was encrypted
                const m = parts[i - start]!
                const bad = !b64ok(m[1]) ? "data" : !b64ok(m[2]) ? "iv" : !b64ok(m[3]) ? "tag" : undefined
                out[i] = new Error(
                    bad ? `Error base64-decoding ${bad} of ${strings[i]}: illegal base64 data` : "Could not decrypt with AES_GCM: cipher: message authentication failed",
                )
                continue
            }
            const o = d.off[j]
            const len = d.len[j]
            try {
                out[i] = typedRange(plain, o, len, types[j], raw)
                if (stash && types[j] !== "bytes") stash.rememberRange(aads[i], types[j] as TypeTag, plain, o, len, ivs, v.off[j], v.len[j])
            } catch (e) {
                out[i] = e as Error
            }
        }
        plain.fill(0)
    }
    return out
}

function typedRange(buf: Buffer, off: number, len: number, type: string, raw: boolean): Scalar {
    if (type === "str" && !raw) return buf.toString("utf8", off, off + len)
    if (type === "comment") return new Comment(buf.toString("utf8", off, off + len))
    return typed(Buffer.from(buf.subarray(off, off + len)), type, raw)
}
