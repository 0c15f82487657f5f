/**
 * Kubernetes YAML, byte for byte as the Go tools write it.
 *
 * {@link toKubeYaml} is `sigs.k8s.io/yaml.Marshal`: the value goes through JSON first, then through go-yaml v2's
 * encoder and emitter, whose rules are reproduced here: keys sorted with go-yaml's "natural" order, 2-space indent,
 * block sequences not indented under their key, strings quoted only when they would not read back as the same
 * string (YAML 1.1 booleans, numbers, null, timestamps, indicators), multi-line strings as literal blocks, and
 * long scalars folded at 80 columns. {@link exportManifests} is `flux … --export`. Pure: no I/O.
 */
import { parseAllDocuments } from "yaml"
import { FormatError } from "../errors.js"
import type { KubeObject } from "./types.js"

const BEST_INDENT = 2
const BEST_WIDTH = 80

// ---------------------------------------------------------------------------------------------------------
// go-yaml v2 resolve: what a plain scalar would read back as

const V2_NON_STRINGS = new Set(
    "y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF ~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF".split(" "),
)

/** Go `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeds (underscores already removed). */
function goParsesInt(s: string): boolean {
    const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s)
    if (!m) return false
    const body = m[2]
    const prefixed = /^0[xXoObB]/.test(body)
    const value = prefixed ? BigInt(body.toLowerCase()) : body.length > 1 && body.startsWith("0") ? BigInt(`0o${body.slice(1)}`) : BigInt(body)
    if (m[1] === "-") return value <= 2n ** 63n
    if (m[1] === "+") return value < 2n ** 63n
    return value < 2n ** 64n
}

/** Go `strconv.ParseFloat` accepts it (decimal, with Go's digit-separating underscores; inf/nan/hex floats too). */
function goParsesFloat(s: string): boolean {
    if (/^[-+]?(inf|infinity|nan)$/i.test(s)) return true
    if (/^[-+]?0[xX]/.test(s)) return /^[-+]?0[xX](_?[0-9a-fA-F])*(\.([0-9a-fA-F](_?[0-9a-fA-F])*)?)?[pP][-+]?[0-9](_?[0-9])*$/.test(s) && /[0-9a-fA-F]/.test(s.slice(3))
    // out of range (±Inf) is an error in Go; underflow to 0 is not
    return /^[-+]?(([0-9](_?[0-9])*)(\.([0-9](_?[0-9])*)?)?|\.[0-9](_?[0-9])*)([eE][-+]?[0-9](_?[0-9])*)?$/.test(s) && Number.isFinite(Number(s.replaceAll("_", "")))
}

function daysIn(year: number, month: number): number {
    return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/** go-yaml v2 `parseTimestamp` (the formats it tries with Go's time.Parse). */
function goTimestamp(s: string): boolean {
    const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:([Tt ])(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(Z|[-+]\d{2}:\d{2})?)?$/.exec(s)
    if (!m) return false
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
    if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false
    if (m[4] === undefined) return true
    if (m[4] === " " && m[8] !== undefined) return false
    if (m[4] !== " " && m[8] === undefined) return false
    return Number(m[5]) < 24 && Number(m[6]) < 60 && Number(m[7]) < 60
}

/** go-yaml v2 `resolve("", s)` gives something other than a string (then the emitter double-quotes). */
function resolvesNonString(s: string): boolean {
    if (s === "" || V2_NON_STRINGS.has(s)) return true
    const c = s[0]
    if (c === ".") return goParsesFloat(s)
    if (!/[-+0-9]/.test(c)) return false
    if (goTimestamp(s)) return true
    const plain = s.replaceAll("_", "")
    if (goParsesInt(plain)) return true
    // go-yaml v2's own binary forms: ParseInt(rest, 2) after "0b" (a sign may follow) or "-0b"
    if (/^0b[-+]?[01]+$/.test(plain) && BigInt(`0b${plain.replace(/^0b[-+]?/, "")}`) <= 2n ** 63n - (plain[2] === "-" ? 0n : 1n)) return true
    if (/^-0b[01]+$/.test(plain) && BigInt(`0b${plain.slice(3)}`) <= 2n ** 63n) return true
    if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(plain) && Number.isFinite(Number(plain))) return true
    return /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(s)
}

// ---------------------------------------------------------------------------------------------------------
// go-yaml v2 emitter: scalar analysis and style selection

function isPrintable(cp: number): boolean {
    return cp === 0x0a || (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff)
}

function isBreak(cp: number | undefined): boolean {
    return cp === 0x0a || cp === 0x0d || cp === 0x85 || cp === 0x2028 || cp === 0x2029
}

interface Analysis {
    multiline: boolean
    blockPlainAllowed: boolean
    singleQuotedAllowed: boolean
    blockAllowed: boolean
}

function analyze(cps: readonly number[]): Analysis {
    if (cps.length === 0) return { multiline: false, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false }
    let blockIndicators = false
    let lineBreaks = false
    let special = false
    let leadingSpace = false
    let leadingBreak = false
    let trailingSpace = false
    let trailingBreak = false
    let breakSpace = false
    let spaceBreak = false
    let precededByWhitespace = true
    let previousSpace = false
    let previousBreak = false
    const ch = (i: number) => String.fromCodePoint(cps[i])
    if (cps.length >= 3 && ((ch(0) === "-" && ch(1) === "-" && ch(2) === "-") || (ch(0) === "." && ch(1) === "." && ch(2) === "."))) {
        blockIndicators = true
    }
    for (let i = 0; i < cps.length; i++) {
        const c = cps[i]
        const next = cps[i + 1]
        const followedByWhitespace = next === undefined || next === 0x20 || next === 0x09 || isBreak(next)
        const s = ch(i)
        if (i === 0) {
            if ("#,[]{}&*!|>'\"%@`".includes(s)) blockIndicators = true
            else if ((s === "?" || s === ":" || s === "-") && followedByWhitespace) blockIndicators = true
        } else if (s === ":" && followedByWhitespace) blockIndicators = true
        else if (s === "#" && precededByWhitespace) blockIndicators = true
        if (!isPrintable(c)) special = true
        if (c === 0x20) {
            if (i === 0) leadingSpace = true
            if (i === cps.length - 1) trailingSpace = true
            if (previousBreak) breakSpace = true
            previousSpace = true
            previousBreak = false
        } else if (isBreak(c)) {
            lineBreaks = true
            if (i === 0) leadingBreak = true
            if (i === cps.length - 1) trailingBreak = true
            if (previousSpace) spaceBreak = true
            previousSpace = false
            previousBreak = true
        } else {
            previousSpace = false
            previousBreak = false
        }
        precededByWhitespace = c === 0x20 || c === 0x09 || isBreak(c)
    }
    let blockPlainAllowed = true
    let singleQuotedAllowed = true
    let blockAllowed = true
    if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) blockPlainAllowed = false
    if (trailingSpace) blockAllowed = false
    if (breakSpace) {
        blockPlainAllowed = false
        singleQuotedAllowed = false
    }
    if (spaceBreak || special) {
        blockPlainAllowed = false
        singleQuotedAllowed = false
        blockAllowed = false
    }
    if (lineBreaks) blockPlainAllowed = false
    if (blockIndicators) blockPlainAllowed = false
    return { multiline: lineBreaks, blockPlainAllowed, singleQuotedAllowed, blockAllowed }
}

type Style = "plain" | "single" | "double" | "literal"

function stringStyle(s: string, cps: readonly number[], simpleKey: boolean): Style {
    const canUsePlain = !resolvesNonString(s)
    let style: Style = s.includes("\n") ? "literal" : canUsePlain ? "plain" : "double"
    const a = analyze(cps)
    if (style === "plain") {
        if (!a.blockPlainAllowed) style = "single"
        if (cps.length === 0 && simpleKey) style = "single"
    }
    if (style === "single" && !a.singleQuotedAllowed) style = "double"
    if (style === "literal" && (!a.blockAllowed || simpleKey)) style = "double"
    return style
}

/** Go `strconv.FormatFloat(f, 'g', -1, 64)` as go-yaml writes floats. */
function goFloat(n: number): string {
    if (Number.isNaN(n)) return ".nan"
    if (n === Number.POSITIVE_INFINITY) return ".inf"
    if (n === Number.NEGATIVE_INFINITY) return "-.inf"
    if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return BigInt(n).toString()
    const [mant, expText] = n.toExponential().split("e")
    const exp = Number(expText)
    if (exp < -4 || exp >= 6) {
        const e = Math.abs(exp)
        return `${mant}e${exp < 0 ? "-" : "+"}${e < 10 ? "0" : ""}${e}`
    }
    return String(n)
}

// ---------------------------------------------------------------------------------------------------------
// the emitter

const NAMED_ESCAPES = new Map<number, string>([
    [0x00, "0"], [0x07, "a"], [0x08, "b"], [0x09, "t"], [0x0a, "n"], [0x0b, "v"], [0x0c, "f"], [0x0d, "r"], [0x1b, "e"],
    [0x22, '"'], [0x5c, "\\"], [0x85, "N"], [0xa0, "_"], [0x2028, "L"], [0x2029, "P"],
])

class Emitter {
    out = ""
    column = 0
    whitespace = true
    indention = true

    put(s: string): void {
        this.out += s
        this.column++
    }

    putBreak(): void {
        this.out += "\n"
        this.column = 0
    }

    indicator(text: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
        if (needWhitespace && !this.whitespace) this.put(" ")
        this.out += text
        this.column += text.length
        this.whitespace = isWhitespace
        this.indention = this.indention && isIndention
    }

    indent(indent: number): void {
        if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak()
        while (this.column < indent) this.put(" ")
        this.whitespace = true
        this.indention = true
    }

    /** A string, number, boolean or null; `indent` is the scalar's own indent (parent + 2). */
    scalar(value: unknown, indent: number, simpleKey: boolean): void {
        if (value === null || typeof value === "boolean" || typeof value === "number") {
            this.plain([...(typeof value === "number" ? goFloat(value) : String(value))], indent, simpleKey)
            return
        }
        const s = String(value)
        const chars = [...s]
        const cps = chars.map((c) => c.codePointAt(0) as number)
        switch (stringStyle(s, cps, simpleKey)) {
            case "plain":
                this.plain(chars, indent, simpleKey)
                break
            case "single":
                this.singleQuoted(chars, indent, simpleKey)
                break
            case "double":
                this.doubleQuoted(chars, cps, indent, simpleKey)
                break
            case "literal":
                this.literal(chars, cps, indent)
                break
        }
    }

    private plain(chars: readonly string[], indent: number, simpleKey: boolean): void {
        if (!this.whitespace) this.put(" ")
        let spaces = false
        for (let i = 0; i < chars.length; i++) {
            const c = chars[i]
            if (c === " ") {
                if (!simpleKey && !spaces && this.column > BEST_WIDTH && chars[i + 1] !== " ") this.indent(indent)
                else this.put(c)
                spaces = true
            } else {
                this.put(c)
                this.indention = false
                spaces = false
            }
        }
        this.whitespace = false
        this.indention = false
    }

    /** go-yaml `write_break`: a line feed starts a new line; U+2028/U+2029 are written as they are, then count as one. */
    private writeBreak(c: string): void {
        if (c === "\n") this.putBreak()
        else {
            this.out += c
            this.column = 0
        }
        this.indention = true
    }

    private singleQuoted(chars: readonly string[], indent: number, simpleKey: boolean): void {
        this.indicator("'", true, false, false)
        let spaces = false
        let breaks = false
        for (let i = 0; i < chars.length; i++) {
            const c = chars[i]
            if (c === " ") {
                if (!simpleKey && !spaces && this.column > BEST_WIDTH && i > 0 && i < chars.length - 1 && chars[i + 1] !== " ") {
                    this.indent(indent)
                } else this.put(c)
                spaces = true
            } else if (isBreak(c.codePointAt(0))) {
                if (!breaks && c === "\n") this.putBreak()
                this.writeBreak(c)
                breaks = true
            } else {
                if (breaks) this.indent(indent)
                breaks = false
                if (c === "'") this.put("'")
                this.put(c)
                this.indention = false
                spaces = false
            }
        }
        this.indicator("'", false, false, false)
        this.whitespace = false
        this.indention = false
    }

    private doubleQuoted(chars: readonly string[], cps: readonly number[], indent: number, simpleKey: boolean): void {
        this.indicator('"', true, false, false)
        let spaces = false
        for (let i = 0; i < chars.length; i++) {
            const c = chars[i]
            const v = cps[i]
            if (!isPrintable(v) || v === 0xfeff || isBreak(v) || c === '"' || c === "\\") {
                this.put("\\")
                const name = NAMED_ESCAPES.get(v)
                if (name !== undefined) this.put(name)
                else {
                    const [prefix, width] = v <= 0xff ? ["x", 2] : v <= 0xffff ? ["u", 4] : ["U", 8]
                    this.put(prefix as string)
                    for (const d of v.toString(16).toUpperCase().padStart(width as number, "0")) this.put(d)
                }
                spaces = false
            } else if (c === " ") {
                if (!simpleKey && !spaces && this.column > BEST_WIDTH && i > 0 && i < chars.length - 1) {
                    this.indent(indent)
                    if (chars[i + 1] === " ") this.put("\\")
                } else this.put(c)
                spaces = true
            } else {
                this.put(c)
                spaces = false
            }
        }
        this.indicator('"', false, false, false)
        this.whitespace = false
        this.indention = false
    }

    private literal(chars: readonly string[], cps: readonly number[], indent: number): void {
        this.indicator("|", true, false, false)
        if (cps[0] === 0x20 || isBreak(cps[0])) this.indicator(String(BEST_INDENT), false, false, false)
        const last = cps.length - 1
        let chomp = ""
        if (!isBreak(cps[last])) chomp = "-"
        else if (last === 0 || isBreak(cps[last - 1])) {
            chomp = "+"
        }
        if (chomp !== "") this.indicator(chomp, false, false, false)
        this.putBreak()
        this.indention = true
        this.whitespace = true
        let breaks = true
        for (let i = 0; i < chars.length; i++) {
            if (isBreak(cps[i])) {
                this.writeBreak(chars[i])
                breaks = true
            } else {
                if (breaks) this.indent(indent)
                this.put(chars[i])
                this.indention = false
                breaks = false
            }
        }
    }

    node(value: unknown, indent: number, inMapping: boolean): void {
        if (Array.isArray(value)) {
            if (value.length === 0) {
                this.indicator("[", true, true, false)
                this.indicator("]", false, false, false)
                return
            }
            // a sequence under a mapping key is not indented
            const own = indent < 0 ? 0 : inMapping && !this.indention ? indent : indent + BEST_INDENT
            for (const item of value) {
                this.indent(own)
                this.indicator("-", true, false, true)
                this.node(item, own, false)
            }
            return
        }
        if (value !== null && typeof value === "object") {
            const keys = Object.keys(value).sort(goKeyCompare)
            if (keys.length === 0) {
                this.indicator("{", true, true, false)
                this.indicator("}", false, false, false)
                return
            }
            const own = indent < 0 ? 0 : indent + BEST_INDENT
            for (const key of keys) {
                this.indent(own)
                if (isSimpleKey(key)) {
                    this.scalar(key, own + BEST_INDENT, true)
                    this.indicator(":", false, false, false)
                } else {
                    // go-yaml's explicit form for a key over 128 bytes or with a line break: `? key`, then `: value`
                    this.indicator("?", true, false, true)
                    this.scalar(key, own + BEST_INDENT, false)
                    this.indent(own)
                    this.indicator(":", true, false, true)
                }
                this.node((value as Record<string, unknown>)[key], own, true)
            }
            return
        }
        this.scalar(value, indent < 0 ? BEST_INDENT : indent + BEST_INDENT, false)
    }
}

/** go-yaml `yaml_emitter_check_simple_key` for a string key: at most 128 bytes (unquoted) and on one line. */
function isSimpleKey(key: string): boolean {
    if (Buffer.byteLength(key) > 128) return false
    for (const ch of key) if (isBreak(ch.codePointAt(0))) return false
    return true
}

function isLetter(c: string): boolean {
    return /^\p{L}$/u.test(c)
}

/** Go's `unicode.IsDigit` (any decimal digit, Nd). */
function isDigit(c: string | undefined): boolean {
    return c !== undefined && /^\p{Nd}$/u.test(c)
}

/** Go's `rune - '0'`, as `keyList.Less` accumulates digit runs (exact for ASCII digits). */
function digitValue(c: string): bigint {
    return BigInt((c.codePointAt(0) as number) - 48)
}

/** A comparator from go-yaml v2's `keyList.Less` for string keys (sigs.k8s.io/yaml and kubectl's map order). */
export function goKeyCompare(a: string, b: string): number {
    if (a === b) return 0
    return goKeyLess(a, b) ? -1 : goKeyLess(b, a) ? 1 : 0
}

/** go-yaml v2 `keyList.Less` for string keys: letters after other characters, digit runs compared as numbers. */
export function goKeyLess(a: string, b: string): boolean {
    const ar = [...a]
    const br = [...b]
    for (let i = 0; i < ar.length && i < br.length; i++) {
        if (ar[i] === br[i]) continue
        const al = isLetter(ar[i])
        const bl = isLetter(br[i])
        if (al && bl) return (ar[i].codePointAt(0) as number) < (br[i].codePointAt(0) as number)
        if (al || bl) return bl
        let an = 0n
        let bn = 0n
        if (ar[i] === "0" || br[i] === "0") {
            for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
                if (ar[j] !== "0") {
                    an = 1n
                    bn = 1n
                    break
                }
            }
        }
        let ai = i
        for (; ai < ar.length && isDigit(ar[ai]); ai++) an = an * 10n + digitValue(ar[ai])
        let bi = i
        for (; bi < br.length && isDigit(br[bi]); bi++) bn = bn * 10n + digitValue(br[bi])
        if (an !== bn) return an < bn
        if (ai !== bi) return ai < bi
        return (ar[i].codePointAt(0) as number) < (br[i].codePointAt(0) as number)
    }
    return ar.length < br.length
}

/**
 * Go's JSON leaves U+0085 (NEL) unescaped, and go-yaml then reads the JSON string as a YAML double-quoted scalar,
 * where NEL is a line break that folds: a run of spaces and NELs becomes one space (one NEL) or n-1 line feeds.
 */
function foldNel(s: string): string {
    if (!s.includes("\u0085")) return s
    return s.replace(/[ \u0085]*\u0085[ \u0085]*/g, (run) => {
        const n = run.split("\u0085").length - 1
        return n === 1 ? " " : "\n".repeat(n - 1)
    })
}

/**
 * `sigs.k8s.io/yaml.Marshal`: JSON round trip (undefined dropped, `toJSON` honoured), then go-yaml v2 output.
 * @returns one YAML document ending in a newline (no `---`)
 */
export function toKubeYaml(value: unknown): string {
    const json = value === undefined ? null : JSON.parse(JSON.stringify(value), (_k, v) => (typeof v === "string" ? foldNel(v) : v))
    const e = new Emitter()
    e.node(json, -1, false)
    if (e.column > 0) e.putBreak()
    return e.out
}

/** The fields `flux --export` keeps (§3.2), plus a Secret's payload. */
function exportView(obj: KubeObject): Record<string, unknown> {
    const m = obj.metadata
    const metadata: Record<string, unknown> = { name: m.name }
    if (m.namespace !== undefined && m.namespace !== "") metadata.namespace = m.namespace
    if (m.labels !== undefined && Object.keys(m.labels).length > 0) metadata.labels = m.labels
    if (m.annotations !== undefined && Object.keys(m.annotations).length > 0) metadata.annotations = m.annotations
    const view: Record<string, unknown> = { apiVersion: obj.apiVersion, kind: obj.kind, metadata }
    for (const field of obj.kind === "Secret" && obj.apiVersion === "v1" ? ["data", "stringData", "type"] : ["spec"]) {
        if (obj[field] !== undefined) view[field] = obj[field]
    }
    return view
}

/**
 * `flux create … --export` (`printExport`): for each object `---`, its YAML (trimmed), a newline.
 * Only apiVersion, kind, metadata.{name,namespace,labels,annotations} and spec (a Secret: data, stringData, type).
 */
export function exportManifests(objs: readonly KubeObject[]): string {
    return objs.map((o) => `---\n${toKubeYaml(exportView(o)).trim()}\n`).join("")
}

/**
 * Parse multi-document YAML into objects; empty documents are skipped.
 * @throws FormatError for a syntax error or a document that is not a Kubernetes object
 */
export function parseManifests(text: string, file?: string): KubeObject[] {
    const out: KubeObject[] = []
    for (const doc of parseAllDocuments(text)) {
        const err = doc.errors[0]
        if (err !== undefined) {
            const pos = err.linePos?.[0]
            const e = new FormatError(err.message.split("\n")[0], pos === undefined ? undefined : { line: pos.line, column: pos.col })
            throw file === undefined ? e : e.withFile(file)
        }
        const value = doc.toJS({ maxAliasCount: 100 }) as unknown
        if (value === null || value === undefined) continue
        const o = value as Partial<KubeObject>
        if (typeof o !== "object" || Array.isArray(o) || typeof o.apiVersion !== "string" || typeof o.kind !== "string" || typeof o.metadata?.name !== "string") {
            const line = doc.contents?.range === undefined ? undefined : lineOf(text, doc.contents.range[0])
            const e = new FormatError("not a Kubernetes object (apiVersion, kind and metadata.name are required)", line === undefined ? undefined : { line })
            throw file === undefined ? e : e.withFile(file)
        }
        out.push(o as KubeObject)
    }
    return out
}

function lineOf(text: string, offset: number): number {
    let line = 1
    for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++
    return line
}
