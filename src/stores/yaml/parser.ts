/**
 * A YAML reader producing sops trees the way sops 3.13.2 builds them from go.yaml.in/yaml/v3 v3.0.4 nodes: scalar
 * typing, anchors/aliases expanded, comments turned into Comment items in document order.
 *
 * Comment placement: a full-line comment goes into the container whose next entry follows it; when the container
 * ends before the next content, comments indented at least as deep as a closing container (and deeper than the next
 * content) stay in the deepest such container. A comment after a scalar value on the same line is an inline comment
 * placed before its entry.
 */
import { isAscii, isUtf8 } from "node:buffer"
import { FormatError, NonStringKeyError } from "../../errors.js"
import { Branch, Comment, SopsTime, type TreeItem, type TreeValue } from "../../sops/tree.js"
import { hasDisallowedCharacter, positionOfOffset, readerProblem } from "./reader.js"
import { isIndicator, mayResolve, resolvePlain } from "./resolve.js"

/** Node properties (anchor and tag). */
type Props = { readonly anchor?: string; readonly tag?: string }

/** {@link YamlParser.fastPlainValue}'s "use the general path". */
const NOT_FAST: unique symbol = Symbol("not fast")

/** The properties of a node without any (shared, never changed). */
const NO_PROPS: Props = Object.freeze({})

interface PendingComment {
    text: string
    col: number
}

const utf8 = new TextDecoder("utf-8", { fatal: true })
const utf8Lenient = new TextDecoder("utf-8")

type Holder = { kind: "map"; items: TreeItem[] } | { kind: "seq"; items: TreeValue[] }

function isWs(c: number): boolean {
    return c === 32 || c === 9
}

function isEolOrWs(c: number): boolean {
    return c === 32 || c === 9 || c === 10 || c === 13 || Number.isNaN(c)
}

const FLOW_INDICATORS = ",[]{}"

/** Options of {@link YamlParser}. */
export interface YamlParserOptions {
    /** Use the fast path for `key: plain scalar` lines (default true; false is for differential tests). */
    fastPaths?: boolean
}

/** Parse a YAML stream into one branch per document. */
export class YamlParser {
    private readonly src: string
    private pos = 0
    private lineNo = 1
    private lineStart = 0
    private pending: PendingComment[] = []
    private anchors = new Map<string, TreeValue>()
    /** Nodes copied by alias expansion in this document, and where the document starts (see {@link parseAlias}). */
    private aliasNodes = 0
    private docStart = 0
    private docIndex = 0
    /** The key read by the last successful {@link tryKey}, and where it started. */
    private keyValue: TreeValue = null
    private keyPos = 0
    /** The comments found by the last {@link parseMappingValue}/{@link parseInlineValue}. */
    private valueInline: string | undefined
    private valueKeyComment: string | undefined
    /** The comment after the last {@link parseScalarToken}'s scalar. */
    private scalarComment: string | undefined
    /**
     * Set by {@link explicitKey} for the {@link parseBlockMapping} iteration that takes its entry: the key was
     * explicit and has a `:` line ("value") or none ("none", the value is null).
     */
    private explicitEntry: "value" | "none" | undefined

    private readonly fastPaths: boolean

    constructor(input: Uint8Array, options: YamlParserOptions = {}) {
        this.fastPaths = options.fastPaths ?? true
        const buf = Buffer.from(input.buffer, input.byteOffset, input.length)
        // ASCII (the common case, and every encrypted file's bulk) needs no UTF-8 validation nor decoding
        const ascii = isAscii(buf)
        const utf8 = ascii || isUtf8(input)
        let text = buf.toString(ascii ? "latin1" : "utf8")
        // go-yaml's reader refuses invalid UTF-8 and control characters: its problem, where it is (reader.ts)
        if (!utf8 || hasDisallowedCharacter(text)) {
            const found = readerProblem(input)
            if (found !== undefined) throw new FormatError(`yaml: ${found.problem}`, positionOfOffset(input, found.offset))
        }
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
        if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n")
        this.src = text
    }

    private fail(detail: string, pos = this.pos): never {
        // compute line/column of pos
        let line = this.lineNo
        let start = this.lineStart
        if (pos < this.lineStart) {
            line = 1
            start = 0
            for (let i = this.src.indexOf("\n"); i >= 0 && i < pos; i = this.src.indexOf("\n", i + 1)) {
                line++
                start = i + 1
            }
        } else {
            for (let i = this.src.indexOf("\n", start); i >= 0 && i < pos; i = this.src.indexOf("\n", i + 1)) {
                line++
                start = i + 1
            }
        }
        throw new FormatError(`Error unmarshaling input YAML: yaml: line ${line}: ${detail}`, {
            line,
            column: pos - start + 1,
        })
    }

    /** Plain scalar → typed value; errors are reported at `pos`. */
    private plainValue(text: string, pos: number): TreeValue {
        if (!mayResolve(text)) return text
        const r = resolvePlain(text)
        switch (r.kind) {
            case "uint":
                return this.fail(`sops cannot handle the integer ${text}: it does not fit a signed 64-bit integer (uint64)`, pos)
            case "merge":
                return "<<"
            default:
                return r.value
        }
    }

    private code(i = this.pos): number {
        return this.src.charCodeAt(i)
    }

    /** Move to the start of the next line. */
    private nextLine(): void {
        const nl = this.src.indexOf("\n", this.pos)
        if (nl < 0) this.pos = this.src.length
        else {
            this.pos = nl + 1
            this.lineNo++
            this.lineStart = this.pos
        }
    }

    /** Skip spaces/tabs on the current line. */
    private skipWs(): void {
        while (isWs(this.code())) this.pos++
    }

    /**
     * At a line start: skip blank and comment lines (collecting comments) and stop at the first content line,
     * positioned on its first non-space character. Returns its column, or -1 at a document boundary or the end.
     */
    private nextContent(): number {
        if (this.pos > this.lineStart && this.pos < this.src.length) {
            // already positioned on a content line's first token?
            let p = this.lineStart
            while (p < this.pos && this.src.charCodeAt(p) === 32) p++
            if (p === this.pos && this.code() !== 10 && this.code() !== 35) return this.pos - this.lineStart
        }
        for (;;) {
            if (this.pos >= this.src.length) return -1
            const start = this.pos
            while (this.code() === 32) this.pos++
            let c = this.code()
            if (c === 9) {
                // tabs may only follow indentation on blank or comment lines
                this.skipWs()
                c = this.code()
                if (c !== 10 && c !== 35 && !Number.isNaN(c)) this.fail("found character that cannot start any token")
            }
            if (c === 10 || Number.isNaN(c)) {
                this.nextLine()
                continue
            }
            const col = this.pos - start
            if (c === 35) {
                this.addComment(col)
                this.nextLine()
                continue
            }
            if (col === 0 && this.isDocMarker()) return -1
            return col
        }
    }

    private addComment(col: number): void {
        const nl = this.src.indexOf("\n", this.pos)
        const end = nl < 0 ? this.src.length : nl
        let text = this.src.slice(this.pos + 1, end)
        // yaml.v3 keeps the comment text as written, without trailing blanks
        text = text.replace(/[ \t]+$/, "")
        this.pending.push({ text, col })
    }

    private isDocMarker(): boolean {
        const s = this.src
        const p = this.pos
        if (p !== this.lineStart) return false
        const a = s.charCodeAt(p)
        if ((a !== 45 && a !== 46) || s.charCodeAt(p + 1) !== a || s.charCodeAt(p + 2) !== a) return false
        return isEolOrWs(s.charCodeAt(p + 3))
    }

    /** Parse every document. */
    parseStream(): Branch[] {
        const docs: Branch[] = []
        let sawExplicitStart = false
        for (;;) {
            // directives and document markers
            let col = this.nextContent()
            let explicit = false
            while (col === 0 && this.code() === 37 /* % */) {
                // yaml.v3 (like the libyaml it ports) accepts only `%YAML 1.1`
                const version = /^%YAML[ \t]+(\d+)\.(\d+)/.exec(this.src.slice(this.pos, this.pos + 32))
                if (version !== null && (version[1] !== "1" || version[2] !== "1")) this.fail("found incompatible YAML document")
                this.nextLine()
                col = this.nextContent()
            }
            if (col === -1 && this.pos < this.src.length) {
                const marker = this.src[this.pos]
                this.pos += 3
                if (marker === ".") {
                    this.skipRestOfLine(-1)
                    if (this.pending.length > 0 && docs.length > 0) this.flushInto(docs[docs.length - 1].items, "map")
                    continue
                }
                explicit = true
                sawExplicitStart = true
                this.skipWs()
                if (this.code() === 10 || this.code() === 35 || Number.isNaN(this.code())) {
                    this.skipRestOfLine(-1)
                    col = this.nextContent()
                } else {
                    col = this.pos - this.lineStart
                }
            }
            if (col === -1 && !explicit) {
                // end of stream (or a document marker follows)
                if (this.pos >= this.src.length) {
                    if (this.pending.length > 0) {
                        if (docs.length > 0) this.flushInto(docs[docs.length - 1].items, "map")
                        else if (sawExplicitStart || this.pending.length > 0) {
                            const b = new Branch()
                            this.flushInto(b.items, "map")
                            docs.push(b)
                        }
                    }
                    break
                }
                continue
            }
            this.anchors = new Map()
            this.aliasNodes = 0
            this.docStart = this.pos
            const branch = this.parseDocument(col)
            docs.push(branch)
            this.docIndex++
        }
        return docs
    }

    private skipRestOfLine(col: number): void {
        this.skipWs()
        if (this.code() === 35) this.addComment(col < 0 ? this.pos - this.lineStart : col)
        else if (this.code() !== 10 && !Number.isNaN(this.code())) this.fail("did not find expected <document start>")
        this.nextLine()
    }

    private parseDocument(col: number): Branch {
        if (col === -1) {
            // empty document after an explicit start
            const b = new Branch()
            this.flushInto(b.items, "map")
            return b
        }
        const startPos = this.pos
        const value = this.parseBlockNode(col, -1, true)
        // anything left before the next document is an error
        const next = this.nextContent()
        if (next !== -1) this.fail("did not find expected <document start>")
        if (value instanceof Branch) {
            this.flushInto(value.items, "map")
            return value
        }
        if (value === null) {
            const b = new Branch()
            this.flushInto(b.items, "map")
            return b
        }
        if (Array.isArray(value))
            throw new FormatError("Error unmarshaling input YAML: YAML documents that are sequences are not supported", {
                line: this.lineOf(startPos),
            })
        throw new FormatError("Error unmarshaling input YAML: YAML documents that are values are not supported", {
            line: this.lineOf(startPos),
        })
    }

    private lineOf(pos: number): number {
        let line = 1
        for (let i = this.src.indexOf("\n"); i >= 0 && i < pos; i = this.src.indexOf("\n", i + 1)) line++
        return line
    }

    /** Move the pending comments into a container. */
    private flushInto(items: TreeItem[] | TreeValue[], kind: "map" | "seq", minCol = -1): void {
        if (this.pending.length === 0) return
        const keep: PendingComment[] = []
        for (const p of this.pending) {
            if (p.col < minCol) {
                keep.push(p)
                continue
            }
            if (kind === "map") (items as TreeItem[]).push({ key: new Comment(p.text), value: null })
            else (items as TreeValue[]).push(new Comment(p.text))
        }
        this.pending = keep
    }

    /**
     * Parse a block node whose first token is at the current position (column `col`), inside a parent with
     * indentation `parentIndent`. `lineStartNode` tells whether the token starts its line.
     */
    private parseBlockNode(col: number, parentIndent: number, lineStartNode: boolean): TreeValue {
        const props = this.parseProperties()
        if (props.anchor !== undefined || props.tag !== undefined) {
            // properties then the node on the same line or on the following lines
            this.skipWs()
            const c = this.code()
            if (c === 10 || c === 35 || Number.isNaN(c)) {
                if (c === 35) this.addComment(this.pos - this.lineStart)
                this.nextLine()
                const ncol = this.nextContent()
                let v: TreeValue = null
                if (ncol > parentIndent || (ncol === parentIndent && ncol >= 0 && this.isSeqEntry()))
                    v = this.parseBlockNode(ncol, parentIndent, true)
                return this.finishProps(v, props, false)
            }
            // properties in front of a mapping's first key on the same line belong to the key
            const save = this.pos
            if (c !== 42 && c !== 91 && c !== 123 && !this.isSeqEntry() && this.tryKey()) {
                const key = props.tag !== undefined ? this.applyTag(this.keyValue, props.tag) : this.keyValue
                if (props.anchor !== undefined) this.anchors.set(props.anchor, key)
                return this.parseBlockMapping(col, key, parentIndent, save)
            }
            this.pos = save
            const ncol = this.pos - this.lineStart
            const v = this.parseBlockNode(ncol, parentIndent, false)
            return this.finishProps(v, props, true)
        }
        const c = this.code()
        if (c === 45 /* - */ && isEolOrWs(this.code(this.pos + 1))) return this.parseBlockSequence(col)
        if (c === 42 /* * */) {
            const v = this.parseAlias()
            if (this.atMappingColon()) return this.parseBlockMapping(col, v, parentIndent)
            this.endOfScalarLine(null)
            return v
        }
        if (c === 63 /* ? */ && isEolOrWs(this.code(this.pos + 1))) {
            this.explicitKey(col)
            return this.parseBlockMapping(col, this.keyValue, parentIndent, this.keyPos)
        }
        // a key?
        void lineStartNode
        const save = this.pos
        if (this.tryKey()) return this.parseBlockMapping(col, this.keyValue, parentIndent, this.keyPos)
        this.pos = save
        return this.parseBlockScalarValue(parentIndent, undefined)
    }

    private isSeqEntry(): boolean {
        return this.code() === 45 && isEolOrWs(this.code(this.pos + 1))
    }

    private parseProperties(): Props {
        const c0 = this.code()
        if (c0 !== 38 && c0 !== 33) return NO_PROPS
        const out: { anchor?: string; tag?: string } = {}
        for (;;) {
            const c = this.code()
            if (c === 38 /* & */ && out.anchor === undefined) {
                const start = ++this.pos
                while (!isEolOrWs(this.code()) && !FLOW_INDICATORS.includes(this.src[this.pos])) this.pos++
                out.anchor = this.src.slice(start, this.pos)
                if (out.anchor.length === 0) this.fail("did not find expected alphabetic or numeric character")
                this.skipWs()
                continue
            }
            if (c === 33 /* ! */ && out.tag === undefined) {
                const start = this.pos
                while (!isEolOrWs(this.code())) this.pos++
                out.tag = this.src.slice(start, this.pos)
                this.skipWs()
                continue
            }
            return out
        }
    }

    private finishProps(v: TreeValue, props: Props, _sameLine: boolean): TreeValue {
        let value = v
        if (props.tag !== undefined) value = this.applyTag(value, props.tag)
        if (props.anchor !== undefined) this.anchors.set(props.anchor, value)
        return value
    }

    /** The value as yaml.v3 decodes it with an explicit tag. */
    private applyTag(v: TreeValue, tag: string, raw?: string): TreeValue {
        const t = shortTag(tag)
        if (t === "!!binary") {
            const s = typeof v === "string" ? v : (raw ?? "")
            const bytes = Buffer.from(s.replace(/\s+/g, ""), "base64")
            try {
                return utf8.decode(bytes)
            } catch {
                return new Uint8Array(bytes)
            }
        }
        if (t === "!!str") {
            if (raw !== undefined) return raw
            return stringForm(v)
        }
        if (RESOLVABLE_TAGS.has(t)) {
            if (raw !== undefined || typeof v === "string") return this.resolveTagged(raw ?? (v as string), t)
            if (t === "!!float" && typeof v === "bigint") return Number(v)
        }
        return v
    }

    /**
     * yaml.v3's resolution of a scalar with an explicit resolvable tag (`!!int`, `!!float`, `!!bool`, `!!null`,
     * `!!timestamp`), quoted or not: the text is typed as if plain and must give the tag's type (an int is accepted
     * as a float). Otherwise sops fails on the first document (its duplicate-key pre-check decodes it) and yaml.v3
     * leaves the value unset (null) in the others.
     */
    private resolveTagged(text: string, tag: string): TreeValue {
        const r = resolvePlain(text)
        let rtag = `!!${r.kind === "uint" ? "int" : r.kind}`
        // only an untagged or !!timestamp scalar is tried as a timestamp
        if (r.kind === "timestamp" && tag !== "!!timestamp") rtag = "!!str"
        if (rtag === tag) return r.kind === "uint" ? this.plainValue(text, this.pos) : r.value
        if (tag === "!!float" && r.kind === "int") return Number(r.value)
        if (this.docIndex === 0) throw new FormatError(`yaml: cannot decode ${rtag} \`${text}\` as a ${tag}`)
        return null
    }

    private parseAlias(): TreeValue {
        const start = ++this.pos
        while (!isEolOrWs(this.code()) && !FLOW_INDICATORS.includes(this.src[this.pos])) this.pos++
        const name = this.src.slice(start, this.pos)
        const v = this.anchors.get(name)
        if (v === undefined && !this.anchors.has(name)) this.fail(`unknown anchor '${name}' referenced`, start - 1)
        // go-yaml v3's guard against alias bombs: it refuses a document once more than 100 of more than 1000
        // decoded nodes came from alias expansion and their share is above allowedAliasRatio. We count the
        // nodes an alias copies before copying them, and stand in for the nodes read directly with the number of
        // characters read (each node takes at least one), so we refuse no later than go-yaml would: at the
        // latest after about 400,000 copied nodes.
        const size = nodeCount(v as TreeValue)
        this.aliasNodes += size
        const decoded = this.aliasNodes + (this.pos - this.docStart)
        if (this.aliasNodes > 100 && decoded > 1000 && this.aliasNodes / decoded > allowedAliasRatio(decoded)) {
            throw new FormatError("Error unmarshaling input YAML: yaml: document contains excessive aliasing", undefined, {
                hint: "anchors and aliases (&a, *a) expand to far more data than the file holds: expand them by hand",
            })
        }
        const copy = cloneValue(v as TreeValue)
        if (copy !== null && typeof copy === "object") sizes.set(copy, size)
        return copy
    }

    /** After an alias or flow node: is a `:` mapping indicator next on this line? */
    private atMappingColon(): boolean {
        let p = this.pos
        while (isWs(this.code(p))) p++
        return this.code(p) === 58 && isEolOrWs(this.code(p + 1))
    }

    /**
     * Try to read a simple key at the current position: a plain or quoted scalar on this line followed by `:` and a
     * blank. Leaves the position after the colon.
     */
    private tryKey(): boolean {
        const start = this.pos
        const c = this.code()
        if (c === 34 || c === 39) {
            const nl = this.src.indexOf("\n", start)
            const lineEnd = nl < 0 ? this.src.length : nl
            const end = this.findQuoteEnd(start, lineEnd)
            if (end < 0) return false
            let p = end
            while (isWs(this.code(p))) p++
            if (this.code(p) !== 58 || !isEolOrWs(this.code(p + 1))) return false
            const text = this.src.slice(start, end)
            const v = c === 34 ? unescapeDouble(text.slice(1, -1), (d) => this.fail(d, start)) : text.slice(1, -1).replaceAll("''", "'")
            this.pos = p + 1
            this.keyValue = v
            this.keyPos = start
            return true
        }
        if (c === 91 || c === 123) {
            // flow collection used as a key on one line
            const nl = this.src.indexOf("\n", start)
            const lineEnd = nl < 0 ? this.src.length : nl
            const close = this.src.lastIndexOf(c === 91 ? "]" : "}", lineEnd)
            if (close < 0) return false
            let p = close + 1
            while (isWs(this.code(p))) p++
            if (this.code(p) === 58 && isEolOrWs(this.code(p + 1))) this.fail("flow collections as mapping keys are not supported")
            return false
        }
        if (!canStartPlain(this.src, start)) return false
        // scan the plain key on this line
        let p = start
        const s = this.src
        for (;;) {
            const ch = s.charCodeAt(p)
            if (ch === 10 || Number.isNaN(ch)) return false
            if (ch === 58 && isEolOrWs(s.charCodeAt(p + 1))) break
            if (ch === 35 && isWs(s.charCodeAt(p - 1))) return false
            p++
        }
        let end = p
        while (end > start && isWs(s.charCodeAt(end - 1))) end--
        const text = s.slice(start, end)
        this.pos = p + 1
        this.keyValue = this.plainValue(text, start)
        this.keyPos = start
        return true
    }

    private findQuoteEnd(start: number, lineEnd: number): number {
        const q = this.src.charCodeAt(start)
        let p = start + 1
        while (p < lineEnd) {
            const ch = this.src.charCodeAt(p)
            if (q === 34 && ch === 92) {
                p += 2
                continue
            }
            if (ch === q) {
                if (q === 39 && this.src.charCodeAt(p + 1) === 39) {
                    p += 2
                    continue
                }
                return p + 1
            }
            p++
        }
        return -1
    }

    /**
     * An explicit key `? key` at the current position, in a block mapping at column `col` (the form yaml.v3 writes
     * for a key longer than 128 bytes or with a line break). The key is a scalar: plain, quoted, block (`? |`) or an
     * alias, on the `?` line or on the following lines indented deeper; a collection key is refused. Its value
     * follows the `:` at column `col` on a following line; without that line the value is null.
     *
     * Sets {@link keyValue}/{@link keyPos} and {@link explicitEntry}. The comments after `?`, after the key and
     * between the key and the `:` stay pending, so they go before the entry (in document order). Leaves the position
     * after the `:`, or, without a value, on the first token of the next content line.
     */
    private explicitKey(col: number): void {
        const qPos = this.pos
        this.pos++ // the ?
        this.skipWs()
        let c = this.code()
        let key: TreeValue = null
        let keyPos = qPos
        let present = true
        let next = col
        if (c === 10 || c === 35 || Number.isNaN(c)) {
            // the key is on the following lines (or empty)
            if (c === 35) this.pending.push({ text: this.lineComment(), col })
            this.nextLine()
            next = this.nextContent()
            present = next > col
        }
        if (present) {
            keyPos = this.pos
            const props = this.parseProperties()
            c = this.code()
            const complex = () => this.fail("complex mapping keys are not supported", keyPos)
            if (c === 10 || c === 35 || Number.isNaN(c) || c === 91 || c === 123 || this.isSeqEntry()) complex()
            let inline: string | undefined
            if (c === 124 || c === 62) {
                const r = this.parseBlockScalar(col)
                key = props.tag !== undefined ? this.applyTag(r.value, props.tag, r.value) : r.value
                inline = r.comment
            } else if (c === 42) {
                key = this.parseAlias()
                if (this.atMappingColon()) complex()
                inline = this.endOfScalarLine(null)
            } else {
                const save = this.pos
                if (this.tryKey()) complex()
                this.pos = save
                key = this.parseScalarToken(col, props.tag)
                inline = this.scalarComment
            }
            if (props.anchor !== undefined) this.anchors.set(props.anchor, key)
            if (inline !== undefined) this.pending.push({ text: inline, col })
            next = this.nextContent()
        }
        this.keyValue = key
        this.keyPos = keyPos
        // the value: ":" at the key's column on a following line
        const hasValue = next === col && this.code() === 58 && isEolOrWs(this.code(this.pos + 1))
        if (hasValue) this.pos++
        this.explicitEntry = hasValue ? "value" : "none"
    }

    /** Parse a block mapping whose first key was read (position after its colon). */
    private parseBlockMapping(col: number, firstKey: TreeValue, _parentIndent: number, firstKeyPos = this.pos): Branch {
        const items: TreeItem[] = []
        const seen = this.docIndex === 0 ? new Map<string, number>() : undefined
        let key: TreeValue = firstKey
        let keyPos = firstKeyPos
        for (;;) {
            // comments collected before this key belong here
            this.flushInto(items, "map")
            const keyStr = this.keyString(key, keyPos)
            if (seen !== undefined) {
                const prev = seen.get(keyStr)
                if (prev !== undefined) {
                    const line = this.lineOf(keyPos)
                    throw new FormatError(
                        `yaml: unmarshal errors:\n  line ${line}: mapping key "${keyStr}" already defined at line ${this.lineOf(prev)}`,
                        { line, column: keyPos - this.lineStartOf(keyPos) + 1 },
                    )
                }
                seen.set(keyStr, keyPos)
            }
            const explicit = this.explicitEntry
            this.explicitEntry = undefined
            const fast = explicit === "none" ? null : this.fastPaths ? this.fastPlainValue(col) : NOT_FAST
            if (fast !== NOT_FAST) items.push({ key: keyStr, value: fast })
            else {
                const index = items.length
                const value = this.parseMappingValue(col)
                const inline = this.valueInline
                let keyComment = this.valueKeyComment
                if (keyComment !== undefined && explicit !== undefined) {
                    // yaml.v3 writes the head comment of an explicit key's collection value after the `:`
                    if (value instanceof Branch) {
                        value.items.unshift({ key: new Comment(keyComment), value: null })
                        keyComment = undefined
                    } else if (Array.isArray(value)) {
                        value.unshift(new Comment(keyComment))
                        keyComment = undefined
                    }
                }
                if (keyComment !== undefined) items.push({ key: new Comment(keyComment), value: null })
                const at = keyComment !== undefined ? index + 1 : index
                if (inline !== undefined) items.splice(at, 0, { key: new Comment(inline, true), value: null })
                items.push({ key: keyStr, value })
            }
            // next entry?
            const next = this.nextContent()
            if (next !== col || this.isSeqEntry()) {
                // closing: comments at least this deep (and deeper than what follows) stay here
                if (next < col) this.flushDeep(items, col, next)
                if (next > col) this.fail("did not find expected key")
                break
            }
            keyPos = this.pos
            const c = this.code()
            if (c === 42) {
                key = this.parseAlias()
                this.skipWs()
                if (this.code() !== 58) this.fail("could not find expected ':'")
                this.pos++
                continue
            }
            if (c === 63 && isEolOrWs(this.code(this.pos + 1))) {
                this.explicitKey(col)
                key = this.keyValue
                keyPos = this.keyPos
                continue
            }
            const props = this.parseProperties()
            if (!this.tryKey()) this.fail("could not find expected ':'")
            key = props.tag !== undefined ? this.applyTag(this.keyValue, props.tag) : this.keyValue
            if (props.anchor !== undefined) this.anchors.set(props.anchor, key)
        }
        return new Branch(items)
    }

    private lineStartOf(pos: number): number {
        return this.src.lastIndexOf("\n", pos - 1) + 1
    }

    private flushDeep(items: TreeItem[] | TreeValue[], col: number, next: number): void {
        if (this.pending.length === 0) return
        const keep: PendingComment[] = []
        let taking = true
        for (const p of this.pending) {
            if (taking && p.col >= col && p.col > next) {
                if (Array.isArray(items) && (items.length === 0 || !isTreeItem(items[0]))) {
                    // list
                }
                pushComment(items, p.text)
            } else {
                taking = false
                keep.push(p)
            }
        }
        this.pending = keep
    }

    private keyString(key: TreeValue, pos: number): string {
        if (typeof key === "string") return key
        const type =
            typeof key === "bigint"
                ? "int"
                : typeof key === "number"
                  ? "float64"
                  : typeof key === "boolean"
                    ? "bool"
                    : key === null
                      ? "<nil>"
                      : key instanceof SopsTime
                        ? "time.Time"
                        : key instanceof Uint8Array
                          ? "[]uint8"
                          : key instanceof Branch
                            ? "map"
                            : "[]interface {}"
        throw new NonStringKeyError(`Tree contains a non-string key (type ${type})`, {
            line: this.lineOf(pos),
            column: pos - this.lineStartOf(pos) + 1,
        })
    }

    /**
     * The value after `key:` (position right after the colon). Returns the value, the inline comment of a scalar
     * value and the comment that sits after the colon of a key whose value is on the next lines.
     */
    private parseMappingValue(col: number): TreeValue {
        this.skipWs()
        const c = this.code()
        if (c === 10 || c === 35 || Number.isNaN(c)) {
            let keyComment: string | undefined
            if (c === 35) keyComment = this.lineComment()
            this.nextLine()
            const ncol = this.nextContent()
            let v: TreeValue = null
            if (ncol > col || (ncol === col && this.isSeqEntry())) v = this.parseBlockNode(ncol, col, true)
            this.valueInline = undefined
            this.valueKeyComment = keyComment
            return v
        }
        return this.parseInlineValue(col)
    }

    /**
     * The fast path of {@link parseMappingValue} for the most common line shape, `key: plain scalar` with nothing
     * else on the line and no continuation line. Returns NOT_FAST (position unchanged) for anything else.
     */
    private fastPlainValue(col: number): TreeValue | typeof NOT_FAST {
        const s = this.src
        let p = this.pos
        if (s.charCodeAt(p) !== 32) return NOT_FAST
        p++
        while (s.charCodeAt(p) === 32) p++
        const start = p
        const c = s.charCodeAt(p)
        if (c === 9 || !canStartPlain(s, p)) return NOT_FAST
        for (;;) {
            const ch = s.charCodeAt(p)
            if (ch === 10 || Number.isNaN(ch)) break
            if (ch === 58) {
                const n = s.charCodeAt(p + 1)
                if (n === 32 || n === 9 || n === 10 || Number.isNaN(n)) return NOT_FAST
            } else if (ch === 35) {
                const b = s.charCodeAt(p - 1)
                if (b === 32 || b === 9) return NOT_FAST
            }
            p++
        }
        const eol = p
        if (eol < s.length) {
            // a continuation line is one indented deeper than the key; blank lines need the general path
            let q = eol + 1
            while (s.charCodeAt(q) === 32) q++
            const indent = q - eol - 1
            while (isWs(s.charCodeAt(q))) q++
            const n = s.charCodeAt(q)
            if (n === 10) return NOT_FAST
            if (indent > col && !Number.isNaN(n) && n !== 35) return NOT_FAST
        }
        let end = eol
        while (isWs(s.charCodeAt(end - 1))) end--
        this.pos = end
        const value = this.plainValue(s.slice(start, end), end)
        this.pos = eol
        return value
    }

    private lineComment(): string {
        const nl = this.src.indexOf("\n", this.pos)
        const end = nl < 0 ? this.src.length : nl
        const text = this.src.slice(this.pos + 1, end).replace(/[ \t]+$/, "")
        this.pos = end
        return text
    }

    /**
     * A node that starts after `key: ` or `- ` on the same line. `indent` is the indentation of the owning entry.
     */
    private parseInlineValue(indent: number): TreeValue {
        const props = this.parseProperties()
        let c = this.code()
        if (props.anchor !== undefined || props.tag !== undefined) {
            if (c === 10 || c === 35 || Number.isNaN(c)) {
                let keyComment: string | undefined
                if (c === 35) keyComment = this.lineComment()
                this.nextLine()
                const ncol = this.nextContent()
                let v: TreeValue = null
                if (ncol > indent || (ncol === indent && this.isSeqEntry())) v = this.parseBlockNode(ncol, indent, true)
                const value = this.finishProps(v, props, false)
                this.valueInline = undefined
                this.valueKeyComment = keyComment
                return value
            }
            c = this.code()
        }
        let value: TreeValue
        let inline: string | undefined
        if (c === 124 || c === 62) {
            const r = this.parseBlockScalar(indent)
            value = props.tag !== undefined ? this.applyTag(r.value, props.tag, r.value) : r.value
            inline = r.comment
        } else if (c === 42) {
            value = this.parseAlias()
            inline = this.endOfScalarLine(null)
        } else if (c === 91 || c === 123) {
            value = this.parseFlow()
            if (props.tag !== undefined) value = this.applyTag(value, props.tag)
            inline = this.endOfScalarLine(null)
        } else if (c === 63 && isEolOrWs(this.code(this.pos + 1)) && props.anchor === undefined && props.tag === undefined) {
            // a mapping with an explicit first key can start on the "- " (or explicit value's ": ") line
            const kcol = this.pos - this.lineStart
            if (kcol <= indent) this.fail("mapping values are not allowed in this context")
            this.explicitKey(kcol)
            const m = this.parseBlockMapping(kcol, this.keyValue, indent, this.keyPos)
            this.valueInline = undefined
            this.valueKeyComment = undefined
            return m
        } else if (c === 45 && isEolOrWs(this.code(this.pos + 1)) && props.anchor === undefined && props.tag === undefined) {
            // "- " after "key: " on the same line is not allowed; after "- " it is a nested sequence
            value = this.parseBlockSequence(this.pos - this.lineStart)
        } else {
            // a mapping can start on the "- " line: "- key: value"
            const save = this.pos
            const saveLine = this.lineNo
            const saveLs = this.lineStart
            if (this.tryKey()) {
                const kcol = save - this.lineStart
                if (kcol <= indent) this.fail("mapping values are not allowed in this context")
                const kv = this.keyValue
                const m = this.parseBlockMapping(kcol, props.tag !== undefined ? this.applyTag(kv, props.tag) : kv, indent, save)
                // properties in front of a block mapping's first key belong to the key when on the same line
                this.valueInline = undefined
                this.valueKeyComment = undefined
                return m
            }
            this.pos = save
            this.lineNo = saveLine
            this.lineStart = saveLs
            value = this.parseScalarToken(indent, props.tag)
            inline = this.scalarComment
        }
        if (props.anchor !== undefined) this.anchors.set(props.anchor, value)
        this.valueInline = inline
        this.valueKeyComment = undefined
        return value
    }

    /** After a complete scalar/flow node: the rest of the line must be blank or a comment. */
    private endOfScalarLine(_v: TreeValue): string | undefined {
        this.skipWs()
        const c = this.code()
        if (c === 35) return this.lineComment()
        if (c === 58 && isEolOrWs(this.code(this.pos + 1))) this.fail("mapping values are not allowed in this context")
        if (c !== 10 && !Number.isNaN(c)) this.fail("did not find expected key")
        return undefined
    }

    private parseBlockScalarValue(parentIndent: number, tag: string | undefined): TreeValue {
        const c = this.code()
        if (c === 124 || c === 62) {
            const r = this.parseBlockScalar(parentIndent)
            if (r.comment !== undefined) this.pending.push({ text: r.comment, col: 0 })
            return r.value
        }
        if (c === 91 || c === 123) {
            const v = this.parseFlow()
            this.endOfScalarLine(v)
            return v
        }
        const value = this.parseScalarToken(parentIndent, tag)
        if (this.scalarComment !== undefined) this.pending.push({ text: this.scalarComment, col: 0 })
        return value
    }

    /** A plain or quoted scalar (possibly multi-line), then the rest of its last line. */
    private parseScalarToken(indent: number, tag: string | undefined): TreeValue {
        const c = this.code()
        let value: TreeValue
        if (c === 34 || c === 39) {
            const text = this.parseQuoted(indent)
            value = tag !== undefined ? this.applyTag(text, tag, text) : text
        } else {
            if (!canStartPlain(this.src, this.pos)) this.fail("found character that cannot start any token")
            const text = this.parsePlainMultiline(indent)
            value = tag !== undefined ? this.tagPlain(text, tag) : this.plainValue(text, this.pos)
        }
        this.scalarComment = this.endOfScalarLine(value)
        return value
    }

    /** A plain scalar with a tag: `!!binary` is decoded, resolvable tags type it, any other tag keeps the text. */
    private tagPlain(text: string, tag: string): TreeValue {
        const t = shortTag(tag)
        if (t === "!!binary") return this.applyTag(text, tag, text)
        if (RESOLVABLE_TAGS.has(t)) return this.resolveTagged(text, t)
        return text
    }

    /** A plain scalar starting here; continuation lines must be indented more than `indent`. */
    private parsePlainMultiline(indent: number): string {
        const s = this.src
        let text = this.plainOnLine()
        // continuation lines
        for (;;) {
            // trailing blanks before the line break do not end the scalar
            let e = this.pos
            while (isWs(s.charCodeAt(e))) e++
            if (s.charCodeAt(e) !== 10) break
            // look ahead
            let p = e + 1
            let emptyLines = 0
            let lineStart = p
            let col = 0
            for (;;) {
                lineStart = p
                while (s.charCodeAt(p) === 32) p++
                col = p - lineStart
                while (isWs(s.charCodeAt(p))) p++
                const ch = s.charCodeAt(p)
                if (ch === 10) {
                    emptyLines++
                    p++
                    continue
                }
                break
            }
            const ch = s.charCodeAt(p)
            if (Number.isNaN(ch) || col <= indent || ch === 35) break
            if (col === 0 && isDocMarkerAt(s, lineStart)) break
            // a continuation line must not look like a key or entry at a lower level; it is plain text
            if ((ch === 45 || ch === 63 || ch === 58) && isEolOrWs(s.charCodeAt(p + 1)) && col <= indent) break
            // move there
            for (let i = this.pos; i < p; i++) if (s.charCodeAt(i) === 10) this.lineNo++
            this.lineStart = lineStart
            this.pos = p
            const more = this.plainOnLine()
            if (more.length === 0) break
            text += emptyLines > 0 ? "\n".repeat(emptyLines) + more : ` ${more}`
        }
        return text
    }

    /** The plain scalar text on the current line (stops at `: `, ` #`, end of line). */
    private plainOnLine(): string {
        const s = this.src
        const start = this.pos
        let p = start
        for (;;) {
            const ch = s.charCodeAt(p)
            if (ch === 10 || Number.isNaN(ch)) break
            if (ch === 58 && isEolOrWs(s.charCodeAt(p + 1))) break
            if (ch === 35 && p > start && isWs(s.charCodeAt(p - 1))) break
            p++
        }
        let end = p
        while (end > start && isWs(s.charCodeAt(end - 1))) end--
        this.pos = end
        return s.slice(start, end)
    }

    /** A single- or double-quoted scalar, possibly spanning lines. */
    private parseQuoted(indent: number): string {
        const s = this.src
        const q = s.charCodeAt(this.pos)
        const start = this.pos
        // fast path: closes on this line
        const nl = s.indexOf("\n", start)
        const lineEnd = nl < 0 ? s.length : nl
        const end = this.findQuoteEnd(start, lineEnd)
        if (end > 0) {
            this.pos = end
            const body = s.slice(start + 1, end - 1)
            return q === 34 ? unescapeDouble(body, (d) => this.fail(d, start)) : body.replaceAll("''", "'")
        }
        // multi-line: collect raw text up to the closing quote
        let p = start + 1
        for (;;) {
            const ch = s.charCodeAt(p)
            if (Number.isNaN(ch)) this.fail(q === 34 ? "found unexpected end of stream" : "found unexpected end of stream", start)
            if (q === 34 && ch === 92) {
                p += 2
                continue
            }
            if (ch === q) {
                if (q === 39 && s.charCodeAt(p + 1) === 39) {
                    p += 2
                    continue
                }
                break
            }
            p++
        }
        const raw = s.slice(start + 1, p)
        for (let i = start; i < p; i++) {
            if (s.charCodeAt(i) === 10) {
                this.lineNo++
                this.lineStart = i + 1
            }
        }
        this.pos = p + 1
        void indent
        const lines = raw.split("\n")
        let out = ""
        for (let i = 0; i < lines.length; i++) {
            let line = lines[i]
            if (i > 0) line = line.replace(/^[ \t]+/, "")
            // a trailing backslash escapes the line break in double quotes
            const escapedBreak = q === 34 && i < lines.length - 1 && /(^|[^\\])(\\\\)*\\$/.test(line)
            if (i < lines.length - 1 && !escapedBreak) line = line.replace(/[ \t]+$/, "")
            const piece = q === 34 ? unescapeDouble(escapedBreak ? line.slice(0, -1) : line, (d) => this.fail(d, start)) : line.replaceAll("''", "'")
            if (i === 0) out = piece
            else if (escapedBreak) out += piece
            else out += piece
            if (i < lines.length - 1) {
                if (escapedBreak) continue
                // folding: an empty line is a newline, otherwise a space
                let j = i + 1
                let empties = 0
                while (j < lines.length - 1 && lines[j].trim() === "") {
                    empties++
                    j++
                }
                out += empties > 0 ? "\n".repeat(empties) : " "
                i += empties
            }
        }
        return out
    }

    /** `|` or `>` block scalar; `indent` is the indentation of the owning entry. */
    private parseBlockScalar(indent: number): { value: string; comment?: string } {
        const s = this.src
        const literal = s.charCodeAt(this.pos) === 124
        this.pos++
        let chomp = "clip"
        let explicit = 0
        for (let k = 0; k < 2; k++) {
            const ch = s.charCodeAt(this.pos)
            if (ch === 45 || ch === 43) {
                chomp = ch === 45 ? "strip" : "keep"
                this.pos++
            } else if (ch >= 49 && ch <= 57) {
                explicit = ch - 48
                this.pos++
            }
        }
        let comment: string | undefined
        this.skipWs()
        if (this.code() === 35) comment = this.lineComment()
        else if (this.code() !== 10 && !Number.isNaN(this.code())) this.fail("did not find expected comment or line break")
        const base = Math.max(indent , 0)
        // collect lines
        let contentIndent = explicit > 0 ? base + explicit : -1
        if (indent < 0 && explicit > 0) contentIndent = explicit
        const lines: string[] = []
        let p = this.pos === s.length ? s.length : this.pos + 1
        let lastPos = this.pos
        let maxLeading = 0
        while (p < s.length) {
            const ls = p
            let q = p
            while (s.charCodeAt(q) === 32) q++
            const nl0 = s.indexOf("\n", q)
            const le = nl0 < 0 ? s.length : nl0
            const blank = q === le || (s.slice(q, le).trim() === "" && !s.slice(q, le).includes("\t") ? true : /^[ \t]*$/.test(s.slice(q, le)) && q - ls < (contentIndent < 0 ? Number.MAX_SAFE_INTEGER : contentIndent))
            const col = q - ls
            if (contentIndent < 0) {
                if (q === le) {
                    maxLeading = Math.max(maxLeading, col)
                    lines.push("")
                    p = le + 1
                    lastPos = le
                    continue
                }
                if (col <= indent || (indent < 0 && col === 0 && isDocMarkerAt(s, ls))) break
                contentIndent = Math.max(col, indent + 1)
                if (maxLeading > contentIndent) this.fail("found a tab character where an indentation space is expected")
            }
            if (q === le && col <= contentIndent) {
                lines.push("")
            } else if (blank && col < contentIndent) {
                lines.push("")
            } else {
                if (col < contentIndent) break
                if (col === 0 && isDocMarkerAt(s, ls)) break
                lines.push(s.slice(ls + contentIndent, le))
            }
            lastPos = le
            p = le + 1
        }
        // trailing empty lines that belong to the scalar (for keep) vs. the document
        let n = lines.length
        let trailing = 0
        while (n > 0 && lines[n - 1] === "") {
            n--
            trailing++
        }
        const body = lines.slice(0, n)
        // move the cursor to the end of the last consumed line
        const consumedEnd = lastPos
        for (let i = this.pos; i < consumedEnd && i < s.length; i++) {
            if (s.charCodeAt(i) === 10) {
                this.lineNo++
                this.lineStart = i + 1
            }
        }
        this.pos = Math.min(consumedEnd, s.length)
        let text: string
        if (literal) text = body.join("\n")
        else text = foldLines(body)
        if (body.length === 0) {
            text = ""
            if (chomp === "keep") text = "\n".repeat(trailing)
            return { value: text, comment }
        }
        if (chomp === "strip") return { value: text, comment }
        if (chomp === "clip") return { value: `${text}\n`, comment }
        return { value: text + "\n".repeat(trailing + 1), comment }
    }

    /** A block sequence whose first `-` is at the current position. */
    private parseBlockSequence(col: number): TreeValue[] {
        const items: TreeValue[] = []
        for (;;) {
            this.flushInto(items, "seq")
            this.pos++ // the dash
            this.skipWs()
            const c = this.code()
            if (c === 10 || c === 35 || Number.isNaN(c)) {
                let comment: string | undefined
                if (c === 35) comment = this.lineComment()
                this.nextLine()
                const ncol = this.nextContent()
                if (comment !== undefined) items.push(new Comment(comment, true))
                if (ncol > col) {
                    items.push(this.parseBlockNode(ncol, col, true))
                } else items.push(null)
            } else {
                const value = this.parseInlineValue(col)
                if (this.valueKeyComment !== undefined) items.push(new Comment(this.valueKeyComment, true))
                if (this.valueInline !== undefined) items.push(new Comment(this.valueInline, true))
                items.push(value)
            }
            const next = this.nextContent()
            if (next === col && this.isSeqEntry()) continue
            if (next < col) this.flushDeep(items, col, next)
            else if (next > col) this.fail("did not find expected '-' indicator")
            break
        }
        return items
    }

    /** A flow collection starting at `[` or `{` (may span lines). */
    private parseFlow(): TreeValue {
        const open = this.code()
        this.pos++
        if (open === 91) {
            const out: TreeValue[] = []
            for (;;) {
                this.flowSkip()
                if (this.code() === 93) {
                    this.pos++
                    return out
                }
                const item = this.flowNode()
                this.flowSkip()
                if (this.code() === 58) {
                    this.pos++
                    this.flowSkip()
                    const v = this.code() === 44 || this.code() === 93 ? null : this.flowNode()
                    out.push(new Branch([{ key: this.keyString(item, this.pos), value: v }]))
                    this.flowSkip()
                } else out.push(item)
                const c = this.code()
                if (c === 44) {
                    this.pos++
                    continue
                }
                if (c === 93) {
                    this.pos++
                    return out
                }
                this.fail("did not find expected ',' or ']'")
            }
        }
        const items: TreeItem[] = []
        for (;;) {
            this.flowSkip()
            if (this.code() === 125) {
                this.pos++
                return new Branch(items)
            }
            const kpos = this.pos
            const k = this.flowNode()
            this.flowSkip()
            let v: TreeValue = null
            if (this.code() === 58) {
                this.pos++
                this.flowSkip()
                if (this.code() !== 44 && this.code() !== 125) v = this.flowNode()
                this.flowSkip()
            }
            items.push({ key: this.keyString(k, kpos), value: v })
            const c = this.code()
            if (c === 44) {
                this.pos++
                continue
            }
            if (c === 125) {
                this.pos++
                return new Branch(items)
            }
            this.fail("did not find expected ',' or '}'")
        }
    }

    /** Skip blanks, line breaks and comments inside a flow collection. */
    private flowSkip(): void {
        for (;;) {
            const c = this.code()
            if (c === 32 || c === 9) this.pos++
            else if (c === 10) {
                this.pos++
                this.lineNo++
                this.lineStart = this.pos
            } else if (c === 35) {
                this.addComment(this.pos - this.lineStart)
                const nl = this.src.indexOf("\n", this.pos)
                this.pos = nl < 0 ? this.src.length : nl
            } else if (Number.isNaN(c)) this.fail("did not find expected ',' or ']'")
            else return
        }
    }

    private flowNode(): TreeValue {
        const props = this.parseProperties()
        const c = this.code()
        let v: TreeValue
        if (c === 91 || c === 123) v = this.parseFlow()
        else if (c === 42) v = this.parseAlias()
        else if (c === 34 || c === 39) {
            const text = this.parseQuoted(-1)
            v = props.tag !== undefined ? this.applyTag(text, props.tag, text) : text
        } else {
            const s = this.src
            const start = this.pos
            let p = start
            let text = ""
            for (;;) {
                const ch = s.charCodeAt(p)
                if (Number.isNaN(ch) || ch === 44 || ch === 91 || ch === 93 || ch === 123 || ch === 125) break
                if (ch === 58 && (isEolOrWs(s.charCodeAt(p + 1)) || ",[]{}".includes(s[p + 1] ?? ""))) break
                if (ch === 35 && p > start && isWs(s.charCodeAt(p - 1))) break
                if (ch === 10) {
                    this.lineNo++
                    this.lineStart = p + 1
                }
                p++
            }
            text = s
                .slice(start, p)
                .split("\n")
                .map((l) => l.trim())
                .filter((l, i, a) => l.length > 0 || (i > 0 && i < a.length - 1))
                .join(" ")
            this.pos = p
            v = props.tag !== undefined ? this.tagPlain(text, props.tag) : this.plainValue(text, start)
        }
        if (props.tag !== undefined && (c === 91 || c === 123 || c === 42)) v = this.applyTag(v, props.tag)
        if (props.anchor !== undefined) this.anchors.set(props.anchor, v)
        return v
    }
}

/** The tags yaml.v3 resolves a scalar's text against (besides `!!str`). */
const RESOLVABLE_TAGS = new Set(["!!int", "!!float", "!!bool", "!!null", "!!timestamp"])

/** `!<tag:yaml.org,2002:x>` → `!!x`; other tags unchanged. */
function shortTag(tag: string): string {
    const long = "!<tag:yaml.org,2002:"
    return tag.startsWith(long) && tag.endsWith(">") ? `!!${tag.slice(long.length, -1)}` : tag
}

function isTreeItem(x: unknown): boolean {
    return typeof x === "object" && x !== null && "key" in x && "value" in x && !(x instanceof Branch)
}

function pushComment(items: TreeItem[] | TreeValue[], text: string): void {
    // a map's items are TreeItems, a list's are values; an empty container is told apart by the caller's kind
    const arr = items as unknown[]
    if (arr.length > 0 && isTreeItem(arr[0])) (items as TreeItem[]).push({ key: new Comment(text), value: null })
    else if (arr.length > 0) (items as TreeValue[]).push(new Comment(text))
    else (items as TreeItem[]).push({ key: new Comment(text), value: null })
}

function isDocMarkerAt(s: string, p: number): boolean {
    const a = s.charCodeAt(p)
    if ((a !== 45 && a !== 46) || s.charCodeAt(p + 1) !== a || s.charCodeAt(p + 2) !== a) return false
    return isEolOrWs(s.charCodeAt(p + 3))
}

function canStartPlain(s: string, p: number): boolean {
    const c = s.charCodeAt(p)
    if (isIndicator(c)) return false
    switch (c) {
        case 45:
        case 63:
        case 58:
            return !isEolOrWs(s.charCodeAt(p + 1))
        default:
            return !(c === 10 || Number.isNaN(c))
    }
}

/** Folded block scalar body: lines joined by spaces, except around empty and more-indented lines. */
function foldLines(lines: string[]): string {
    let out = ""
    let prevMore = true
    let pendingBreaks = 0
    let started = false
    for (const line of lines) {
        if (line === "") {
            pendingBreaks++
            continue
        }
        const more = line[0] === " " || line[0] === "\t"
        if (started) {
            if (pendingBreaks === 0) out += prevMore || more ? "\n" : " "
            else out += "\n".repeat(prevMore || more ? pendingBreaks + 1 : pendingBreaks)
        } else out += "\n".repeat(pendingBreaks)
        out += line
        pendingBreaks = 0
        started = true
        prevMore = more
    }
    return out
}


function stringForm(v: TreeValue): string {
    if (typeof v === "string") return v
    if (v === null) return ""
    if (v instanceof SopsTime) return v.text
    return String(v)
}

/** Share of alias-expanded nodes go-yaml v3 allows: 99% up to 400,000 decoded nodes, then down to 10% at 4,000,000. */
export function allowedAliasRatio(decoded: number): number {
    const low = 400_000
    const high = 4_000_000
    if (decoded <= low) return 0.99
    if (decoded >= high) return 0.1
    return 0.99 - ((0.99 - 0.1) * (decoded - low)) / (high - low)
}

/** Nodes in a value (a mapping counts itself, each key and each value's nodes), cached for collections. */
const sizes = new WeakMap<object, number>()
function nodeCount(v: TreeValue): number {
    if (v === null || typeof v !== "object" || !(v instanceof Branch || Array.isArray(v))) return 1
    const known = sizes.get(v)
    if (known !== undefined) return known
    let n = 1
    if (v instanceof Branch) for (const item of v.items) n += 1 + nodeCount(item.value)
    else for (const e of v) n += nodeCount(e)
    sizes.set(v, n)
    return n
}

/** Deep copy of a value (aliases are expanded into independent copies). */
export function cloneValue(v: TreeValue): TreeValue {
    if (v instanceof Branch) return new Branch(v.items.map((i) => ({ key: i.key, value: cloneValue(i.value) })))
    if (Array.isArray(v)) return v.map(cloneValue)
    return v
}

function unescapeDouble(body: string, fail: (d: string) => never): string {
    if (!body.includes("\\")) return body
    let out = ""
    for (let i = 0; i < body.length; i++) {
        const ch = body[i]
        if (ch !== "\\") {
            out += ch
            continue
        }
        const e = body[++i]
        switch (e) {
            case "0":
                out += "\0"
                break
            case "a":
                out += "\x07"
                break
            case "b":
                out += "\b"
                break
            case "t":
            case "\t":
                out += "\t"
                break
            case "n":
                out += "\n"
                break
            case "v":
                out += "\v"
                break
            case "f":
                out += "\f"
                break
            case "r":
                out += "\r"
                break
            case "e":
                out += "\x1b"
                break
            case " ":
                out += " "
                break
            case '"':
                out += '"'
                break
            case "\\":
                out += "\\"
                break
            case "N":
                out += "\u0085"
                break
            case "_":
                out += "\u00a0"
                break
            case "L":
                out += "\u2028"
                break
            case "P":
                out += "\u2029"
                break
            case "x":
            case "u":
            case "U": {
                const len = e === "x" ? 2 : e === "u" ? 4 : 8
                const hex = body.slice(i + 1, i + 1 + len)
                if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len)
                    fail("did not find expected hexdecimal number")
                const cp = Number.parseInt(hex, 16)
                if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) fail("found invalid Unicode character escape code")
                out += String.fromCodePoint(cp)
                i += len
                break
            }
            default:
                fail("found unknown escape character while parsing a quoted scalar")
        }
    }
    return out
}

/** Decode bytes leniently (for messages). */
export function lenientText(b: Uint8Array): string {
    return utf8Lenient.decode(b)
}

/** Placeholder so the holder type is used by tooling. */
export type { Holder }
