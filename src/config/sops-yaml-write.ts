/**
 * Writing `.sops.yaml` and the public-key files next to it (`kubectl sops bootstrap`), as text edits.
 *
 * The user's file is never re-serialised: comments, quoting, indentation and line endings stay as they are, and
 * only the lines for the new rule or the new keys are inserted. The `yaml` package locates the nodes (it keeps
 * source offsets); the result is loaded with `parseConfig` before it is returned. Pure: no fs.
 */
import { isMap, isPair, isScalar, isSeq, type Node, type Pair, parseDocument, type Scalar, type YAMLMap, type YAMLSeq } from "yaml"
import { ConfigError } from "../errors.js"
import { CONFIG_FILE, parseConfig } from "./sops-yaml.js"

/** A creation rule to add to `.sops.yaml` (or keys to add to the rule with the same `path_regex`). */
export interface RuleToAdd {
    path_regex?: string
    encrypted_regex?: string
    /** age recipients. */
    age?: string[]
    /** PGP fingerprints. */
    pgp?: string[]
    /** HashiCorp Vault / OpenBao transit key URIs. */
    hc_vault_transit_uri?: string[]
}

/** The result of {@link mergeCreationRule}. */
export interface MergeResult {
    /** The new file text (the same text when nothing changed). */
    text: string
    changed: boolean
    /** Something the user should know (the new rule shadows others, the rule's options differ, …). */
    note?: string
}

/** Key fields: the {@link RuleToAdd} property (= the rule-level key) and the name inside a `key_groups` entry. */
const KEY_FIELDS = [
    ["age", "age"],
    ["pgp", "pgp"],
    ["hc_vault_transit_uri", "hc_vault"],
] as const

type KeyField = (typeof KEY_FIELDS)[number][0]

/** The header of a `.sops.yaml` written from scratch. */
export const SOPS_YAML_HEADER = [
    "# Written by kubectl sops bootstrap. sops uses the first creation rule whose path_regex matches the file;",
    "# encrypted_regex keeps apiVersion, kind and metadata in clear for Flux.",
]

const SPECIAL_PLAIN = /^(?:~|null|true|false|yes|no|on|off|y|n|[-+]?\.?[0-9].*|[-+]?\.(?:inf|nan))$/i

/** A scalar as YAML text: plain when it reads back as the same string, else single-quoted. */
function scalarText(s: string): string {
    const plainSafe =
        s !== "" &&
        !/^[\s\-?:,[\]{}#&*!|>'"%@`]/.test(s) &&
        !/\s$/.test(s) &&
        !/: |:$| #|[\t\r\n\u0000-\u001f\u007f]/.test(s) &&
        !SPECIAL_PLAIN.test(s)
    return plainSafe ? s : `'${s.replaceAll("'", "''")}'`
}

/** A scalar inside a flow collection: JSON strings are valid double-quoted YAML. */
function flowText(s: string): string {
    return JSON.stringify(s)
}

/** Trimmed, de-duplicated keys. */
function clean(list: readonly string[] | undefined): string[] {
    const out: string[] = []
    for (const k of list ?? []) {
        const t = k.trim()
        if (t !== "" && !out.includes(t)) out.push(t)
    }
    return out
}

/** Identity of a key for "already present": fingerprints ignore case and spaces. */
function keyId(field: KeyField, key: string): string {
    return field === "pgp" ? key.replace(/\s+/g, "").toUpperCase() : key.trim()
}

function wantedKeys(rule: RuleToAdd): [KeyField, string[]][] {
    const out: [KeyField, string[]][] = []
    for (const [field] of KEY_FIELDS) {
        const keys = clean(rule[field])
        if (keys.length > 0) out.push([field, keys])
    }
    return out
}

/** The lines of a rule (without the list dash), in the guide's order. */
function ruleFields(rule: RuleToAdd, listStyle: boolean): [string, string | string[]][] {
    const fields: [string, string | string[]][] = []
    if (rule.path_regex !== undefined) fields.push(["path_regex", rule.path_regex])
    if (rule.encrypted_regex !== undefined) fields.push(["encrypted_regex", rule.encrypted_regex])
    for (const [field, keys] of wantedKeys(rule)) fields.push([field, listStyle ? keys : keys.join(",")])
    return fields
}

/** A rule as block lines: `dash` starts the first line, `indent` the others (same width). */
function blockRule(rule: RuleToAdd, dash: string, listStyle: boolean, listOffset: number): string[] {
    const indent = " ".repeat(dash.length)
    const lines: string[] = []
    for (const [key, value] of ruleFields(rule, listStyle)) {
        const prefix = lines.length === 0 ? dash : indent
        if (typeof value === "string") lines.push(`${prefix}${key}: ${scalarText(value)}`)
        else {
            lines.push(`${prefix}${key}:`)
            for (const v of value) lines.push(`${indent}${" ".repeat(listOffset)}- ${scalarText(v)}`)
        }
    }
    if (lines.length === 0) lines.push(`${dash}{}`)
    return lines
}

/** A rule as a flow mapping (for `creation_rules: [ … ]`). */
function flowRule(rule: RuleToAdd): string {
    const parts = ruleFields(rule, false).map(([k, v]) => `${k}: ${flowText(v as string)}`)
    return `{${parts.join(", ")}}`
}

/** A fresh `.sops.yaml`. */
function freshText(rule: RuleToAdd, eol: string, header: boolean): string {
    const lines = [...(header ? SOPS_YAML_HEADER : []), "creation_rules:", ...blockRule(rule, "  - ", false, 2)]
    return lines.join(eol) + eol
}

interface Edit {
    at: number
    /** Characters removed at `at`. */
    del: number
    text: string
}

function applyEdits(text: string, edits: Edit[]): string {
    const ordered = edits.map((e, i) => ({ ...e, i })).sort((a, b) => b.at - a.at || b.i - a.i)
    let out = text
    for (const e of ordered) out = out.slice(0, e.at) + e.text + out.slice(e.at + e.del)
    return out
}

/** Helpers over the source text. */
class Source {
    readonly text: string
    readonly eol: string

    constructor(text: string, eol: string) {
        this.text = text
        this.eol = eol
    }

    lineStart(offset: number): number {
        return this.text.lastIndexOf("\n", offset - 1) + 1
    }

    /** Offset of the line break ending the line of `offset` (or the text's end). */
    lineEnd(offset: number): number {
        const nl = this.text.indexOf("\n", offset)
        if (nl < 0) return this.text.length
        return nl > 0 && this.text[nl - 1] === "\r" ? nl - 1 : nl
    }

    column(offset: number): number {
        return offset - this.lineStart(offset)
    }

    /**
     * Insert whole lines after the line holding the content that ends at `offset` (trailing line breaks of a block
     * scalar are skipped). Keeps a missing final line break missing.
     */
    after(offset: number, lines: readonly string[]): Edit {
        let p = offset
        while (p > 0 && " \t\r\n".includes(this.text[p - 1])) p--
        return { at: this.lineEnd(Math.max(0, p - 1)), del: 0, text: lines.map((l) => this.eol + l).join("") }
    }

    /** Insert whole lines before the line starting at `lineStart`. */
    before(lineStart: number, lines: readonly string[]): Edit {
        return { at: lineStart, del: 0, text: lines.map((l) => l + this.eol).join("") }
    }
}

/** Where a node's own content ends (trailing comments excluded). */
function contentEnd(node: Node | Pair | null | undefined, fallback: number): number {
    if (node === null || node === undefined) return fallback
    if (isPair(node)) {
        const pair = node
        const keyEnd = (pair.key as Node | null)?.range?.[1] ?? fallback
        return pair.value === null || pair.value === undefined ? keyEnd : contentEnd(pair.value as Node, keyEnd)
    }
    const n = node as Node
    if ((isMap(n) || isSeq(n)) && !n.flow) {
        const items = (n as YAMLMap | YAMLSeq).items as (Node | Pair)[]
        if (items.length === 0) return n.range?.[1] ?? fallback
        return contentEnd(items[items.length - 1], n.range?.[0] ?? fallback)
    }
    return n.range?.[1] ?? fallback
}

function stringItems(node: Node | null | undefined): string[] {
    if (node === null || node === undefined) return []
    if (isScalar(node)) {
        if (node.value === null || node.value === undefined) return []
        return String(node.value)
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
    }
    if (isSeq(node)) return (node.items as Node[]).flatMap((i) => stringItems(i))
    return []
}

function pairOf(map: YAMLMap, key: string): Pair<Node, Node | null> | undefined {
    return (map.items as Pair<Node, Node | null>[]).find((p) => isScalar(p.key) && String(p.key.value) === key)
}

/** The text before a block sequence item on its line (`"  - "`), when the item starts its line after a dash. */
function dashPrefix(src: Source, item: Node): string | undefined {
    const start = item.range?.[0]
    if (start === undefined) return undefined
    const prefix = src.text.slice(src.lineStart(start), start)
    return /^ *- +$/.test(prefix) ? prefix : undefined
}

/** Whether any key field of a rule (or group) is written as a list. */
function usesLists(map: YAMLMap | undefined): boolean {
    if (!map) return false
    return (map.items as Pair<Node, Node | null>[]).some(
        (p) => isScalar(p.key) && ["age", "pgp", "hc_vault_transit_uri", "hc_vault", "kms", "gcp_kms"].includes(String(p.key.value)) && isSeq(p.value),
    )
}

/** How far list items are indented past their key in this map (0 for `key:\n- item`), default 2. */
function listOffset(src: Source, map: YAMLMap | undefined): number {
    for (const p of (map?.items ?? []) as Pair<Node, Node | null>[]) {
        if (isSeq(p.value) && !p.value.flow && p.value.items.length > 0) {
            const prefix = dashPrefix(src, p.value.items[0] as Node)
            if (prefix !== undefined && p.key.range) return prefix.indexOf("-") - src.column(p.key.range[0])
        }
    }
    return 2
}

/**
 * Add `keys` to the field `name` of `map` (a rule or a key group). Returns the edits, empty when all keys are there.
 * `group`: inside `key_groups`, where sops wants lists.
 */
function addKeys(src: Source, map: YAMLMap, name: string, field: KeyField, keys: string[], group: boolean): Edit[] {
    const pair = pairOf(map, name)
    const present = new Set(stringItems(pair?.value).map((k) => keyId(field, k)))
    const missing = keys.filter((k) => !present.has(keyId(field, k)))
    if (missing.length === 0) return []
    const list = group || usesLists(map)
    if (map.flow) {
        const close = src.text.lastIndexOf("}", (map.range?.[1] ?? 0) - 1)
        if (pair === undefined) {
            const value = list ? `[${missing.map(flowText).join(", ")}]` : flowText(missing.join(","))
            return [{ at: close, del: 0, text: `${map.items.length > 0 ? ", " : ""}${name}: ${value}` }]
        }
    }
    const offset = listOffset(src, map)
    if (pair === undefined) {
        const first = map.items[0] as Pair<Node, Node | null> | undefined
        const keyCol = first?.key.range ? src.column(first.key.range[0]) : 0
        const indent = " ".repeat(keyCol)
        const lines = list
            ? [`${indent}${name}:`, ...missing.map((k) => `${indent}${" ".repeat(offset)}- ${scalarText(k)}`)]
            : [`${indent}${name}: ${scalarText(missing.join(","))}`]
        return [src.after(contentEnd(map, map.range?.[0] ?? 0), lines)]
    }
    const v = pair.value
    const keyStart = pair.key.range?.[0] ?? 0
    const keyEnd = pair.key.range?.[1] ?? 0
    if (v === null || (isScalar(v) && (v.value === null || v.value === undefined || v.value === ""))) {
        // `age:` with no value, `age: ~`, `age: ""`
        const colon = src.text.indexOf(":", keyEnd)
        const to = nullTokenEnd(src, colon, v)
        if (list) {
            const indent = " ".repeat(src.column(keyStart) + offset)
            return [{ at: colon + 1, del: to - (colon + 1), text: "" }, src.after(colon, missing.map((k) => `${indent}- ${scalarText(k)}`))]
        }
        return [{ at: colon + 1, del: to - (colon + 1), text: ` ${scalarText(missing.join(","))}` }]
    }
    if (isScalar(v)) {
        const [start, end] = v.range ?? [0, 0]
        const joined = missing.join(",")
        const type = (v as Scalar).type
        // inside a flow mapping a comma ends a plain scalar: write the whole list as one quoted string
        if (map.flow) return [{ at: start, del: end - start, text: flowText([...stringItems(v), ...missing].join(",")) }]
        if (type === "PLAIN") return [{ at: end, del: 0, text: `,${joined}` }]
        if (type === "QUOTE_SINGLE") return [{ at: end - 1, del: 0, text: `,${joined.replaceAll("'", "''")}` }]
        if (type === "QUOTE_DOUBLE") return [{ at: end - 1, del: 0, text: `,${JSON.stringify(joined).slice(1, -1)}` }]
        // a block scalar: rewrite it as one scalar on the key's line
        return [{ at: start, del: end - start, text: `${scalarText([...stringItems(v), ...missing].join(","))}${src.eol}` }]
    }
    if (isSeq(v)) {
        if (v.flow) {
            const close = src.text.lastIndexOf("]", (v.range?.[1] ?? 0) - 1)
            return [{ at: close, del: 0, text: `${v.items.length > 0 ? ", " : ""}${missing.map(flowText).join(", ")}` }]
        }
        const firstItem = v.items[0] as Node | undefined
        const prefix = (firstItem && dashPrefix(src, firstItem)) ?? `${" ".repeat(src.column(keyStart) + offset)}- `
        return [src.after(contentEnd(v, keyEnd), missing.map((k) => `${prefix}${scalarText(k)}`))]
    }
    throw new ConfigError(`cannot update ${CONFIG_FILE}: ${name} of the rule is neither a string nor a list`, {
        hint: `add ${missing.join(", ")} to it by hand`,
    })
}

/** The end of an explicit null (`~`, `null`, `""`) after the colon at `colon`, or just past the colon when the value is empty. */
function nullTokenEnd(src: Source, colon: number, v: Node | null): number {
    if (!v?.range) return colon + 1
    const token = src.text.slice(v.range[0], v.range[1])
    const trimmed = token.trim()
    if (trimmed === "" || trimmed.startsWith("#")) return colon + 1
    return v.range[0] + (token.length - token.trimStart().length) + trimmed.length
}

function describe(rule: RuleToAdd): string {
    return rule.path_regex === undefined ? "without path_regex" : `for path_regex ${rule.path_regex}`
}

/**
 * Add a creation rule to a `.sops.yaml` text, or the missing keys to the existing rule with the same `path_regex`.
 *
 * - No file (or only comments): a new file like the Flux guide's (`creation_rules:` with one rule, 2-space
 *   indentation, keys comma-joined).
 * - A rule with the same `path_regex` (a missing `path_regex` matches a rule without one): its missing keys are
 *   added in the style already used (comma-separated string, block or flow list); with `key_groups`, to the first
 *   group. Its other options are not changed (a different `encrypted_regex` is reported in `note`).
 * - Otherwise the rule is inserted as the FIRST creation rule (sops uses the first match), before any comment lines
 *   directly above the current first rule; `note` says it now takes precedence.
 * - `creation_rules` missing: appended at the end.
 *
 * Comments, quoting, indentation, CRLF line endings and a missing final line break are kept.
 * @throws ConfigError when the text is not YAML or its shape cannot be edited (top level not a block mapping,
 *   `creation_rules` not a list)
 */
export function mergeCreationRule(existing: string | undefined, rule: RuleToAdd): MergeResult {
    if (existing === undefined || existing.trim() === "") return { text: freshText(rule, "\n", true), changed: true }
    const eol = existing.includes("\r\n") ? "\r\n" : "\n"
    const src = new Source(existing, eol)
    const doc = parseDocument(existing)
    if (doc.errors.length > 0) {
        throw new ConfigError(`cannot update ${CONFIG_FILE}: ${doc.errors[0].message.split("\n")[0]}`, { hint: `fix the YAML in ${CONFIG_FILE} first` })
    }
    const root = doc.contents as Node | null
    const done = (edits: Edit[], note?: string): MergeResult => {
        const text = applyEdits(existing, edits)
        // a safety net: what we wrote must load like any other config
        if (text !== existing) parseConfig(CONFIG_FILE, new TextEncoder().encode(text))
        return { text, changed: text !== existing, ...(note === undefined ? {} : { note }) }
    }
    if (root === null || (isScalar(root) && root.value === null)) {
        // only comments (or an empty document)
        const sep = existing.endsWith("\n") ? "" : eol
        return done([{ at: existing.length, del: 0, text: sep + freshText(rule, eol, false) }])
    }
    if (!isMap(root) || root.flow) {
        throw new ConfigError(`cannot update ${CONFIG_FILE}: the top level is not a block mapping`, { hint: "add the creation rule by hand" })
    }
    const rulesPair = pairOf(root, "creation_rules")
    if (rulesPair === undefined) {
        const first = root.items[0] as Pair<Node, Node | null>
        const col = first.key.range ? src.column(first.key.range[0]) : 0
        const lines = [`${" ".repeat(col)}creation_rules:`, ...blockRule(rule, `${" ".repeat(col + 2)}- `, false, 2)]
        return done([src.after(contentEnd(root, 0), lines)])
    }
    const keyCol = rulesPair.key.range ? src.column(rulesPair.key.range[0]) : 0
    const rules = rulesPair.value
    if (rules === null || (isScalar(rules) && (rules.value === null || rules.value === undefined))) {
        const colon = src.text.indexOf(":", rulesPair.key.range?.[1] ?? 0)
        const del = nullTokenEnd(src, colon, rules) - (colon + 1)
        const lines = blockRule(rule, `${" ".repeat(keyCol + 2)}- `, false, 2)
        return done([{ at: colon + 1, del, text: "" }, src.after(colon, lines)])
    }
    if (!isSeq(rules)) {
        throw new ConfigError(`cannot update ${CONFIG_FILE}: creation_rules is not a list`, { hint: "fix creation_rules first" })
    }
    const items = rules.items as Node[]
    const wantRegex = rule.path_regex ?? ""
    const index = items.findIndex((item) => isMap(item) && String((pairOf(item, "path_regex")?.value as Scalar | null)?.value ?? "") === wantRegex)
    if (index >= 0) return done(...mergeInto(src, items, index, rule))
    // a new rule, first
    if (rules.flow) {
        const open = src.text.indexOf("[", rules.range?.[0] ?? 0)
        return done([{ at: open + 1, del: 0, text: `${flowRule(rule)}${items.length > 0 ? ", " : ""}` }], precedenceNote(rule, items.length))
    }
    const firstItem = items[0]
    const prefix = (firstItem && dashPrefix(src, firstItem)) ?? `${" ".repeat(keyCol + 2)}- `
    const dashCol = prefix.indexOf("-")
    const firstMap = isMap(firstItem) ? firstItem : undefined
    const lines = blockRule(rule, prefix, usesLists(firstMap), listOffset(src, firstMap))
    if (!firstItem?.range) {
        return done([src.after(rulesPair.key.range?.[1] ?? 0, lines)], precedenceNote(rule, items.length))
    }
    // before the comment lines that sit directly above the first rule, at its indentation
    let at = src.lineStart(firstItem.range[0])
    for (;;) {
        if (at === 0) break
        const prevStart = src.lineStart(at - 1)
        const line = existing.slice(prevStart, at).replace(/\r?\n$/, "")
        const m = /^( *)#/.exec(line)
        if (!m || m[1].length < dashCol) break
        at = prevStart
    }
    return done([src.before(at, lines)], precedenceNote(rule, items.length))
}

function precedenceNote(rule: RuleToAdd, others: number): string | undefined {
    if (others === 0) return undefined
    return `the new creation rule ${describe(rule)} comes first in ${CONFIG_FILE}: it takes precedence over the ${others} existing rule${others === 1 ? "" : "s"} for the files it matches`
}

function mergeInto(src: Source, items: Node[], index: number, rule: RuleToAdd): [Edit[], string?] {
    const map = items[index] as YAMLMap
    const notes: string[] = []
    const earlierCatchAll = items.slice(0, index).some((r) => isMap(r) && String((pairOf(r, "path_regex")?.value as Scalar | null)?.value ?? "") === "")
    if (earlierCatchAll) notes.push(`an earlier creation rule without path_regex in ${CONFIG_FILE} matches every file first: the rule ${describe(rule)} is never used`)
    if (rule.encrypted_regex !== undefined) {
        const selection = ["encrypted_regex", "unencrypted_regex", "encrypted_suffix", "unencrypted_suffix", "encrypted_comment_regex", "unencrypted_comment_regex"]
            .map((k) => [k, (pairOf(map, k)?.value as Scalar | null)?.value] as const)
            .filter(([, v]) => v !== undefined && v !== null && v !== "")
        const same = selection.length === 1 && selection[0][0] === "encrypted_regex" && selection[0][1] === rule.encrypted_regex
        if (!same) {
            const what = selection.length === 0 ? "no encrypted_regex" : selection.map(([k, v]) => `${k}: ${String(v)}`).join(", ")
            notes.push(`the existing creation rule ${describe(rule)} has ${what} (left as it is; the guide uses encrypted_regex: ${rule.encrypted_regex})`)
        }
    }
    let target = map
    let group = false
    const groups = pairOf(map, "key_groups")?.value
    if (groups !== undefined && groups !== null) {
        const first = isSeq(groups) ? (groups.items[0] as Node | undefined) : undefined
        if (!isMap(first)) {
            notes.push(`the creation rule ${describe(rule)} has key_groups without a first group: keys not added`)
            return [[], notes.join("; ")]
        }
        target = first
        group = true
    }
    const edits: Edit[] = []
    for (const [field, keys] of wantedKeys(rule)) {
        const name = group ? KEY_FIELDS.find(([f]) => f === field)![1] : field
        edits.push(...addKeys(src, target, name, field, keys, group))
    }
    return [edits, notes.length > 0 ? notes.join("; ") : undefined]
}

/** The file the public key is committed to next to `.sops.yaml` (the Flux guide's `.sops.pub.asc`). */
export function publicKeyFileName(type: "age" | "pgp"): string {
    return type === "age" ? ".sops.pub.age" : ".sops.pub.asc"
}

function normaliseArmor(text: string): string {
    return text
        .replace(/\r\n/g, "\n")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "")
        .join("\n")
}

const ARMOR_BLOCK = /-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----/g

/**
 * Append a public key to the text of {@link publicKeyFileName}: an age recipient as one line, a PGP key as its
 * armored block (a blank line between blocks). Unchanged when the key is already there (same recipient line, or
 * the same armored block ignoring line endings and blank lines).
 */
export function mergePublicKeyFile(existing: string | undefined, key: string, type: "age" | "pgp"): { text: string; changed: boolean } {
    const old = existing ?? ""
    const eol = old.includes("\r\n") ? "\r\n" : "\n"
    const sep = old === "" || old.endsWith("\n") ? "" : eol
    if (type === "age") {
        const recipient = key.trim()
        if (old.split(/\r?\n/).some((l) => l.trim() === recipient)) return { text: old, changed: false }
        return { text: `${old}${sep}${recipient}${eol}`, changed: true }
    }
    const block = normaliseArmor(key)
    const present = (old.match(ARMOR_BLOCK) ?? []).some((b) => normaliseArmor(b) === block)
    if (present) return { text: old, changed: false }
    const body = key.replace(/\r?\n/g, "\n").replace(/\n*$/, "\n").split("\n").join(eol).slice(0, -eol.length) + eol
    return { text: old === "" ? body : `${old}${sep}${eol}${body}`, changed: true }
}
