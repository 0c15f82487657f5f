/**
 * The JSON store: sops 3.13.2's `stores/json`. Reading is an ordered token walk (key order and duplicate keys kept,
 * integers that fit int64 as ints, other numbers as floats); writing follows Go `encoding/json` + `json.Indent`
 * (HTML-safe escapes, `": "`, tab indentation by default, trailing newline).
 */
import { FormatError, MetadataNotFoundError } from "../errors.js"
import { formatFloat } from "../sops/go-format.js"
import { Branch, Comment, METADATA_KEY, SopsTime, type Branches, type TreeItem, type TreeValue } from "../sops/tree.js"
import type { EncryptedFile, Store } from "./store.js"
import { decodeUtf8, emitError, encodeUtf8, splitInvalidUtf8 } from "./text.js"

/** Options of {@link JsonStore}. */
export interface JsonStoreOptions {
    /** -1 = one tab per level (default), 0 = newlines without indentation, n > 0 = n spaces; < -1 is an error. */
    indent?: number
}

const MAX_DEPTH = 10000
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

const GO_SHORT_ESCAPES: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r" }

/**
 * Go's `quoteChar` for syntax error messages. Go's scanner reads bytes: the character it names is the first byte
 * of `ch`'s UTF-8 form taken as a code point (a UTF-8 BOM is 'ï'), quoted like strconv.Quote: C0 and C1 controls,
 * DEL, U+00A0 and U+00AD escaped.
 */
function quoteChar(ch: string): string {
    if (ch === "'") return `'\\''`
    if (ch === '"') return `'"'`
    const byte = Buffer.from(ch, "utf8")[0] ?? 0
    const short = GO_SHORT_ESCAPES[byte]
    if (short !== undefined) return `'${short}'`
    if (byte < 0x20 || byte === 0x7f) return `'\\x${byte.toString(16).padStart(2, "0")}'`
    if ((byte >= 0x80 && byte < 0xa1) || byte === 0xad) return `'\\u00${byte.toString(16)}'`
    return `'${String.fromCharCode(byte)}'`
}

/** An open container while parsing: an object (with the key awaiting its value) or an array. */
type Frame = { items: TreeItem[]; key: string } | { elements: TreeValue[] }

class JsonParser {
    private readonly text: string
    private pos = 0

    constructor(text: string) {
        this.text = text
    }

    private fail(detail: string, at = this.pos): never {
        let line = 1
        let lineStart = 0
        for (let i = this.text.indexOf("\n"); i !== -1 && i < at; i = this.text.indexOf("\n", i + 1)) {
            line++
            lineStart = i + 1
        }
        throw new FormatError(detail, { line, column: at - lineStart + 1 })
    }

    private current(): string {
        const c = this.text.codePointAt(this.pos)
        return c === undefined ? "" : String.fromCodePoint(c)
    }

    private unexpected(context: string): never {
        if (this.pos >= this.text.length) this.fail("unexpected end of JSON input")
        this.fail(`invalid character ${quoteChar(this.current())} ${context}`)
    }

    private skipWhitespace(): void {
        const t = this.text
        let p = this.pos
        for (;;) {
            const c = t.charCodeAt(p)
            if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) p++
            else break
        }
        this.pos = p
    }

    /** Parse the document: a top-level object; anything after it is ignored, like sops' token reader. */
    parseDocument(): Branch {
        this.skipWhitespace()
        if (this.pos >= this.text.length) this.fail("EOF")
        const c = this.text.charCodeAt(this.pos)
        if (c === 0x7b) return this.parseValue() as Branch
        if (c === 0x5b) {
            this.fail(
                "SOPS only supports JSON files with a top-level object (starting with '{'), not arrays or other types. Got delimiter [ instead. To encrypt this file, wrap it in an object, e.g., {\"data\": [...]}",
            )
        }
        const start = this.pos
        const value = this.parseValue()
        const type =
            typeof value === "string"
                ? "string"
                : typeof value === "bigint"
                  ? "int"
                  : typeof value === "number"
                    ? "float64"
                    : typeof value === "boolean"
                      ? "bool"
                      : "<nil>"
        const shown = typeof value === "string" ? JSON.stringify(value) : value === null ? "<nil>" : String(value)
        this.fail(
            `SOPS only supports JSON files with a top-level object (starting with '{'), not other JSON types. Got ${shown} of type ${type} instead`,
            start,
        )
    }

    /** Parse one value without recursion (nesting is bounded like Go's decoder, at 10000 levels). */
    private parseValue(): TreeValue {
        const t = this.text
        const stack: Frame[] = []
        for (;;) {
            // expecting the start of a value
            let value: TreeValue
            const c = t.charCodeAt(this.pos)
            if (c === 0x7b || c === 0x5b) {
                if (stack.length >= MAX_DEPTH) this.fail("exceeded max depth")
                this.pos++
                this.skipWhitespace()
                const empty = t.charCodeAt(this.pos) === (c === 0x7b ? 0x7d : 0x5d)
                if (empty) {
                    this.pos++
                    value = c === 0x7b ? new Branch() : []
                } else {
                    if (c === 0x7b) stack.push({ items: [], key: this.parseKey() })
                    else stack.push({ elements: [] })
                    continue
                }
            } else {
                value = this.parseScalar()
            }
            // a value is complete: attach it to its container, closing containers as they end
            for (;;) {
                const top = stack[stack.length - 1]
                if (top === undefined) return value
                this.skipWhitespace()
                const next = t.charCodeAt(this.pos)
                if ("items" in top) {
                    top.items.push({ key: top.key, value })
                    if (next === 0x2c) {
                        this.pos++
                        this.skipWhitespace()
                        top.key = this.parseKey()
                        break
                    }
                    if (next !== 0x7d) this.unexpected("after object key:value pair")
                    value = new Branch(top.items)
                } else {
                    top.elements.push(value)
                    if (next === 0x2c) {
                        this.pos++
                        this.skipWhitespace()
                        break
                    }
                    if (next !== 0x5d) this.unexpected("after array element")
                    value = top.elements
                }
                this.pos++
                stack.pop()
            }
        }
    }

    /** An object key and its colon; leaves the position at the value. */
    private parseKey(): string {
        if (this.text.charCodeAt(this.pos) !== 0x22) this.unexpected("looking for beginning of object key string")
        const key = this.parseString()
        this.skipWhitespace()
        if (this.text.charCodeAt(this.pos) !== 0x3a) this.unexpected("after object key")
        this.pos++
        this.skipWhitespace()
        return key
    }

    private parseScalar(): TreeValue {
        const c = this.text.charCodeAt(this.pos)
        switch (c) {
            case 0x22:
                return this.parseString()
            case 0x74:
                return this.parseLiteral("true", true)
            case 0x66:
                return this.parseLiteral("false", false)
            case 0x6e:
                return this.parseLiteral("null", null)
            default:
                if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber()
                return this.unexpected("looking for beginning of value")
        }
    }

    private parseLiteral(word: string, value: TreeValue): TreeValue {
        for (let i = 0; i < word.length; i++) {
            if (this.text.charCodeAt(this.pos) !== word.charCodeAt(i)) {
                this.unexpected(`in literal ${word} (expecting '${word[i]}')`)
            }
            this.pos++
        }
        return value
    }

    private digits(): number {
        const start = this.pos
        const t = this.text
        let c = t.charCodeAt(this.pos)
        while (c >= 0x30 && c <= 0x39) c = t.charCodeAt(++this.pos)
        return this.pos - start
    }

    private parseNumber(): bigint | number {
        const t = this.text
        const start = this.pos
        let integer = true
        if (t.charCodeAt(this.pos) === 0x2d) this.pos++
        const first = t.charCodeAt(this.pos)
        if (first === 0x30) this.pos++
        else if (first >= 0x31 && first <= 0x39) this.digits()
        else this.unexpected("in numeric literal")
        if (t.charCodeAt(this.pos) === 0x2e) {
            integer = false
            this.pos++
            if (this.digits() === 0) this.unexpected("after decimal point in numeric literal")
        }
        const e = t.charCodeAt(this.pos)
        if (e === 0x65 || e === 0x45) {
            integer = false
            this.pos++
            const sign = t.charCodeAt(this.pos)
            if (sign === 0x2b || sign === 0x2d) this.pos++
            if (this.digits() === 0) this.unexpected("in exponent of numeric literal")
        }
        const literal = t.slice(start, this.pos)
        if (integer) {
            if (literal.length < 16) return BigInt(Number(literal))
            const big = BigInt(literal)
            if (big >= INT64_MIN && big <= INT64_MAX) return big
        }
        const f = Number(literal)
        if (!Number.isFinite(f)) this.fail(`strconv.ParseFloat: parsing ${JSON.stringify(literal)}: value out of range`, start)
        return f
    }

    private parseString(): string {
        const t = this.text
        const start = ++this.pos
        let p = start
        for (;;) {
            const c = t.charCodeAt(p)
            if (c === 0x22) {
                this.pos = p + 1
                return t.slice(start, p)
            }
            if (c === 0x5c) break
            if (c < 0x20) {
                this.pos = p
                this.unexpected("in string literal")
            }
            if (Number.isNaN(c)) {
                this.pos = p
                this.fail("unexpected end of JSON input")
            }
            p++
        }
        const parts: string[] = [t.slice(start, p)]
        let runStart = p
        for (;;) {
            const c = t.charCodeAt(p)
            if (c === 0x22) {
                parts.push(t.slice(runStart, p))
                this.pos = p + 1
                return parts.join("")
            }
            if (Number.isNaN(c)) {
                this.pos = p
                this.fail("unexpected end of JSON input")
            }
            if (c < 0x20) {
                this.pos = p
                this.unexpected("in string literal")
            }
            if (c !== 0x5c) {
                p++
                continue
            }
            parts.push(t.slice(runStart, p))
            const esc = t.charCodeAt(p + 1)
            p += 2
            switch (esc) {
                case 0x22:
                    parts.push('"')
                    break
                case 0x5c:
                    parts.push("\\")
                    break
                case 0x2f:
                    parts.push("/")
                    break
                case 0x62:
                    parts.push("\b")
                    break
                case 0x66:
                    parts.push("\f")
                    break
                case 0x6e:
                    parts.push("\n")
                    break
                case 0x72:
                    parts.push("\r")
                    break
                case 0x74:
                    parts.push("\t")
                    break
                case 0x75: {
                    const r = this.hex4(p)
                    p += 4
                    if (r >= 0xd800 && r <= 0xdfff) {
                        // a valid pair needs a high surrogate followed by an escaped low surrogate
                        if (
                            r <= 0xdbff &&
                            t.charCodeAt(p) === 0x5c &&
                            t.charCodeAt(p + 1) === 0x75 &&
                            this.isHex4(p + 2)
                        ) {
                            const r2 = Number.parseInt(t.slice(p + 2, p + 6), 16)
                            if (r2 >= 0xdc00 && r2 <= 0xdfff) {
                                parts.push(String.fromCharCode(r, r2))
                                p += 6
                                break
                            }
                        }
                        parts.push("\ufffd")
                    } else {
                        parts.push(String.fromCharCode(r))
                    }
                    break
                }
                default:
                    this.pos = p - 1
                    if (this.pos >= t.length) this.fail("unexpected end of JSON input")
                    this.unexpected("in string escape code")
            }
            runStart = p
        }
    }

    private isHex4(p: number): boolean {
        for (let i = 0; i < 4; i++) {
            const c = this.text.charCodeAt(p + i)
            const hex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
            if (!hex) return false
        }
        return true
    }

    private hex4(p: number): number {
        for (let i = 0; i < 4; i++) {
            const c = this.text.charCodeAt(p + i)
            const hex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
            if (!hex) {
                this.pos = p + i
                if (this.pos >= this.text.length) this.fail("unexpected end of JSON input")
                this.unexpected("in \\u hexadecimal character escape")
            }
        }
        return Number.parseInt(this.text.slice(p, p + 4), 16)
    }
}

/**
 * Parse JSON text whose top level is an object into a {@link Branch}.
 * @throws FormatError with line and column on malformed input or a non-object top level
 */
export function parseJsonObject(input: Uint8Array): Branch {
    return new JsonParser(decodeUtf8(input)).parseDocument()
}

// Characters Go's HTML-safe encoder escapes (plus the ones JSON requires).
const NEEDS_ESCAPE = /[\u0000-\u001f"\\<>&\u2028\u2029]/
const ESCAPE_ALL = /[\u0000-\u001f"\\<>&\u2028\u2029]/g
const SHORT_ESCAPES: Record<string, string> = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}

function escapeChar(ch: string): string {
    const short = SHORT_ESCAPES[ch]
    if (short !== undefined) return short
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`
}

/** Go `json.Marshal` of a string (HTML-safe). */
export function quoteJsonString(s: string): string {
    if (!NEEDS_ESCAPE.test(s)) return `"${s}"`
    return `"${s.replace(ESCAPE_ALL, escapeChar)}"`
}

/** Go `json.Marshal` of a string holding arbitrary bytes: invalid UTF-8 bytes become the escape `\ufffd`. */
export function quoteJsonBytes(bytes: Uint8Array): string {
    const parts = splitInvalidUtf8(bytes).map((run) => (run === null ? "\\ufffd" : quoteJsonString(run).slice(1, -1)))
    return `"${parts.join("")}"`
}

/** Go `encoding/json`'s float encoding: `'f'` shortest, `'e'` when abs < 1e-6 or ≥ 1e21 (exponent `e-7` not `e-07`). */
export function formatJsonFloat(v: number): string {
    if (!Number.isFinite(v)) {
        throw emitError(`json: unsupported value: ${formatFloat(v, "g")}`)
    }
    const abs = Math.abs(v)
    const exp = abs !== 0 && (abs < 1e-6 || abs >= 1e21)
    let s = formatFloat(v, exp ? "e" : "f")
    if (exp) {
        const n = s.length
        if (n >= 4 && s[n - 4] === "e" && s[n - 3] === "-" && s[n - 2] === "0") s = s.slice(0, n - 2) + s[n - 1]
    }
    return s
}

/** Pretty printer equivalent to sops' compact encoding followed by Go `json.Indent`. */
class JsonWriter {
    /** Pending text; encoded into {@link chunks} every few KiB so the rope never grows large (less GC work). */
    private out = ""
    private readonly chunks: Uint8Array[] = []
    private readonly unit: string
    private readonly newlines: string[] = []

    constructor(indent: number) {
        if (indent < -1) throw emitError("JSON Indentation parameter smaller than -1 is not accepted")
        this.unit = indent === -1 ? "\t" : " ".repeat(indent)
    }

    private newline(depth: number): string {
        let nl = this.newlines[depth]
        if (nl === undefined) {
            nl = `\n${this.unit.repeat(depth)}`
            this.newlines[depth] = nl
        }
        return nl
    }

    write(value: TreeValue, depth: number): void {
        if (typeof value === "string") {
            this.out += quoteJsonString(value)
        } else if (value instanceof Branch) {
            this.writeItems(value.items, depth)
        } else if (Array.isArray(value)) {
            let first = true
            const nl = this.newline(depth + 1)
            for (const element of value) {
                if (element instanceof Comment) continue
                if (this.out.length > 16384) this.flush()
                this.out += first ? `[${nl}` : `,${nl}`
                first = false
                this.write(element, depth + 1)
            }
            this.out += first ? "[]" : `${this.newline(depth)}]`
        } else if (typeof value === "bigint") {
            this.out += value.toString()
        } else if (typeof value === "number") {
            this.out += formatJsonFloat(value)
        } else if (typeof value === "boolean") {
            this.out += value ? "true" : "false"
        } else if (value === null) {
            this.out += "null"
        } else if (value instanceof SopsTime) {
            this.out += quoteJsonString(value.text)
        } else if (value instanceof Uint8Array) {
            this.out += quoteJsonBytes(value)
        } else {
            // a Comment used as a value: Go marshals the struct
            this.writeItems([{ key: "Value", value: value.value }], depth)
        }
    }

    private writeItems(items: readonly TreeItem[], depth: number): void {
        if (this.out.length > 16384) this.flush()
        let first = true
        const nl = this.newline(depth + 1)
        for (const item of items) {
            if (typeof item.key !== "string") continue
            this.out += `${first ? "{" : ","}${nl}${quoteJsonString(item.key)}: `
            first = false
            this.write(item.value, depth + 1)
        }
        this.out += first ? "{}" : `${this.newline(depth)}}`
    }

    private flush(): void {
        if (this.out.length > 0) this.chunks.push(encodeUtf8(this.out))
        this.out = ""
    }

    /** The output as UTF-8, with `suffix` appended. */
    bytes(suffix = ""): Uint8Array {
        this.out += suffix
        this.flush()
        if (this.chunks.length === 1) return this.chunks[0]
        let size = 0
        for (const chunk of this.chunks) size += chunk.length
        const result = new Uint8Array(size)
        let offset = 0
        for (const chunk of this.chunks) {
            result.set(chunk, offset)
            offset += chunk.length
        }
        return result
    }
}

/**
 * Serialize a value the way sops' JSON store does (no trailing newline).
 * @param value - any tree value; comments are dropped
 * @param indent - see {@link JsonStoreOptions.indent}
 * @throws KsopsError (error-dumping-tree) for NaN/±Inf floats or indent < -1
 */
export function formatJson(value: TreeValue, indent = -1): string {
    return decodeUtf8(encodeJson(value, indent))
}

/** {@link formatJson} straight to UTF-8 bytes, with `suffix` appended. */
export function encodeJson(value: TreeValue, indent = -1, suffix = ""): Uint8Array {
    const writer = new JsonWriter(indent)
    writer.write(value, 0)
    return writer.bytes(suffix)
}

/** Reject a data key that collides with the metadata key (sops `SerializeMetadata`). */
export function checkReservedKey(branch: Branch): void {
    for (const item of branch.items) {
        if (item.key === METADATA_KEY) {
            throw emitError(
                `Error marshaling metadata: Found key "${METADATA_KEY}" in encrypted data, which is a reserved key used for SOPS metadata`,
            )
        }
    }
}

/**
 * Split the `sops` entry off a nested-metadata tree (YAML/JSON/INI rule: first branch only, exactly one, a map;
 * `sops` keys in later branches are dropped).
 * @throws MetadataNotFoundError, FormatError
 */
export function extractNestedMetadata(branches: Branches): EncryptedFile {
    let metadata: Branch | undefined
    const out: Branches = []
    branches.forEach((branch, index) => {
        const items: TreeItem[] = []
        for (const item of branch.items) {
            if (item.key !== METADATA_KEY) {
                items.push(item)
                continue
            }
            if (index !== 0) continue
            if (metadata !== undefined) throw new FormatError(`Found duplicate ${METADATA_KEY} entry`)
            if (!(item.value instanceof Branch)) throw new FormatError(`Found ${METADATA_KEY} entry that is not a mapping`)
            metadata = item.value
        }
        out.push(new Branch(items))
    })
    if (metadata === undefined) throw new MetadataNotFoundError()
    return { branches: out, metadata }
}

/** True when the first branch has a top-level `sops` key. */
export function hasTopLevelMetadataKey(branches: Branches): boolean {
    const first = branches[0]
    return first?.items.some((item) => item.key === METADATA_KEY) ?? false
}

/** The JSON store. */
export class JsonStore implements Store {
    readonly format = "json"
    private readonly indent: number

    constructor(options: JsonStoreOptions = {}) {
        this.indent = options.indent ?? -1
    }

    loadPlain(input: Uint8Array): Branches {
        return [parseJsonObject(input)]
    }

    loadEncrypted(input: Uint8Array): EncryptedFile {
        return extractNestedMetadata(this.loadPlain(input))
    }

    emitPlain(branches: Branches): Uint8Array {
        const first = branches[0]
        if (first === undefined) throw emitError("there must be at least one document to emit")
        return encodeJson(first, this.indent, "\n")
    }

    emitEncrypted(branches: Branches, metadata: Branch): Uint8Array {
        const withMetadata = branches.map((branch) => {
            checkReservedKey(branch)
            return new Branch([...branch.items, { key: METADATA_KEY, value: metadata }])
        })
        return this.emitPlain(withMetadata)
    }

    emitValue(value: TreeValue): Uint8Array {
        if (typeof value === "string") return encodeUtf8(value)
        if (value instanceof Uint8Array) return value
        if (value instanceof Branch) return this.emitPlain([value])
        return encodeJson(value, this.indent)
    }

    hasMetadataKey(branches: Branches): boolean {
        return hasTopLevelMetadataKey(branches)
    }
}
