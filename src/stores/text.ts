/**
 * Byte/text helpers shared by the flat stores: Go-compatible UTF-8 decoding, Go's notion of white space, byte-order
 * string comparison, and sops' `ValToString` (how dotenv and INI print non-string values).
 */
import { ErrorKind, KsopsError } from "../errors.js"
import { formatFloat } from "../sops/go-format.js"
import { formatRfc3339Seconds } from "../sops/time.js"
import { Branch, Comment, SopsTime, type TreeValue } from "../sops/tree.js"

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const encoder = new TextEncoder()

/**
 * Decode UTF-8 like Go does when it turns invalid bytes into runes: every byte that does not start a valid sequence
 * becomes one U+FFFD (WHATWG decoders may merge a truncated sequence into a single U+FFFD; Go does not).
 * A byte-order mark is kept.
 * @param bytes - the input
 * @returns the text
 */
export function decodeUtf8(bytes: Uint8Array): string {
    try {
        return strictDecoder.decode(bytes)
    } catch {
        return decodeUtf8Slow(bytes)
    }
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there does not start one. */
function validSequenceLength(b: Uint8Array, i: number): number {
    const c = b[i]
    if (c < 0x80) return 1
    const n = b.length
    const cont = (j: number, lo = 0x80, hi = 0xbf) => j < n && b[j] >= lo && b[j] <= hi
    if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0
    if (c >= 0xe0 && c <= 0xef) {
        const lo = c === 0xe0 ? 0xa0 : 0x80
        const hi = c === 0xed ? 0x9f : 0xbf
        return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0
    }
    if (c >= 0xf0 && c <= 0xf4) {
        const lo = c === 0xf0 ? 0x90 : 0x80
        const hi = c === 0xf4 ? 0x8f : 0xbf
        return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0
    }
    return 0
}

function decodeUtf8Slow(bytes: Uint8Array): string {
    return splitInvalidUtf8(bytes)
        .map((part) => part ?? "\ufffd")
        .join("")
}

/**
 * Go `encoding/json`'s view of raw bytes held in a string: the text, with each byte that is not valid UTF-8 marked
 * (the JSON writer prints those as the escape `\ufffd`, not as a raw U+FFFD).
 * @returns the decoded runs and invalid markers, in order
 */
export function splitInvalidUtf8(bytes: Uint8Array): (string | null)[] {
    const out: (string | null)[] = []
    let runStart = 0
    let i = 0
    while (i < bytes.length) {
        const len = validSequenceLength(bytes, i)
        if (len > 0) {
            i += len
            continue
        }
        if (i > runStart) out.push(strictDecoder.decode(bytes.subarray(runStart, i)))
        out.push(null)
        i += 1
        runStart = i
    }
    if (i > runStart) out.push(strictDecoder.decode(bytes.subarray(runStart, i)))
    return out
}

/** Encode text as UTF-8. */
export function encodeUtf8(text: string): Uint8Array {
    return encoder.encode(text)
}

/** UTF-8 byte length of a string (Go's `len(s)`). */
export function byteLength(text: string): number {
    let n = 0
    for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i)
        if (c < 0x80) n += 1
        else if (c < 0x800) n += 2
        else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
            const d = text.charCodeAt(i + 1)
            if (d >= 0xdc00 && d <= 0xdfff) {
                n += 4
                i++
            } else n += 3
        } else n += 3
    }
    return n
}

// Go unicode.IsSpace: Latin-1 spaces plus the White_Space property.
const GO_SPACE = "\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
const LEADING_SPACE = new RegExp(`^[${GO_SPACE}]+`)
const TRAILING_SPACE = new RegExp(`[${GO_SPACE}]+$`)

/** Go `unicode.IsSpace` for one character. */
export function isGoSpace(ch: string): boolean {
    return ch.length > 0 && GO_SPACE.includes(ch)
}

/** Go `strings.TrimSpace`. */
export function goTrimSpace(s: string): string {
    return goTrimRight(goTrimLeft(s))
}

/** Go `strings.TrimLeftFunc(s, unicode.IsSpace)`. */
export function goTrimLeft(s: string): string {
    return s.replace(LEADING_SPACE, "")
}

/** Go `strings.TrimRightFunc(s, unicode.IsSpace)`. */
export function goTrimRight(s: string): string {
    return s.replace(TRAILING_SPACE, "")
}

/**
 * Compare two strings by UTF-8 byte order (Go's `sort.Strings`), which is code point order, not the UTF-16 order of
 * `<` in JavaScript.
 */
export function compareBytewise(a: string, b: string): number {
    const n = Math.min(a.length, b.length)
    for (let i = 0; i < n; i++) {
        const x = a.charCodeAt(i)
        const y = b.charCodeAt(i)
        if (x === y) continue
        // surrogates (astral code points) sort after every BMP code point
        const xs = x >= 0xd800 && x <= 0xdfff
        const ys = y >= 0xd800 && y <= 0xdfff
        if (xs !== ys) return xs ? 1 : -1
        return x - y
    }
    return a.length - b.length
}

/** An error while writing a tree out (sops: "Error dumping file"). */
export function emitError(message: string): KsopsError {
    return new KsopsError(ErrorKind.ErrorDumpingTree, message)
}

/**
 * sops `stores.ValToString`: how dotenv and INI print a non-string value. Floats use Go `%G` with a `.0` added when
 * the result looks like an integer, bools `true`/`false`, times RFC 3339 (seconds), everything else Go's `%v`.
 * @param v - the value
 */
export function valToString(v: TreeValue): string {
    if (typeof v === "string") return v
    if (typeof v === "number") {
        const g = formatFloat(v, "G")
        if (g.includes(".") || g.includes("E")) return g
        if (!Number.isFinite(v)) return g
        return `${formatFloat(v, "f")}.0`
    }
    if (v instanceof SopsTime) return formatRfc3339Seconds(v)
    return goSprintV(v)
}

/** Go `fmt.Sprintf("%v", v)` for tree values (best effort for the nested shapes; they only appear in odd trees). */
function goSprintV(v: TreeValue): string {
    if (v === null) return "<nil>"
    if (typeof v === "string") return v
    if (typeof v === "bigint") return v.toString()
    if (typeof v === "number") return formatFloat(v, "g")
    if (typeof v === "boolean") return v ? "true" : "false"
    if (v instanceof SopsTime) return v.text
    if (v instanceof Comment) return `{${v.value}}`
    if (v instanceof Uint8Array) return decodeUtf8(v)
    if (v instanceof Branch) {
        return `[${v.items.map((item) => `{${goSprintV(item.key)} ${goSprintV(item.value)}}`).join(" ")}]`
    }
    return `[${v.map(goSprintV).join(" ")}]`
}
