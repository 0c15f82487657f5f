/**
 * A YAML writer that reproduces, byte for byte, what sops 3.13.2 prints: its tree → yaml.v3 node conversion (where
 * comments become head/line/foot comments of nodes) followed by the yaml.v3 emitter's layout rules (indentation,
 * scalar style selection, comment placement, including its pending-comment registers).
 */
import { formatFloat } from "../../sops/go-format.js"
import { Branch, Comment, SopsTime, type TreeValue } from "../../sops/tree.js"
import { canUsePlain, isIndicator } from "./resolve.js"

const PLAIN = 1
const SINGLE = 2
const DOUBLE = 3
const LITERAL = 4

/** How the node being written is placed. */
const CTX_DOC = 0
const CTX_SEQ = 1
const CTX_VALUE = 2
const CTX_KEY = 3

/** A scalar as yaml.v3 would encode it: text, requested style, optional explicit tag. */
interface ScalarRep {
    text: string
    style: number
    tag: string
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

function scalarRep(v: TreeValue): ScalarRep {
    switch (typeof v) {
        case "string":
            return { text: v, style: stringStyle(v), tag: "" }
        case "bigint":
            return { text: v.toString(), style: PLAIN, tag: "" }
        case "number": {
            let s = formatFloat(v, "g")
            if (s === "+Inf") s = ".inf"
            else if (s === "-Inf") s = "-.inf"
            else if (s === "NaN") s = ".nan"
            return { text: s, style: PLAIN, tag: "" }
        }
        case "boolean":
            return { text: v ? "true" : "false", style: PLAIN, tag: "" }
        default:
            break
    }
    if (v === null) return { text: "null", style: PLAIN, tag: "" }
    if (v instanceof SopsTime) return { text: v.text, style: PLAIN, tag: "" }
    if (v instanceof Uint8Array) {
        try {
            const s = utf8Decoder.decode(v)
            return { text: s, style: stringStyle(s), tag: "" }
        } catch {
            const b64 = Buffer.from(v).toString("base64")
            const lines: string[] = []
            for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70))
            const text = lines.length > 1 ? `${lines.join("\n")}\n` : b64
            return { text, style: text.includes("\n") ? LITERAL : PLAIN, tag: "!!binary" }
        }
    }
    if (v instanceof Comment) return { text: v.value, style: stringStyle(v.value), tag: "" }
    throw new Error("yaml emitter: unexpected value")
}

function stringStyle(s: string): number {
    if (s.includes("\n")) return LITERAL
    return canUsePlain(s) ? PLAIN : DOUBLE
}

/** The results of {@link analyze}, as bit flags. */
const A_MULTILINE = 1
const A_BLOCK_PLAIN = 2
const A_SINGLE = 4
const A_BLOCK = 8

function isBreakCode(c: number): boolean {
    return c === 10 || c === 13 || c === 0x85 || c === 0x2028 || c === 0x2029
}

/** yaml.v3's "printable without escaping" set, by code point (its UTF-8 byte test, restated). */
function isPrintable(c: number): boolean {
    return (
        c === 10 ||
        (c >= 0x20 && c <= 0x7e) ||
        (c >= 0xa0 && c <= 0xd7ff) ||
        (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff)
    )
}

const SAFE_PLAIN = /^[A-Za-z0-9_/.=+$^()<;~\\][A-Za-z0-9_/.=+@$%^&()<>;~\\[\],:!*'"`|{}?-]*$/

function analyze(s: string): number {
    if (s.length === 0) return A_BLOCK_PLAIN | A_SINGLE
    // fast path: no spaces, breaks, '#', ': ' or special characters and a harmless first character
    if (SAFE_PLAIN.test(s) && s.charCodeAt(s.length - 1) !== 58) return A_BLOCK_PLAIN | A_SINGLE | A_BLOCK
    let blockIndicators = false
    let lineBreaks = false
    let special = false
    let tabs = false
    let leadingSpace = false
    let leadingBreak = false
    let trailingSpace = false
    let trailingBreak = false
    let breakSpace = false
    let spaceBreak = false
    let prevSpace = false
    let prevBreak = false
    let precededByWs = true
    if (s.startsWith("---") || s.startsWith("...")) blockIndicators = true
    const n = s.length
    for (let i = 0; i < n; ) {
        const c = s.codePointAt(i) as number
        const w = c > 0xffff ? 2 : 1
        const next = i + w < n ? s.charCodeAt(i + w) : -1
        const followedByWs = next === -1 || next === 32 || next === 9
        if (i === 0) {
            // an indicator, or `?`/`:`/`-` followed by a space or the end
            if (isIndicator(c) || ((c === 63 || c === 58 || c === 45) && followedByWs)) blockIndicators = true
        } else if (c === 58) {
            if (followedByWs) blockIndicators = true
        } else if (c === 35) {
            if (precededByWs) blockIndicators = true
        }
        if (c === 9) tabs = true
        else if (!isPrintable(c)) special = true
        if (c === 32) {
            if (i === 0) leadingSpace = true
            if (i + w === n) trailingSpace = true
            if (prevBreak) breakSpace = true
            prevSpace = true
            prevBreak = false
        } else if (isBreakCode(c)) {
            lineBreaks = true
            if (i === 0) leadingBreak = true
            if (i + w === n) trailingBreak = true
            if (prevSpace) spaceBreak = true
            prevSpace = false
            prevBreak = true
        } else {
            prevSpace = false
            prevBreak = false
        }
        precededByWs = c === 32 || c === 9 || isBreakCode(c) || c === 0
        i += w
    }
    let blockPlain = true
    let single = true
    let block = true
    if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) blockPlain = false
    if (trailingSpace) block = false
    if (breakSpace) {
        blockPlain = false
        single = false
    }
    if (spaceBreak || tabs || special) {
        blockPlain = false
        single = false
    }
    if (spaceBreak || special) block = false
    if (lineBreaks) blockPlain = false
    if (blockIndicators) blockPlain = false
    return (lineBreaks ? A_MULTILINE : 0) | (blockPlain ? A_BLOCK_PLAIN : 0) | (single ? A_SINGLE : 0) | (block ? A_BLOCK : 0)
}

/** One item of a sops branch after comment attachment (yaml.v3 node comments). */
interface MapEntry {
    key: string
    value: TreeValue
    keyHead: string
    valueLine: string
}

interface SeqEntry {
    value: TreeValue
    head: string
    line: string
    foot: string
}

function joinComments(list: string[]): string {
    return `#${list.join("\n#")}`
}

function prependHead(existing: string, list: string[]): string {
    if (list.length === 0) return existing
    const c = joinComments(list)
    return existing.length > 0 ? `${c}\n${existing}` : c
}

function appendComment(existing: string, list: string[]): string {
    if (list.length === 0) return existing
    const c = joinComments(list)
    return existing.length > 0 ? `${existing}\n${c}` : c
}

/**
 * A branch converted the way sops' appendTreeBranch does. A branch without comments keeps its items as they are
 * (`entries` undefined): every entry then has empty comments.
 */
interface MapNode {
    head: string
    entries: MapEntry[] | undefined
    items: Branch["items"]
    count: number
    lastFoot: string
}

function mapNode(branch: Branch): MapNode {
    const items = branch.items
    let plain = true
    for (let i = 0; i < items.length; i++) {
        if (items[i].key instanceof Comment) {
            plain = false
            break
        }
    }
    if (plain) return { head: "", entries: undefined, items, count: items.length, lastFoot: "" }
    let heads: string[] = []
    let inlines: string[] = []
    let beginning = true
    let head = ""
    const entries: MapEntry[] = []
    for (const item of branch.items) {
        const k = item.key
        if (k instanceof Comment) {
            if (k.inline) inlines.push(k.value)
            else heads.push(k.value)
            continue
        }
        if (beginning) {
            head = prependHead(head, heads)
            heads = []
            beginning = false
        }
        const keyHead = heads.length > 0 ? joinComments(heads) : ""
        heads = []
        const valueLine = inlines.length > 0 ? joinComments(inlines) : ""
        inlines = []
        entries.push({ key: k, value: item.value, keyHead, valueLine })
    }
    const rest = heads.concat(inlines)
    let lastFoot = ""
    if (rest.length > 0) {
        if (beginning) head = prependHead(head, rest)
        else lastFoot = joinComments(rest)
    }
    return { head, entries, items, count: entries.length, lastFoot }
}

interface SeqNode {
    head: string
    entries: SeqEntry[]
}

function seqNode(list: TreeValue[]): SeqNode {
    let heads: string[] = []
    let inlines: string[] = []
    let beginning = true
    let head = ""
    const entries: SeqEntry[] = []
    for (const item of list) {
        if (item instanceof Comment) {
            if (item.inline) inlines.push(item.value)
            else heads.push(item.value)
            continue
        }
        if (beginning) {
            head = prependHead(head, heads)
            heads = []
            beginning = false
        }
        entries.push({
            value: item,
            head: heads.length > 0 ? joinComments(heads) : "",
            line: inlines.length > 0 ? joinComments(inlines) : "",
            foot: "",
        })
        heads = []
        inlines = []
    }
    const rest = heads.concat(inlines)
    if (rest.length > 0) {
        if (beginning) head = prependHead(head, rest)
        else {
            const last = entries[entries.length - 1]
            last.foot = appendComment(last.foot, rest)
        }
    }
    return { head, entries }
}

/** The yaml.v3 emitter state that matters for sops' output. */
class Writer {
    /** Output not yet encoded, and the encoded chunks (bytes keep large outputs out of the JS heap). */
    out = ""
    private readonly chunks: Buffer[] = []
    private readonly best: number
    private indent = -1
    private readonly indents: number[] = []
    private column = 0
    private whitespace = true
    private indention = true
    private footIndent = -1
    private head = ""
    private line = ""
    private foot = ""
    private tail = ""
    private keyLine = ""

    constructor(indent: number) {
        this.best = indent < 2 || indent > 9 ? 2 : indent
    }

    private put(s: string): void {
        this.out += s
        this.column += s.length
    }

    private putBreak(): void {
        this.out += "\n"
        this.column = 0
        this.indention = true
        if (this.out.length > 16384) {
            this.chunks.push(Buffer.from(this.out, "utf8"))
            this.out = ""
        }
    }

    /** Everything written, as UTF-8. */
    bytes(): Uint8Array {
        if (this.out.length > 0) {
            this.chunks.push(Buffer.from(this.out, "utf8"))
            this.out = ""
        }
        const all = Buffer.concat(this.chunks)
        return new Uint8Array(all.buffer, all.byteOffset, all.length)
    }

    private writeIndent(): void {
        const ind = Math.max(this.indent , 0)
        if (!this.indention || this.column > ind || (this.column === ind && !this.whitespace)) this.putBreak()
        if (this.footIndent === ind) this.putBreak()
        if (this.column < ind) this.put(spaces(ind - this.column))
        this.whitespace = true
        this.footIndent = -1
    }

    private indicator(s: string, needWs: boolean, isWs: boolean, isIndention: boolean): void {
        if (needWs && !this.whitespace) this.put(" ")
        this.put(s)
        this.whitespace = isWs
        this.indention = this.indention && isIndention
    }

    private writeComment(c: string): void {
        let breaks = false
        let pound = false
        let start = 0
        const n = c.length
        while (start <= n) {
            let end = c.indexOf("\n", start)
            if (end < 0) end = n
            if (end > start) {
                if (breaks) this.writeIndent()
                let seg = c.slice(start, end)
                if (!pound) {
                    if (seg[0] !== "#") seg = `# ${seg}`
                    pound = true
                }
                this.put(seg)
                this.indention = false
                breaks = false
            }
            if (end < n) {
                this.putBreak()
                breaks = true
                pound = false
            }
            start = end + 1
        }
        if (!breaks) this.putBreak()
        this.whitespace = true
    }

    private load(head: string, line: string, foot: string, tail: string): void {
        if (head.length > 0) this.head = head
        if (line.length > 0) this.line = line
        if (foot.length > 0) this.foot = foot
        if (tail.length > 0) this.tail = tail
    }

    private processHead(): void {
        if (this.tail.length > 0) {
            this.writeIndent()
            this.writeComment(this.tail)
            this.tail = ""
            this.footIndent = Math.max(this.indent , 0)
        }
        if (this.head.length === 0) return
        this.writeIndent()
        this.writeComment(this.head)
        this.head = ""
    }

    private processLine(linebreak = false): void {
        if (this.line.length === 0) {
            if (linebreak) this.putBreak()
            return
        }
        if (!this.whitespace) this.put(" ")
        this.writeComment(this.line)
        this.line = ""
    }

    private processFoot(): void {
        if (this.foot.length === 0) return
        this.writeIndent()
        this.writeComment(this.foot)
        this.foot = ""
        this.footIndent = Math.max(this.indent , 0)
    }

    private increaseIndent(flow: boolean, inSeqItem: boolean): void {
        this.indents.push(this.indent)
        if (this.indent < 0) this.indent = flow ? this.best : 0
        else if (inSeqItem) this.indent += 2
        else this.indent = this.best * Math.floor((this.indent + this.best) / this.best)
    }

    private popIndent(): void {
        this.indent = this.indents.pop() as number
    }

    /** Write one document (a branch as the root mapping). */
    document(root: TreeValue, first: boolean): void {
        if (!first) {
            this.writeIndent()
            this.indicator("---", true, false, false)
            this.writeIndent()
        }
        this.node(root, CTX_DOC, "", "", "", true)
        // document end
        this.footIndent = 0
        this.processFoot()
        this.footIndent = -1
        this.writeIndent()
    }

    /**
     * Write a node in a context. `pre` runs the context's work before the node (doc: head comments). The node's
     * own comments are loaded into the registers like yaml.v3's event analysis does.
     */
    private node(v: TreeValue, ctx: number, head: string, line: string, foot: string, root = false): void {
        if (v instanceof Branch) {
            const m = mapNode(v)
            this.mapping(m, ctx, mergeHead(head, m.head), line, foot, root)
        } else if (Array.isArray(v)) {
            const s = seqNode(v)
            this.sequence(s, ctx, mergeHead(head, s.head), line, foot, root)
        } else {
            this.load(head, line, foot, "")
            if (root) this.processHead()
            this.scalarValue(v, ctx)
            if (ctx !== CTX_KEY) {
                this.processLine()
                this.processFoot()
            }
        }
    }

    /** A mapping; `head` is its start event's head comment, already loaded by the caller when `loaded`. */
    private mapping(m: MapNode, ctx: number, head: string, line: string, foot: string, root: boolean, loaded = false): void {
        if (!loaded) this.load(head, "", "", "")
        if (root) this.processHead()
        const inSeq = ctx === CTX_SEQ
        if (m.count === 0) {
            this.indicator("{", true, true, false)
            this.increaseIndent(true, inSeq)
            this.processLine()
            this.processFoot()
            // mapping end event
            this.load("", line, foot, m.lastFoot)
            this.processHead()
            this.popIndent()
            this.indicator("}", false, false, false)
            this.processLine()
            this.processFoot()
            return
        }
        // post-processing of the MAPPING-START event by the parent's state
        this.processLine()
        this.processFoot()
        const entries = m.entries
        const n = m.count
        for (let i = 0; i < n; i++) {
            let key: string
            let v: TreeValue
            let valueLine = ""
            if (entries === undefined) {
                const item = m.items[i]
                key = item.key as string
                v = item.value
            } else {
                const e = entries[i]
                key = e.key
                v = e.value
                valueLine = e.valueLine
                this.load(e.keyHead, "", "", "")
            }
            if (i === 0) this.increaseIndent(false, inSeq)
            this.processHead()
            this.writeIndent()
            if (this.line.length > 0) {
                this.keyLine = this.line
                this.line = ""
            }
            const keyStyle = stringStyle(key)
            if (isSimpleKey(key)) {
                this.scalar(key, keyStyle, "", CTX_KEY)
                this.indicator(":", false, false, false)
            } else {
                this.indicator("?", true, false, true)
                this.scalar(key, keyStyle, "", CTX_VALUE)
                this.writeIndent()
                this.indicator(":", true, false, true)
            }
            const isScalar = !(v instanceof Branch) && !Array.isArray(v)
            if (this.keyLine.length > 0) {
                if (isScalar) {
                    if (this.line.length === 0 && valueLine.length === 0) {
                        this.line = this.keyLine
                        this.keyLine = ""
                    }
                } else {
                    const saved = this.line
                    this.line = this.keyLine
                    this.processLine()
                    this.keyLine = this.line
                    this.line = saved
                }
            }
            if (isScalar) {
                // node(): a scalar value in a mapping
                this.load("", valueLine, "", "")
                this.scalarValue(v, CTX_VALUE)
                this.processLine()
                this.processFoot()
            } else if (v instanceof Branch) {
                const m2 = mapNode(v)
                this.mapping(m2, CTX_VALUE, m2.head, valueLine, "", false)
            } else {
                const s2 = seqNode(v as TreeValue[])
                this.sequence(s2, CTX_VALUE, s2.head, valueLine, "", false)
            }
        }
        // mapping end event
        this.load("", line, foot, m.lastFoot)
        this.processHead()
        this.popIndent()
    }

    /** A sequence; `head` is its start event's head comment, already loaded by the caller when `loaded`. */
    private sequence(s: SeqNode, ctx: number, head: string, line: string, foot: string, root: boolean, loaded = false): void {
        if (!loaded) this.load(head, "", "", "")
        if (root) this.processHead()
        const inSeq = ctx === CTX_SEQ
        if (s.entries.length === 0) {
            this.indicator("[", true, true, false)
            this.increaseIndent(true, inSeq)
            this.processLine()
            this.processFoot()
            this.load("", line, foot, "")
            this.popIndent()
            if (this.column === 0) this.writeIndent()
            this.indicator("]", false, false, false)
            this.processLine()
            this.processFoot()
            return
        }
        this.processLine()
        this.processFoot()
        this.increaseIndent(false, inSeq)
        for (const e of s.entries) {
            const v = e.value
            if (v instanceof Branch) {
                // the item's head comments go in front of the mapping's own (sops' addCommentsHead)
                const m = mapNode(v)
                this.load(mergeHead(e.head, m.head), "", "", "")
                this.processHead()
                this.writeIndent()
                this.indicator("-", true, false, true)
                this.mapping(m, CTX_SEQ, "", e.line, e.foot, false, true)
            } else if (Array.isArray(v)) {
                const s2 = seqNode(v)
                this.load(mergeHead(e.head, s2.head), "", "", "")
                this.processHead()
                this.writeIndent()
                this.indicator("-", true, false, true)
                this.sequence(s2, CTX_SEQ, "", e.line, e.foot, false, true)
            } else {
                this.load(e.head, e.line, e.foot, "")
                this.processHead()
                this.writeIndent()
                this.indicator("-", true, false, true)
                this.scalarValue(v, CTX_SEQ)
                this.processLine()
                this.processFoot()
            }
        }
        this.load("", line, foot, "")
        this.popIndent()
    }

    /** A scalar value in its yaml.v3 representation. */
    private scalarValue(v: TreeValue, ctx: number): void {
        if (typeof v === "string") {
            // Long strings (the ENC[…] values) are examined through a throw-away flat copy: reading a string built
            // by concatenation flattens it in place, and that new copy would stay in the tree and survive GCs.
            const probe = v.length >= 64 ? ` ${v}`.slice(1) : v
            this.scalar(v, stringStyle(probe), "", ctx, probe)
        }
        else {
            const rep = scalarRep(v)
            this.scalar(rep.text, rep.style, rep.tag, ctx)
        }
    }

    /** A scalar: its text, requested style and explicit tag (or ""). */
    private scalar(text: string, requested: number, tag: string, ctx: number, probe = text): void {
        const a = analyze(probe)
        const simpleKey = ctx === CTX_KEY
        let style = requested
        if (simpleKey && (a & A_MULTILINE) !== 0) style = DOUBLE
        if (style === PLAIN) {
            if ((a & A_BLOCK_PLAIN) === 0) style = SINGLE
            if (text.length === 0 && simpleKey) style = SINGLE
        }
        if (style === SINGLE && (a & A_SINGLE) === 0) style = DOUBLE
        if (style === LITERAL && ((a & A_BLOCK) === 0 || simpleKey)) style = DOUBLE
        if (tag.length > 0) this.indicator(tag, true, false, false)
        this.increaseIndent(true, ctx === CTX_SEQ)
        switch (style) {
            case PLAIN:
                if (text.length > 0) {
                    if (!this.whitespace) this.put(" ")
                    this.put(text)
                    this.whitespace = false
                }
                this.indention = false
                break
            case SINGLE:
                this.singleQuoted(probe)
                break
            case DOUBLE:
                this.doubleQuoted(probe)
                break
            default:
                this.literal(probe)
        }
        this.popIndent()
    }

    private singleQuoted(text: string): void {
        this.indicator("'", true, false, false)
        let breaks = false
        let run = ""
        for (let i = 0; i < text.length; i++) {
            const c = text.charCodeAt(i)
            if (isBreakCode(c)) {
                if (run) {
                    this.put(run)
                    run = ""
                }
                if (!breaks && c === 10) this.putBreak()
                if (c === 10) this.putBreak()
                else {
                    this.out += text[i]
                    this.column = 0
                    this.indention = true
                }
                breaks = true
            } else {
                if (breaks) this.writeIndent()
                run += c === 39 ? "''" : text[i]
                if (c !== 32) this.indention = false
                breaks = false
            }
        }
        if (run) this.put(run)
        this.indicator("'", false, false, false)
        this.whitespace = false
        this.indention = false
    }

    private doubleQuoted(text: string): void {
        this.indicator('"', true, false, false)
        let run = ""
        for (let i = 0; i < text.length; ) {
            const c = text.codePointAt(i) as number
            const w = c > 0xffff ? 2 : 1
            if (!isPrintable(c) || c === 0xfeff || isBreakCode(c) || c === 34 || c === 92) {
                run += escapeChar(c)
            } else {
                run += w === 2 ? text.slice(i, i + 2) : text[i]
            }
            i += w
        }
        this.put(run)
        this.indicator('"', false, false, false)
        this.whitespace = false
        this.indention = false
    }

    private literal(text: string): void {
        this.indicator("|", true, false, false)
        const c0 = text.charCodeAt(0)
        if (c0 === 32 || isBreakCode(c0)) this.indicator(String(this.best), false, false, false)
        let chomp = ""
        const last = text.charCodeAt(text.length - 1)
        if (!isBreakCode(last)) chomp = "-"
        else if (text.length === 1) chomp = "+"
        else if (isBreakCode(text.charCodeAt(text.length - 2))) chomp = "+"
        if (chomp) this.indicator(chomp, false, false, false)
        this.processLine(true)
        this.whitespace = true
        let breaks = true
        let start = 0
        const n = text.length
        for (let i = 0; i < n; i++) {
            const c = text.charCodeAt(i)
            if (isBreakCode(c)) {
                if (i > start) {
                    if (breaks) this.writeIndent()
                    this.put(text.slice(start, i))
                    this.indention = false
                    breaks = false
                }
                if (c === 10) this.putBreak()
                else {
                    this.out += text[i]
                    this.column = 0
                    this.indention = true
                }
                breaks = true
                start = i + 1
            }
        }
        if (n > start) {
            if (breaks) this.writeIndent()
            this.put(text.slice(start))
            this.indention = false
        }
    }
}

const SPACES: string[] = []
for (let i = 0; i <= 64; i++) SPACES.push(" ".repeat(i))

/** `n` spaces. */
function spaces(n: number): string {
    return n < SPACES.length ? SPACES[n] : " ".repeat(n)
}

function escapeChar(c: number): string {
    switch (c) {
        case 0:
            return "\\0"
        case 7:
            return "\\a"
        case 8:
            return "\\b"
        case 9:
            return "\\t"
        case 10:
            return "\\n"
        case 11:
            return "\\v"
        case 12:
            return "\\f"
        case 13:
            return "\\r"
        case 0x1b:
            return "\\e"
        case 34:
            return '\\"'
        case 92:
            return "\\\\"
        case 0x85:
            return "\\N"
        case 0xa0:
            return "\\_"
        case 0x2028:
            return "\\L"
        case 0x2029:
            return "\\P"
    }
    const hex = c.toString(16).toUpperCase()
    if (c <= 0xff) return `\\x${hex.padStart(2, "0")}`
    if (c <= 0xffff) return `\\u${hex.padStart(4, "0")}`
    return `\\U${hex.padStart(8, "0")}`
}

function mergeHead(first: string, second: string): string {
    if (first.length === 0) return second
    return second.length > 0 ? `${first}\n${second}` : first
}

function isSimpleKey(text: string): boolean {
    if (text.length > 42 && Buffer.byteLength(text, "utf8") > 128) return false
    for (let i = 0; i < text.length; i++) if (isBreakCode(text.charCodeAt(i))) return false
    return true
}

/**
 * Write documents as sops 3.13.2 does (yaml.v3 encoder, `SetIndent(indent)`).
 * @param branches - one branch per document
 * @param indent - the indent (values outside 2..9 behave as 2)
 */
export function emitDocuments(branches: readonly Branch[], indent: number): Uint8Array {
    const w = new Writer(indent)
    let first = true
    for (const b of branches) {
        w.document(b, first)
        first = false
    }
    return w.bytes()
}

/**
 * `yaml.Marshal` of one value converted by sops' treeValueToNode (indent 4): maps as a document, lists as a block
 * sequence, scalars on one line.
 */
export function emitSingleValue(v: TreeValue): Uint8Array {
    const w = new Writer(4)
    w.document(v, true)
    return w.bytes()
}
