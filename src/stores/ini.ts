/**
 * The INI store: sops 3.13.2's `stores/ini` on top of gopkg.in/ini.v1 v1.67 semantics (non-unique sections allowed).
 * Sections are the top-level keys (the implicit `DEFAULT` section always first), every value is a string, and the
 * metadata is the `[sops]` section with flattened keys and `\n`-escaped newlines.
 */
import { FormatError, MetadataNotFoundError } from "../errors.js"
import { Branch, Comment, METADATA_KEY, SopsTime, type Branches, type TreeItem, type TreeValue } from "../sops/tree.js"
import { type FlatEntry, flattenMetadata, unflattenMetadata } from "./flatten.js"
import { checkReservedKey, formatJsonFloat, quoteJsonBytes, quoteJsonString } from "./json.js"
import type { EncryptedFile, Store } from "./store.js"
import { byteLength, decodeUtf8, emitError, encodeUtf8, goTrimLeft, goTrimSpace, valToString } from "./text.js"

/** Name of the implicit section that holds keys written before any section header. */
export const INI_DEFAULT_SECTION = "DEFAULT"

const KEY_VALUE_DELIMITERS = "=:"

interface IniKey {
    name: string
    value: string
    comment: string
    line: number
}

interface IniSection {
    name: string
    /** Line of the section header (0 for the implicit DEFAULT section and for written sections). */
    line: number
    comment: string
    keys: IniKey[]
    byName: Map<string, IniKey>
}

function newSection(name: string, line = 0): IniSection {
    return { name, line, comment: "", keys: [], byName: new Map() }
}

/** ini.v1 `Section.NewKey`: a repeated key updates the value in place (its position is kept). */
function addKey(section: IniSection, name: string, value: string, line: number): IniKey {
    const existing = section.byName.get(name)
    if (existing !== undefined) {
        existing.value = value
        return existing
    }
    const key: IniKey = { name, value, comment: "", line }
    section.keys.push(key)
    section.byName.set(name, key)
    return key
}

function indexOfAny(s: string, chars: string, from = 0): number {
    for (let i = from; i < s.length; i++) if (chars.includes(s[i])) return i
    return -1
}

/** The text from the first `#` or `;` on, if any. */
function cleanComment(s: string): string | undefined {
    const i = indexOfAny(s, "#;")
    return i === -1 ? undefined : s.slice(i)
}

function hasSurroundedQuote(s: string, quote: string): boolean {
    return s.length >= 2 && s[0] === quote && s[s.length - 1] === quote && s.indexOf(quote, 1) === s.length - 1
}

/** Parser for the subset of ini.v1 options sops uses (defaults + AllowNonUniqueSections). */
class IniParser {
    private readonly text: string
    private pos = 0
    private eof = false
    /** Line number of the line read last. */
    line = 0
    private comment = ""

    constructor(text: string) {
        this.text = text
    }

    private readLine(): string {
        if (this.eof) return ""
        this.line++
        const nl = this.text.indexOf("\n", this.pos)
        let data: string
        if (nl === -1) {
            data = this.text.slice(this.pos)
            this.pos = this.text.length
            this.eof = true
        } else {
            data = this.text.slice(this.pos, nl + 1)
            this.pos = nl + 1
        }
        return data
    }

    private fail(detail: string, line = this.line): never {
        throw new FormatError(detail, { line })
    }

    parse(): IniSection[] {
        let section = newSection(INI_DEFAULT_SECTION)
        const sections = [section]
        let count = 1
        while (!this.eof) {
            const raw = this.readLine()
            const lineNo = this.line
            const line = goTrimLeft(raw)
            if (line.length === 0) continue
            const first = line[0]
            if (first === "#" || first === ";") {
                this.comment += line
                continue
            }
            if (first === "[") {
                const close = line.lastIndexOf("]")
                if (close === -1) this.fail("unclosed section")
                const name = line.slice(1, close)
                if (name.length === 0) this.fail("empty section name")
                section = newSection(name, lineNo)
                sections.push(section)
                const inline = cleanComment(line.slice(close + 1))
                if (inline !== undefined) this.comment += inline
                section.comment = goTrimSpace(this.comment)
                this.comment = ""
                count = 1
                continue
            }
            let [name, offset] = this.readKeyName(line)
            if (name === "-") {
                name = `#${count}`
                count++
            }
            const value = this.readValue(line.slice(offset))
            if (name.length === 0) this.fail("error creating new key: empty key name", lineNo)
            const key = addKey(section, name, value, lineNo)
            key.comment = goTrimSpace(this.comment)
            this.comment = ""
        }
        return sections
    }

    private readKeyName(line: string): [string, number] {
        let quote = ""
        if (line[0] === '"') quote = byteLength(line) > 6 && line.startsWith('"""') ? '"""' : '"'
        else if (line[0] === "`") quote = "`"
        if (quote !== "") {
            const start = quote.length
            const close = line.indexOf(quote, start)
            if (close === -1) this.fail("missing closing key quote")
            const delimiter = indexOfAny(line, KEY_VALUE_DELIMITERS, close + start)
            if (delimiter === -1) this.fail("key-value delimiter not found")
            return [goTrimSpace(line.slice(start, close)), delimiter + 1]
        }
        const end = indexOfAny(line, KEY_VALUE_DELIMITERS)
        if (end === -1) this.fail("key-value delimiter not found")
        if (end === 0) this.fail("empty key name")
        return [goTrimSpace(line.slice(0, end)), end + 1]
    }

    private readValue(input: string): string {
        let line = goTrimLeft(input)
        if (line.length === 0) return ""
        let quote = ""
        if (line.length > 3 && line.startsWith('"""')) quote = '"""'
        else if (line[0] === "`") quote = "`"
        if (quote !== "") {
            const start = quote.length
            const pos = line.slice(start).lastIndexOf(quote)
            if (pos === -1) return this.readMultilines(line.slice(start), quote)
            return line.slice(start, start + pos)
        }
        line = goTrimSpace(line)
        if (line.endsWith("\\")) return this.readContinuationLines(line.slice(0, -1))
        const i = indexOfAny(line, "#;")
        if (i > -1) {
            this.comment += line.slice(i)
            line = goTrimSpace(line.slice(0, i))
        }
        if (hasSurroundedQuote(line, "'") || hasSurroundedQuote(line, '"')) line = line.slice(1, -1)
        return line
    }

    private readMultilines(initial: string, quote: string): string {
        const startLine = this.line
        let value = initial
        for (;;) {
            const next = this.readLine()
            const pos = next.lastIndexOf(quote)
            if (pos > -1) {
                value += next.slice(0, pos)
                const comment = cleanComment(next.slice(pos))
                if (comment !== undefined) this.comment += goTrimSpace(comment)
                return value
            }
            value += next
            if (this.eof) this.fail("missing closing key quote", startLine)
        }
    }

    private readContinuationLines(initial: string): string {
        let value = initial
        for (;;) {
            const next = goTrimSpace(this.readLine())
            if (next.length === 0) return value
            value += next
            if (!value.endsWith("\\")) return value
            value = value.slice(0, -1)
        }
    }
}

function stripBom(input: Uint8Array): Uint8Array {
    if (input.length >= 2 && ((input[0] === 0xfe && input[1] === 0xff) || (input[0] === 0xff && input[1] === 0xfe))) {
        return input.subarray(2)
    }
    if (input.length >= 3 && input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf) return input.subarray(3)
    return input
}

function parseIni(input: Uint8Array): IniSection[] {
    return new IniParser(decodeUtf8(stripBom(input))).parse()
}

/** sops' `stripCommentChar`: drop a leading run of `;`/space (or `#`/space). */
function stripCommentChar(comment: string): string {
    if (comment.startsWith(";")) return comment.replace(/^[; ]+/, "")
    if (comment.startsWith("#")) return comment.replace(/^[# ]+/, "")
    return comment
}

function sectionToItem(section: IniSection): TreeItem {
    const items: TreeItem[] = []
    if (section.comment !== "") items.push({ key: new Comment(stripCommentChar(section.comment)), value: null })
    for (const key of section.keys) {
        items.push({ key: key.name, value: key.value })
        if (key.comment !== "") items.push({ key: new Comment(stripCommentChar(key.comment)), value: null })
    }
    return { key: section.name, value: new Branch(items) }
}

function commentLines(comment: string, trimPlain: boolean): string[] {
    return comment.split("\n").map((line) => {
        if (line.length === 0) throw emitError("Error marshaling to INI: a comment contains an empty line")
        if (line[0] !== "#" && line[0] !== ";") return `; ${trimPlain ? goTrimSpace(line) : line}\n`
        return `${line[0]} ${goTrimSpace(line.slice(1))}\n`
    })
}

function quoteKeyName(name: string): string {
    if (name.includes('"') || indexOfAny(name, KEY_VALUE_DELIMITERS) !== -1) return `\`${name}\``
    if (name.includes("`")) return `"""${name}"""`
    return name
}

function quoteValue(value: string): string {
    if (value.includes("\n") || value.includes("`")) return `"""${value}"""`
    if (value.includes("#") || value.includes(";")) return `\`${value}\``
    if (goTrimSpace(value).length !== value.length) return `"${value}"`
    return value
}

/** ini.v1 `File.WriteTo` with PrettyFormat and PrettySection. */
function writeIni(sections: IniSection[]): string {
    const out: string[] = []
    const last = sections.length - 1
    sections.forEach((section, i) => {
        if (section.comment.length > 0) out.push(...commentLines(section.comment, false))
        if (i > 0 || section.name.toUpperCase() !== INI_DEFAULT_SECTION) out.push(`[${section.name}]\n`)
        else if (section.keys.length === 0) return
        const names = section.keys.map((key) => quoteKeyName(key.name))
        let align = 0
        for (const name of names) align = Math.max(align, byteLength(name))
        section.keys.forEach((key, k) => {
            if (key.comment.length > 0) out.push(...commentLines(key.comment, true))
            const name = names[k]
            out.push(name, " ".repeat(align - byteLength(name)), " = ", quoteValue(key.value), "\n")
        })
        if (i !== last) out.push("\n")
    })
    return out.join("")
}

/** Build ini.v1 sections from a tree the way sops' `encodeTree` does. */
function treeToSections(branches: Branches): IniSection[] {
    const sections: IniSection[] = []
    for (const branch of branches) {
        for (const item of branch.items) {
            if (typeof item.key !== "string") continue
            if (item.key.length === 0) throw emitError("Error encoding section : empty section name")
            const section = newSection(item.key)
            sections.push(section)
            if (!(item.value instanceof Branch)) {
                throw emitError("Error encoding section: Section values should always be TreeBranches")
            }
            const items = item.value.items
            let first = 0
            if (items.length > 0 && items[0].key instanceof Comment) {
                section.comment = items[0].key.value
                first = 1
            }
            let lastKey: IniKey | undefined
            for (let k = first; k < items.length; k++) {
                const entry = items[k]
                if (entry.key instanceof Comment) {
                    if (lastKey !== undefined) lastKey.comment = entry.key.value
                    continue
                }
                if (entry.key.length === 0) {
                    throw emitError("Error encoding key: error creating new key: empty key name")
                }
                lastKey = addKey(section, entry.key, valToString(entry.value), 0)
            }
        }
    }
    return sections
}

/** Go `json.Marshal` (compact) of a value, which is what sops' INI store prints for `--extract` of a non-string. */
function goMarshal(value: TreeValue): string {
    if (value === null) return "null"
    if (typeof value === "string") return quoteJsonString(value)
    if (typeof value === "bigint") return value.toString()
    if (typeof value === "number") return formatJsonFloat(value)
    if (typeof value === "boolean") return value ? "true" : "false"
    if (value instanceof SopsTime) return quoteJsonString(value.text)
    if (value instanceof Uint8Array) return quoteJsonBytes(value)
    if (value instanceof Comment) return `{"Value":${quoteJsonString(value.value)}}`
    if (value instanceof Branch) {
        return `[${value.items.map((item) => `{"Key":${goMarshal(item.key)},"Value":${goMarshal(item.value)}}`).join(",")}]`
    }
    return `[${value.map(goMarshal).join(",")}]`
}

/** The INI store. */
export class IniStore implements Store {
    readonly format = "ini"

    loadPlain(input: Uint8Array): Branches {
        return [new Branch(parseIni(input).map(sectionToItem))]
    }

    loadEncrypted(input: Uint8Array): EncryptedFile {
        const sections = parseIni(input)
        const metadataSections = sections.filter((section) => section.name === METADATA_KEY)
        if (metadataSections.length === 0) throw new MetadataNotFoundError()
        if (metadataSections.length > 1) {
            throw new FormatError(`Found duplicate ${METADATA_KEY} entry`, { line: metadataSections[1].line })
        }
        const entries: FlatEntry[] = metadataSections[0].keys.map((key) => ({
            key: key.name,
            value: key.value.replaceAll("\\n", "\n"),
            line: key.line,
        }))
        const data = sections.filter((section) => section.name !== METADATA_KEY).map(sectionToItem)
        return { branches: [new Branch(data)], metadata: unflattenMetadata(entries) }
    }

    emitPlain(branches: Branches): Uint8Array {
        return encodeUtf8(writeIni(treeToSections(branches)))
    }

    emitEncrypted(branches: Branches, metadata: Branch): Uint8Array {
        const flat = flattenMetadata(metadata).map((item) => ({
            key: item.key,
            value: typeof item.value === "string" ? item.value.replaceAll("\n", "\\n") : item.value,
        }))
        const section: TreeItem = { key: METADATA_KEY, value: new Branch(flat) }
        const withMetadata = branches.map((branch) => {
            checkReservedKey(branch)
            return new Branch([...branch.items, section])
        })
        return this.emitPlain(withMetadata)
    }

    emitValue(value: TreeValue): Uint8Array {
        if (typeof value === "string") return encodeUtf8(value)
        if (value instanceof Uint8Array) return value
        if (value instanceof Branch) return this.emitPlain([value])
        return encodeUtf8(goMarshal(value))
    }

    hasMetadataKey(branches: Branches): boolean {
        const first = branches[0]
        return first?.items.some((item) => item.key === METADATA_KEY) ?? false
    }
}
