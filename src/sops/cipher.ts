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
 * @param runner - seals batches of at least `runner.minValues` values (possibly on several threads); same output
 */
export function encryptScalars(
    values: readonly Scalar[],
    aads: readonly string[],
    key: Uint8Array,
    nextIv: IvSource,
    stash?: IvStash,
    runner?: GcmRunner,
): string[] {
    if (runner && values.length >= runner.minValues) return encryptWithRunner(values, aads, key, nextIv, stash, runner)
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
 * @param runner - opens batches of at least `runner.minValues` values (possibly on several threads); same results
 */
export function decryptScalars(
    strings: readonly string[],
    aads: readonly string[],
    key: Uint8Array,
    stash?: IvStash,
    raw = false,
    runner?: GcmRunner,
): (Scalar | Error)[] {
    if (runner && strings.length >= runner.minValues) return decryptWithRunner(strings, aads, key, stash, raw, runner)
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

/**
 * Runs the GCM step of a large batch, possibly on several threads (the CLI's worker pool, src/cli/gcm-pool.ts).
 * Without one (the default, and for library users) every value is sealed and opened on the calling thread.
 * The runner calls {@link sealRange} / {@link openRange} over chunks of the values; those two functions only use
 * their arguments (they are also run on other threads from their source text), so the output is the same bytes
 * whoever runs which chunk.
 */
export interface GcmRunner {
    /** Batches with fewer values than this are done the serial way. */
    readonly minValues: number
    /** Called once before a large batch is prepared (e.g. to start a worker while the main thread prepares). */
    start?(): void
    /** A zero-filled buffer every thread of the runner can see. */
    alloc(size: number): Buffer
    /**
     * Start `sealRange` or `openRange` over values [0, count) of `job` on the runner's other threads and return at
     * once (the caller goes on preparing the next job meanwhile).
     */
    submit(kind: "seal" | "open", job: GcmJob, count: number): GcmTask
    /** Run the chunks of a task no other thread has taken on this thread; returns when all of them are done. */
    finish(task: GcmTask): void
}

/** A submitted job (opaque to the caller). */
export interface GcmTask {
    readonly job: GcmJob
}

/** The buffers of a batch (from {@link GcmRunner.alloc}); `meta` holds int32 fields per value. */
export interface GcmJob {
    key: Uint8Array
    meta: Uint8Array
    /** seal: plaintexts; open: data‖tag of each value */
    input: Uint8Array
    /** the 32-byte IVs (seal) or the decoded IVs (open) */
    ivs: Uint8Array
    aad: Uint8Array
    /** seal: the `ENC[…]` texts (latin1); open: the plaintexts */
    output: Uint8Array
}

/** int32 fields per value in a seal job: input offset, input length (-1: empty, skipped), AAD offset, AAD length, output offset, type index. */
const SEAL_META = 6
/** int32 fields per value in an open job: input offset, input length (-1: skipped), IV offset, IV length, AAD offset, AAD length, output offset, status (1: opened). */
const OPEN_META = 8
/** The type tags by index in a seal job (sealRange has its own copy: it runs from its source text). */
const TYPE_NAMES_BY_INDEX: readonly TypeTag[] = ["str", "int", "float", "bool", "time", "comment", "bytes"]
const TYPE_INDEX = Object.fromEntries(TYPE_NAMES_BY_INDEX.map((t, i) => [t, i])) as Record<TypeTag, number>

/** Length of the `ENC[…]` text of a value of `len` bytes with type tag `type`. */
function sealedTextLength(len: number, type: string): number {
    // ENC[AES256_GCM,data: + base64 + ,iv: + 44 + ,tag: + 24 + ,type: + type + ]
    return 20 + 4 * Math.ceil(len / 3) + 4 + 44 + 5 + 24 + 6 + type.length + 1
}

/**
 * Seal values [from, to) of a seal job: AES-256-GCM of each plaintext with its IV and AAD, written as its
 * `ENC[…]` text into the output. Self-contained (runs on worker threads from its source text).
 */
export function sealRange(crypto: typeof import("node:crypto"), job: GcmJob, from: number, to: number): void {
    const types = ["str", "int", "float", "bool", "time", "comment", "bytes"]
    const view = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)
    const meta = new Int32Array(job.meta.buffer, job.meta.byteOffset, job.meta.byteLength >> 2)
    const input = view(job.input)
    const ivs = view(job.ivs)
    const aad = view(job.aad)
    const out = view(job.output)
    const key = crypto.createSecretKey(view(job.key))
    for (let i = from; i < to; i++) {
        const m = i * 6
        const len = meta[m + 1]
        if (len < 0) continue
        const iv = ivs.subarray(32 * i, 32 * i + 32)
        const c = crypto.createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 })
        c.setAAD(aad.subarray(meta[m + 2], meta[m + 2] + meta[m + 3]))
        const data = c.update(input.subarray(meta[m], meta[m] + len))
        c.final()
        const text = `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${c.getAuthTag().toString("base64")},type:${types[meta[m + 5]]}]`
        out.write(text, meta[m + 4], "latin1")
    }
}

/**
 * Open values [from, to) of an open job as Go's `Open(nil, iv, data‖tag, aad)`: each plaintext goes to the output
 * and its status to 1; a value that does not open keeps status 0 and writes nothing. Self-contained (runs on worker
 * threads from its source text).
 */
export function openRange(crypto: typeof import("node:crypto"), job: GcmJob, from: number, to: number): void {
    const view = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)
    const meta = new Int32Array(job.meta.buffer, job.meta.byteOffset, job.meta.byteLength >> 2)
    const input = view(job.input)
    const ivs = view(job.ivs)
    const aad = view(job.aad)
    const out = view(job.output)
    const key = crypto.createSecretKey(view(job.key))
    for (let i = from; i < to; i++) {
        const m = i * 8
        const len = meta[m + 1]
        if (len < 16 || meta[m + 3] === 0) continue
        let plain: Buffer | undefined
        try {
            const d = crypto.createDecipheriv("aes-256-gcm", key, ivs.subarray(meta[m + 2], meta[m + 2] + meta[m + 3]), { authTagLength: 16 })
            d.setAAD(aad.subarray(meta[m + 4], meta[m + 4] + meta[m + 5]))
            d.setAuthTag(input.subarray(meta[m] + len - 16, meta[m] + len))
            plain = d.update(input.subarray(meta[m], meta[m] + len - 16))
            d.final()
            plain.copy(out, meta[m + 6])
            meta[m + 7] = 1
        } catch {
            // not authentic: status stays 0
        }
        plain?.fill(0)
    }
}

/** Values per job of the runner path (bounds the shared buffers and the flat text of a job). */
const RUNNER_BATCH = 8192

/** Jobs submitted and not finished at most (bounds the memory of the shared buffers). */
const IN_FLIGHT = 2

/**
 * The shared buffers of IN_FLIGHT + 1 jobs, reused round-robin (job k uses slot k % 3, which job k - 3 left
 * finished): shared memory is only returned at a full GC, so fresh buffers per job would pile up.
 */
class JobBuffers {
    private readonly slots: Map<string, Buffer>[] = []
    private readonly runner: GcmRunner

    constructor(runner: GcmRunner) {
        this.runner = runner
        for (let i = 0; i <= IN_FLIGHT; i++) this.slots.push(new Map())
    }

    /** `size` bytes of buffer `name` of job `k`'s slot; zero-filled only when `zero` (or newly allocated). */
    get(k: number, name: string, size: number, zero = false): Buffer {
        const slot = this.slots[k % this.slots.length]
        const have = slot.get(name)
        if (have && have.length >= size) {
            const b = have.subarray(0, size)
            if (zero) b.fill(0)
            return b
        }
        have?.fill(0)
        const fresh = this.runner.alloc(Math.max(size, Math.ceil((have?.length ?? 0) * 1.5)))
        slot.set(name, fresh)
        return fresh.subarray(0, size)
    }

    /** Wipe every buffer (plaintexts and key included). */
    wipe(): void {
        for (const slot of this.slots) for (const b of slot.values()) b.fill(0)
    }
}

interface SealJob {
    start: number
    n: number
    meta: Int32Array
    pt: Buffer
    text: Buffer
    task: GcmTask
}

/** Wait for a seal job and slice its `ENC[…]` strings into `out`. */
function finishSeal(job: SealJob, runner: GcmRunner, out: string[]): void {
    const { start, n, meta, pt, text, task } = job
    runner.finish(task)
    pt.fill(0)
    // one flat string for the job, sliced per value (as the serial path does per batch)
    const flat = text.toString("latin1")
    for (let j = 0; j < n; j++) {
        const m = j * SEAL_META
        if (meta[m + 1] < 0) continue
        out[start + j] = flat.slice(meta[m + 4], meta[m + 4] + sealedTextLength(meta[m + 1], TYPE_NAMES_BY_INDEX[meta[m + 5]]))
    }
}

/** {@link encryptScalars} through a runner: the main thread draws the IVs in the same order and formats nothing. */
function encryptWithRunner(
    values: readonly Scalar[],
    aads: readonly string[],
    key: Uint8Array,
    nextIv: IvSource,
    stash: IvStash | undefined,
    runner: GcmRunner,
): string[] {
    if (key.length !== 32) throw new Error(`crypto/aes: invalid key size ${key.length}`)
    runner.start?.()
    const out: string[] = new Array(values.length)
    const bufs = new JobBuffers(runner)
    const keyBuf = runner.alloc(32)
    keyBuf.set(key)
    // every job is prepared and submitted first (the other threads seal while the next one is prepared), then
    // finished and formatted in order
    const jobs: SealJob[] = []
    let done = 0
    try {
        for (let start = 0; start < values.length; start += RUNNER_BATCH) {
            const n = Math.min(values.length, start + RUNNER_BATCH) - start
            let ptSize = 0
            let aadSize = 0
            for (let i = start; i < start + n; i++) {
                ptSize += plaintextSize(values[i])
                aadSize += Buffer.byteLength(aads[i], "utf8")
            }
            const k = jobs.length
            const metaBuf = bufs.get(k, "meta", n * SEAL_META * 4)
            const meta = new Int32Array(metaBuf.buffer, metaBuf.byteOffset, n * SEAL_META)
            const pt = bufs.get(k, "pt", ptSize)
            const ivs = bufs.get(k, "ivs", 32 * n)
            const aad = bufs.get(k, "aad", aadSize)
            let ptAt = 0
            let aadAt = 0
            let textAt = 0
            for (let j = 0; j < n; j++) {
                const i = start + j
                const v = values[i]
                const { len, type } = writePlaintext(v, pt, ptAt)
                const m = j * SEAL_META
                if (len === 0 && (typeof v === "string" || v instanceof Comment)) {
                    out[i] = ""
                    meta[m + 1] = -1
                    continue
                }
                const reuse = stash?.lookup(aads[i], type, pt.subarray(ptAt, ptAt + len))
                ivs.set(reuse ?? nextIv(), 32 * j)
                const aadLen = aad.write(aads[i], aadAt, "utf8")
                meta[m] = ptAt
                meta[m + 1] = len
                meta[m + 2] = aadAt
                meta[m + 3] = aadLen
                meta[m + 4] = textAt
                meta[m + 5] = TYPE_INDEX[type]
                ptAt += len
                aadAt += aadLen
                textAt += sealedTextLength(len, type)
            }
            const text = bufs.get(k, "text", textAt)
            const task = runner.submit("seal", { key: keyBuf, meta: metaBuf, input: pt, ivs, aad, output: text }, n)
            jobs.push({ start, n, meta, pt, text, task })
            while (jobs.length - done > IN_FLIGHT) finishSeal(jobs[done++], runner, out)
        }
        while (done < jobs.length) finishSeal(jobs[done++], runner, out)
    } finally {
        bufs.wipe()
        keyBuf.fill(0)
    }
    return out
}

interface OpenJob {
    start: number
    n: number
    meta: Int32Array
    pos: Int32Array
    ivs: Buffer
    plain: Buffer
    task: GcmTask
}

/** Wait for an open job and turn its plaintexts into scalars (or errors) in `out`; the plaintexts are wiped. */
function finishOpen(
    job: OpenJob,
    runner: GcmRunner,
    strings: readonly string[],
    aads: readonly string[],
    stash: IvStash | undefined,
    raw: boolean,
    out: (Scalar | Error)[],
): void {
    const { start, n, meta, pos, ivs, plain, task } = job
    runner.finish(task)
    for (let j = 0; j < n; j++) {
        const m = j * OPEN_META
        if (meta[m + 1] < 0) continue
        const i = start + j
        if (meta[m + 7] !== 1) {
            out[i] = new Error(AUTH_MESSAGE)
            continue
        }
        const bytes = plain.subarray(meta[m + 6], meta[m + 6] + meta[m + 1] - 16)
        const type = strings[i].slice(pos[4 * j + 2] + 6, pos[4 * j + 3])
        try {
            out[i] = typed(bytes, type, raw)
            if (stash && type !== "bytes") stash.remember(aads[i], type as TypeTag, bytes, ivs.subarray(meta[m + 2], meta[m + 2] + meta[m + 3]))
        } catch (e) {
            out[i] = e as Error
        }
    }
    // raw str/bytes results are copies, so the plaintexts can be wiped
    plain.fill(0)
}

/** {@link decryptScalars} through a runner: the main thread checks and decodes the fields, the runner opens. */
function decryptWithRunner(
    strings: readonly string[],
    aads: readonly string[],
    key: Uint8Array,
    stash: IvStash | undefined,
    raw: boolean,
    runner: GcmRunner,
): (Scalar | Error)[] {
    if (key.length !== 32) throw new Error(`crypto/aes: invalid key size ${key.length}`)
    runner.start?.()
    const out: (Scalar | Error)[] = new Array(strings.length)
    const bufs = new JobBuffers(runner)
    const keyBuf = runner.alloc(32)
    keyBuf.set(key)
    const at = new Int32Array(4)
    // every job is decoded and submitted first (the other threads open while the next one is decoded), then
    // finished and converted in order
    const jobs: OpenJob[] = []
    let done = 0
    try {
        for (let start = 0; start < strings.length; start += RUNNER_BATCH) {
            const n = Math.min(strings.length, start + RUNNER_BATCH) - start
            // pass 1: split and check every value; positions and lengths kept for pass 2
            const pos = new Int32Array(n * 4)
            const lens = new Int32Array(n * 4)
            let inSize = 0
            let ivSize = 0
            let aadSize = 0
            let outSize = 0
            for (let j = 0; j < n; j++) {
                const i = start + j
                const s = strings[i]
                lens[4 * j] = -1
                if (s === "") {
                    out[i] = ""
                    continue
                }
                if (!splitEncrypted(s, at)) {
                    out[i] = new Error(FORMAT_MESSAGE)
                    continue
                }
                const dataLen = stdBase64Length(s, PREFIX.length, at[0])
                const ivLen = dataLen < 0 ? -1 : stdBase64Length(s, at[0] + 4, at[1])
                const tagLen = ivLen < 0 ? -1 : stdBase64Length(s, at[1] + 5, at[2])
                if (tagLen < 0) {
                    out[i] = new Error(`Error base64-decoding ${dataLen < 0 ? "data" : ivLen < 0 ? "iv" : "tag"}: illegal base64 data`)
                    continue
                }
                pos.set(at, 4 * j)
                lens[4 * j] = dataLen
                lens[4 * j + 1] = ivLen
                lens[4 * j + 2] = tagLen
                lens[4 * j + 3] = Buffer.byteLength(aads[i], "utf8")
                inSize += dataLen + tagLen
                ivSize += ivLen
                aadSize += lens[4 * j + 3]
                outSize += Math.max(0, dataLen + tagLen - 16)
            }
            // pass 2: decode data‖tag, IV and AAD into the job's buffers
            const k = jobs.length
            // zeroed: the status of each value starts at 0 (not opened)
            const metaBuf = bufs.get(k, "meta", n * OPEN_META * 4, true)
            const meta = new Int32Array(metaBuf.buffer, metaBuf.byteOffset, n * OPEN_META)
            const input = bufs.get(k, "input", inSize)
            const ivs = bufs.get(k, "ivs", ivSize)
            const aad = bufs.get(k, "aad", aadSize)
            const plain = bufs.get(k, "plain", outSize)
            let inAt = 0
            let ivAt = 0
            let aadAt = 0
            let outAt = 0
            for (let j = 0; j < n; j++) {
                const m = j * OPEN_META
                const dataLen = lens[4 * j]
                if (dataLen < 0) {
                    meta[m + 1] = -1
                    continue
                }
                const s = strings[start + j]
                const ivPos = pos[4 * j]
                const tagPos = pos[4 * j + 1]
                const typePos = pos[4 * j + 2]
                const ivLen = lens[4 * j + 1]
                const tagLen = lens[4 * j + 2]
                const aadLen = lens[4 * j + 3]
                writeStdBase64(s, PREFIX.length, ivPos, input, inAt)
                writeStdBase64(s, tagPos + 5, typePos, input, inAt + dataLen)
                writeStdBase64(s, ivPos + 4, tagPos, ivs, ivAt)
                aad.write(aads[start + j], aadAt, "utf8")
                meta[m] = inAt
                meta[m + 1] = dataLen + tagLen
                meta[m + 2] = ivAt
                meta[m + 3] = ivLen
                meta[m + 4] = aadAt
                meta[m + 5] = aadLen
                meta[m + 6] = outAt
                inAt += dataLen + tagLen
                ivAt += ivLen
                aadAt += aadLen
                outAt += Math.max(0, dataLen + tagLen - 16)
            }
            const task = runner.submit("open", { key: keyBuf, meta: metaBuf, input, ivs, aad, output: plain }, n)
            jobs.push({ start, n, meta, pos, ivs, plain, task })
            while (jobs.length - done > IN_FLIGHT) finishOpen(jobs[done++], runner, strings, aads, stash, raw, out)
        }
        while (done < jobs.length) finishOpen(jobs[done++], runner, strings, aads, stash, raw, out)
    } finally {
        bufs.wipe()
        keyBuf.fill(0)
    }
    return out
}
