/**
 * Value encryption: AES-256-GCM (node:crypto) with a 32-byte IV, the `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`
 * syntax, the type tags and their plaintext forms (sops §2). Deterministic given the IVs it is handed.
 *
 * Error messages never contain a value's bytes (plaintext or the string found in the file): callers add the
 * value's path.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto"
import { ErrorKind, KsopsError } from "../errors.js"
import { formatFloat } from "./go-format.js"
import { parseRfc3339 } from "./time.js"
import { Comment, SopsTime, type TreeValue } from "./tree.js"

/** A scalar a leaf can hold. */
export type Scalar = string | bigint | number | boolean | SopsTime | Comment | Uint8Array

/** The type tags sops writes and reads. */
export type TypeTag = "str" | "int" | "float" | "bool" | "time" | "comment" | "bytes"

const PREFIX = "ENC[AES256_GCM,data:"

/** The four text fields of an `ENC[…]` string, before base64 decoding. */
export interface EncryptedFields {
    data: string
    iv: string
    tag: string
    type: string
}

/**
 * Split an `ENC[…]` string exactly as sops' Go regex `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`
 * does (RE2, leftmost-first, greedy groups, `.` = anything but `\n`), in linear time.
 *
 * The match lies in the first line. Greedy groups make the regex pick, from the right: the last `]`, the last
 * `,type:` that leaves group 4 non-empty, the last `,tag:` before it that leaves group 3 non-empty, and the last
 * `,iv:` before that which leaves groups 1 and 2 non-empty. Each of those choices is the largest possible one
 * whatever the groups to its left do, so the first success of the backtracking search is exactly this split.
 * @returns undefined when the regex would not match
 */
export function scanEncrypted(s: string): EncryptedFields | undefined {
    const at = new Int32Array(4)
    if (!splitEncrypted(s, at)) return undefined
    return { data: s.slice(PREFIX.length, at[0]), iv: s.slice(at[0] + 4, at[1]), tag: s.slice(at[1] + 5, at[2]), type: s.slice(at[2] + 6, at[3]) }
}

/** {@link scanEncrypted} without allocating: the positions of `,iv:`, `,tag:`, `,type:` and `]` go to `at`. */
function splitEncrypted(s: string, at: Int32Array): boolean {
    if (!s.startsWith(PREFIX)) return false
    const nl = s.indexOf("\n", PREFIX.length)
    const end = nl < 0 ? s.length : nl
    const close = s.lastIndexOf("]", end - 1)
    // ",iv:" ≥ 21 (group 1 non-empty), then ≥ 5, 6 and 7 characters up to ",tag:", ",type:" and "]"
    if (close < PREFIX.length + 1 + 4 + 1 + 5 + 1 + 6 + 1) return false
    const type = s.lastIndexOf(",type:", close - 7)
    if (type < 0 || type - 6 < 0) return false
    const tag = s.lastIndexOf(",tag:", type - 6)
    if (tag < 0 || tag - 5 < 0) return false
    const iv = s.lastIndexOf(",iv:", tag - 5)
    if (iv < PREFIX.length + 1) return false
    at[0] = iv
    at[1] = tag
    at[2] = type
    at[3] = close
    return true
}

/** 1 for the characters of the standard base64 alphabet. */
const B64 = new Uint8Array(128)
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") B64[c.charCodeAt(0)] = 1

/**
 * The decoded length of `s[from…to)` if Go's `base64.StdEncoding.DecodeString` accepts it (the standard alphabet,
 * `=` padding required, `\r` and `\n` ignored anywhere, padding bits not checked), else -1.
 */
function stdBase64Length(s: string, from: number, to: number): number {
    let n = 0
    let pad = 0
    for (let i = from; i < to; i++) {
        const c = s.charCodeAt(i)
        if (c === 10 || c === 13) continue
        if (c === 61) {
            // '=' only as the last one or two characters of a quantum, and nothing but line breaks after
            pad++
            if (pad > 2 || n % 4 < 2) return -1
        } else if (pad > 0 || c >= 128 || B64[c] === 0) return -1
        n++
    }
    if (n % 4 !== 0) return -1
    return (n / 4) * 3 - pad
}

/** Decode `s[from…to)`, already checked by {@link stdBase64Length}, into `buf` at `off`. */
function writeStdBase64(s: string, from: number, to: number, buf: Buffer, off: number): number {
    let text = s.slice(from, to)
    if (text.includes("\n") || text.includes("\r")) text = text.replace(/[\r\n]/g, "")
    return buf.write(text, off, "base64")
}

/**
 * Decode base64 exactly as Go's `base64.StdEncoding.DecodeString` accepts it.
 * @returns undefined for anything Go rejects
 */
export function decodeStdBase64(s: string): Buffer | undefined {
    const n = stdBase64Length(s, 0, s.length)
    if (n < 0) return undefined
    const buf = Buffer.alloc(n)
    writeStdBase64(s, 0, s.length, buf, 0)
    return buf
}

/** True when the string looks like a sops encrypted value. */
export function isEncryptedValue(s: string): boolean {
    return scanEncrypted(s) !== undefined
}

/** The parts of an `ENC[…]` string. */
export interface EncryptedValue {
    data: Buffer
    iv: Buffer
    tag: Buffer
    type: string
}

const FORMAT_MESSAGE = "Input string does not match sops' data format"

/**
 * Parse an `ENC[…]` string (strict padded base64). The message never quotes the input.
 * @throws Error `Input string does not match sops' data format`, `Error base64-decoding …`
 */
export function parseEncryptedValue(s: string): EncryptedValue {
    const f = scanEncrypted(s)
    if (!f) throw new Error(FORMAT_MESSAGE)
    const data = decodeStdBase64(f.data)
    if (!data) throw new Error("Error base64-decoding data: illegal base64 data")
    const iv = decodeStdBase64(f.iv)
    if (!iv) throw new Error("Error base64-decoding iv: illegal base64 data")
    const tag = decodeStdBase64(f.tag)
    if (!tag) throw new Error("Error base64-decoding tag: illegal base64 data")
    return { data, iv, tag, type: f.type }
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"])
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"])
const INT_RE = /^[+-]?\d+$/
const FLOAT_RE = /^[+-]?(?:\d+(?:_\d+)*\.?(?:\d+(?:_\d+)*)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?$/
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** Go `strconv.ParseFloat(s, 64)` for the forms sops can meet; undefined where Go fails. */
function parseGoFloat(s: string): number | undefined {
    const lower = s.toLowerCase()
    const unsigned = lower.replace(/^[+-]/, "")
    const negative = lower.startsWith("-")
    if (unsigned === "inf" || unsigned === "infinity") return negative ? -Infinity : Infinity
    if (unsigned === "nan") return Number.NaN
    if (FLOAT_RE.test(s) && !s.includes("_")) return Number(s)
    return undefined
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

/** What each type tag's plaintext must be (for messages that name the type, never the bytes). */
const TYPE_NAMES: Record<string, string> = {
    int: "an integer (Go strconv.Atoi, 64-bit)",
    float: "a float (Go strconv.ParseFloat)",
    bool: "a boolean (Go strconv.ParseBool)",
    time: "an RFC 3339 time",
}

/** The error for a plaintext that does not parse as its type tag; the bytes are not quoted. */
function typeError(type: string): Error {
    return new Error(
        `the decrypted value is not ${TYPE_NAMES[type]} as its tag type:${type} says (the tag is not authenticated: it may have been changed)`,
    )
}

/** Turn decrypted bytes back into a typed scalar. */
function typed(bytes: Buffer, type: string, raw: boolean): Scalar {
    switch (type) {
        case "str":
            return raw ? new Uint8Array(bytes) : bytes.toString("utf8")
        case "comment":
            return new Comment(bytes.toString("utf8"))
        case "bytes":
            return new Uint8Array(bytes)
        case "int": {
            const s = bytes.toString("utf8")
            if (!INT_RE.test(s)) throw typeError(type)
            const n = BigInt(s)
            if (n < INT64_MIN || n > INT64_MAX) throw typeError(type)
            return n
        }
        case "float": {
            const f = parseGoFloat(bytes.toString("utf8"))
            if (f === undefined) throw typeError(type)
            return f
        }
        case "bool": {
            const s = bytes.toString("utf8")
            if (TRUE.has(s)) return true
            if (FALSE.has(s)) return false
            throw typeError(type)
        }
        case "time":
            try {
                return parseRfc3339(bytes.toString("utf8"))
            } catch {
                throw typeError(type)
            }
        default:
            throw new Error(`Unknown datatype: ${type.length > 20 ? `${type.slice(0, 20)}…` : type}`)
    }
}

/**
 * Remembers the IV of every value decrypted, so unchanged values re-encrypt to the same `ENC[…]` (small diffs).
 * Entries are keyed by the length-prefixed (AAD, type, plaintext), so no two different values share a key.
 */
export class IvStash {
    private readonly ivs = new Map<string, Buffer>()

    private static key(aad: string, type: string, bytes: Uint8Array): string {
        const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1")
        return `${aad.length}:${aad}${type.length}:${type}${text}`
    }

    /** Record the IV a value was encrypted with. */
    remember(aad: string, type: TypeTag, bytes: Uint8Array, iv: Buffer): void {
        this.ivs.set(IvStash.key(aad, type, bytes), Buffer.from(iv))
    }

    /** The IV to reuse for this exact value at this path, if any. */
    lookup(aad: string, type: TypeTag, bytes: Uint8Array): Buffer | undefined {
        if (this.ivs.size === 0) return undefined
        return this.ivs.get(IvStash.key(aad, type, bytes))
    }

    /** Forget everything. */
    clear(): void {
        this.ivs.clear()
    }
}

let cached: { key: Buffer; object: KeyObject } | undefined

/** The key object of a data key (one per key; a file's values all share it). */
function keyFor(key: Uint8Array): KeyObject {
    if (cached && cached.key.length === key.length && cached.key.equals(key)) return cached.object
    if (key.length !== 32) throw new Error(`crypto/aes: invalid key size ${key.length}`)
    const object = createSecretKey(key)
    cached?.key.fill(0)
    cached = { key: Buffer.from(key), object }
    return object
}

/** Forget the cached key object (after a run, so no key material lingers in this module). */
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
    return encryptScalars([v], [aad], key, nextIv, stash)[0]
}

/**
 * Decrypt one `ENC[…]` string.
 * @param raw - keep `str` values as bytes (binary store)
 * @throws Error with sops' wording (`Could not decrypt with AES_GCM: …`, `Input string does not match …`), never
 * quoting the value
 */
export function decryptScalar(s: string, key: Uint8Array, aad: string, stash?: IvStash, raw = false): Scalar {
    const out = decryptScalars([s], [aad], key, stash, raw)[0]
    if (out instanceof Error) throw out
    return out
}

/** Wraps walk failures in the error kind sops exits 25/23 with; `where` names the value (its tree path). */
export function treeError(decrypting: boolean, cause: unknown, where?: string): KsopsError {
    const msg = cause instanceof Error ? cause.message : String(cause)
    const at = where === undefined ? "" : ` at ${where}`
    return decrypting
        ? new KsopsError(ErrorKind.DecryptingTree, `Error decrypting tree: Error walking tree: Could not decrypt value${at}: ${msg}`, {
              cause,
              hint: "the encrypted value was changed or belongs to another file",
          })
        : new KsopsError(ErrorKind.EncryptingTree, `Error encrypting tree${at}: ${msg}`, { cause })
}

/** True for values the walk treats as leaves. */
export function isScalar(v: TreeValue): v is Scalar {
    return v !== null && typeof v !== "object" ? true : v instanceof SopsTime || v instanceof Comment || v instanceof Uint8Array
}

/** How many values share one plaintext buffer (bounds the batch buffers). */
const BATCH = 4096

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
 * Encrypt many scalars with one key: plaintexts are written into one shared buffer per batch (wiped after), each
 * value is sealed with node:crypto's AES-256-GCM, and the `ENC[…]` strings of a batch are sliced from one flat
 * string. The same output as {@link encryptScalar} value by value.
 */
export function encryptScalars(values: readonly Scalar[], aads: readonly string[], key: Uint8Array, nextIv: IvSource, stash?: IvStash): string[] {
    const keyObject = keyFor(key)
    const out: string[] = new Array(values.length)
    for (let start = 0; start < values.length; start += BATCH) {
        const end = Math.min(values.length, start + BATCH)
        let ptSize = 0
        for (let i = start; i < end; i++) ptSize += plaintextSize(values[i])
        const pt = Buffer.allocUnsafe(ptSize)
        const parts: string[] = []
        const idx: number[] = []
        let at = 0
        for (let i = start; i < end; i++) {
            const v = values[i]
            const { len, type } = writePlaintext(v, pt, at)
            if (len === 0 && (typeof v === "string" || v instanceof Comment)) {
                out[i] = ""
                continue
            }
            const bytes = pt.subarray(at, at + len)
            at += len
            const iv = stash?.lookup(aads[i], type, bytes) ?? nextIv()
            const c = createCipheriv("aes-256-gcm", keyObject, iv, { authTagLength: 16 })
            c.setAAD(Buffer.from(aads[i], "utf8"))
            const data = c.update(bytes)
            c.final()
            parts.push(
                `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${c.getAuthTag().toString("base64")},type:${type}]`,
            )
            idx.push(i)
        }
        // One flat string for the batch, sliced per value: values stay flat (cheap to scan, emit and collect)
        // instead of being concatenations of parts each.
        const joined = parts.join("")
        let pos = 0
        for (let j = 0; j < parts.length; j++) {
            const len = parts[j].length
            out[idx[j]] = joined.slice(pos, pos + len)
            pos += len
        }
        pt.fill(0)
    }
    return out
}

const AUTH_MESSAGE = "Could not decrypt with AES_GCM: cipher: message authentication failed"

/** GCM-open as Go's `Open(nil, iv, data‖tag, aad)` does: the last 16 bytes of data‖tag are the tag. */
function open(keyObject: KeyObject, iv: Buffer, sealed: Buffer, aad: Buffer): Buffer | undefined {
    if (sealed.length < 16 || iv.length === 0) return undefined
    let plain: Buffer | undefined
    try {
        const d = createDecipheriv("aes-256-gcm", keyObject, iv, { authTagLength: 16 })
        d.setAAD(aad)
        d.setAuthTag(sealed.subarray(sealed.length - 16))
        plain = d.update(sealed.subarray(0, sealed.length - 16))
        d.final()
        return plain
    } catch {
        plain?.fill(0)
        return undefined
    }
}

/**
 * Decrypt many `ENC[…]` strings with one key. Each result is the scalar or the Error that {@link decryptScalar}
 * would have thrown for it (messages never quote the value). The fields are decoded into one scratch buffer
 * (no allocation per field), and each value is opened with node:crypto's AES-256-GCM.
 */
export function decryptScalars(
    strings: readonly string[],
    aads: readonly string[],
    key: Uint8Array,
    stash?: IvStash,
    raw = false,
): (Scalar | Error)[] {
    const keyObject = keyFor(key)
    const out: (Scalar | Error)[] = new Array(strings.length)
    const at = new Int32Array(4)
    let scratch = Buffer.alloc(4096)
    for (let i = 0; i < strings.length; i++) {
        const s = strings[i]
        if (s === "") {
            out[i] = ""
            continue
        }
        if (!splitEncrypted(s, at)) {
            out[i] = new Error(FORMAT_MESSAGE)
            continue
        }
        const [ivAt, tagAt, typeAt, close] = at
        const dataLen = stdBase64Length(s, PREFIX.length, ivAt)
        const ivLen = dataLen < 0 ? -1 : stdBase64Length(s, ivAt + 4, tagAt)
        const tagLen = ivLen < 0 ? -1 : stdBase64Length(s, tagAt + 5, typeAt)
        if (tagLen < 0) {
            out[i] = new Error(`Error base64-decoding ${dataLen < 0 ? "data" : ivLen < 0 ? "iv" : "tag"}: illegal base64 data`)
            continue
        }
        const aadLen = Buffer.byteLength(aads[i], "utf8")
        const need = dataLen + tagLen + ivLen + aadLen
        if (need > scratch.length) {
            scratch.fill(0)
            scratch = Buffer.alloc(Math.max(need, 2 * scratch.length))
        }
        // data‖tag, then the IV, then the AAD
        writeStdBase64(s, PREFIX.length, ivAt, scratch, 0)
        writeStdBase64(s, tagAt + 5, typeAt, scratch, dataLen)
        const ivEnd = dataLen + tagLen + ivLen
        writeStdBase64(s, ivAt + 4, tagAt, scratch, dataLen + tagLen)
        scratch.write(aads[i], ivEnd, "utf8")
        const iv = scratch.subarray(dataLen + tagLen, ivEnd)
        const plain = open(keyObject, iv, scratch.subarray(0, dataLen + tagLen), scratch.subarray(ivEnd, ivEnd + aadLen))
        if (!plain) {
            out[i] = new Error(AUTH_MESSAGE)
            continue
        }
        const type = s.slice(typeAt + 6, close)
        try {
            out[i] = typed(plain, type, raw)
            if (stash && type !== "bytes") stash.remember(aads[i], type as TypeTag, plain, iv)
        } catch (e) {
            out[i] = e as Error
        }
        // raw str/bytes results are copies (new Uint8Array(buffer) copies), so the buffer can be wiped
        plain.fill(0)
    }
    scratch.fill(0)
    return out
}
