/**
 * The `sops` metadata block: typed {@link Metadata} ↔ the plain tree a store reads and writes.
 */
import { ErrorKind, FormatError, KsopsError } from "../errors.js"
import { formatFloat } from "./go-format.js"
import { type KeyEntry, type KeyGroup, METADATA_KEY_TYPES } from "./keys.js"
import { parseRfc3339 } from "./time.js"
import { Branch, branchOf, Comment, type TreeValue } from "./tree.js"
import { SELECTION_OPTIONS_TEXT as SELECTION_OPTIONS } from "./walk.js"

/** Which leaves are encrypted. At most one field may be set (sops' rule); none means `_unencrypted` suffix. */
export interface Selection {
    unencryptedSuffix?: string
    encryptedSuffix?: string
    unencryptedRegex?: string
    encryptedRegex?: string
    unencryptedCommentRegex?: string
    encryptedCommentRegex?: string
}

/** Typed metadata of an encrypted file. */
export interface Metadata {
    keyGroups: KeyGroup[]
    /** 0 when unset (single group). */
    shamirThreshold: number
    /** `lastmodified` exactly as stored. */
    lastModified: string
    /** The encrypted MAC (`ENC[…]`), or "" when absent. */
    mac: string
    selection: Selection
    macOnlyEncrypted: boolean
    version: string
}

/** The version string kubectl-sops writes (the sops release whose format it follows). */
export const SOPS_VERSION = "3.13.2"

/** The six selection options: metadata / `.sops.yaml` field name and {@link Selection} property. */
export const SELECTION_FIELDS = [
    ["unencrypted_suffix", "unencryptedSuffix"],
    ["encrypted_suffix", "encryptedSuffix"],
    ["unencrypted_regex", "unencryptedRegex"],
    ["encrypted_regex", "encryptedRegex"],
    ["unencrypted_comment_regex", "unencryptedCommentRegex"],
    ["encrypted_comment_regex", "encryptedCommentRegex"],
] as const

/** Types whose entries carry no `created_at`. */
const NO_CREATED_AT = new Set(["age"])

function bad(detail: string): FormatError {
    return new FormatError(`invalid sops metadata: ${detail}`, undefined, {
        hint: "the `sops` block was edited by hand or written by an incompatible tool",
    })
}

/** Weak coercion of a metadata value to a string (mapstructure's WeaklyTypedInput). */
function asString(v: TreeValue | undefined, field: string): string {
    if (v === undefined || v === null) return ""
    if (typeof v === "string") return v
    if (typeof v === "bigint") return v.toString()
    if (typeof v === "number") return formatFloat(v, "f")
    if (typeof v === "boolean") return v ? "1" : "0"
    throw bad(`field ${field} must be a string`)
}

function asInt(v: TreeValue | undefined, field: string): number {
    if (v === undefined || v === null) return 0
    if (typeof v === "bigint") return Number(v)
    if (typeof v === "number" && Number.isInteger(v)) return v
    if (typeof v === "string" && /^[+-]?\d+$/.test(v)) return Number(v)
    if (typeof v === "string" && v === "") return 0
    throw bad(`field ${field} must be an integer`)
}

function asBool(v: TreeValue | undefined, field: string): boolean {
    if (v === undefined || v === null) return false
    if (typeof v === "boolean") return v
    if (typeof v === "string" && ["1", "t", "T", "TRUE", "true", "True", ""].includes(v)) return v !== ""
    if (typeof v === "string" && ["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false
    if (typeof v === "bigint") return v !== 0n
    throw bad(`field ${field} must be a boolean`)
}

function asList(v: TreeValue | undefined, field: string): TreeValue[] {
    if (v === undefined || v === null) return []
    if (Array.isArray(v)) return v.filter((e) => !(e instanceof Comment))
    throw bad(`field ${field} must be a list`)
}

function checkTime(s: string, field: string): void {
    try {
        parseRfc3339(s)
    } catch {
        throw bad(`field ${field}: parsing time ${JSON.stringify(s)} as RFC 3339 failed`)
    }
}

function entryFromTree(type: string, raw: TreeValue): KeyEntry {
    if (!(raw instanceof Branch)) throw bad(`entries of ${type} must be maps`)
    const params: Record<string, string | Record<string, string>> = {}
    let enc = ""
    let createdAt: string | undefined
    for (const item of raw.items) {
        if (item.key instanceof Comment) continue
        const k = item.key
        if (k === "enc") enc = asString(item.value, `${type}.enc`)
        else if (k === "created_at") {
            createdAt = asString(item.value, `${type}.created_at`)
            checkTime(createdAt, `${type}.created_at`)
        } else if (item.value instanceof Branch) {
            const map: Record<string, string> = {}
            for (const sub of item.value.items) if (!(sub.key instanceof Comment)) map[sub.key] = asString(sub.value, `${type}.${k}`)
            params[k] = map
        } else params[k] = asString(item.value, `${type}.${k}`)
    }
    return createdAt === undefined ? { type, params, enc } : { type, params, enc, createdAt }
}

function groupFromTree(get: (key: string) => TreeValue | undefined): KeyEntry[] {
    const group: KeyEntry[] = []
    for (const type of METADATA_KEY_TYPES) for (const raw of asList(get(type), type)) group.push(entryFromTree(type, raw))
    return group
}

/**
 * Read the `sops` metadata tree (any order, unknown fields ignored, weak typing, legacy empty lists).
 * @throws FormatError on malformed metadata; KsopsError when more than one selection option is set
 */
export function metadataFromTree(tree: Branch): Metadata {
    const get = (key: string): TreeValue | undefined => tree.get(key)
    const lastModified = asString(get("lastmodified"), "lastmodified")
    checkTime(lastModified, "lastmodified")
    const selection: Selection = {}
    for (const [field, prop] of SELECTION_FIELDS) {
        const v = asString(get(field), field)
        if (v !== "") selection[prop] = v
    }
    if (Object.keys(selection).length > 1) {
        throw new KsopsError(ErrorKind.Generic, `Cannot use more than one of ${SELECTION_OPTIONS} in the same file`)
    }
    let keyGroups: KeyEntry[][]
    const top = groupFromTree(get)
    if (top.length > 0) keyGroups = [top]
    else {
        keyGroups = asList(get("key_groups"), "key_groups").map((g) => {
            if (!(g instanceof Branch)) throw bad("key_groups entries must be maps")
            return groupFromTree((k) => g.get(k))
        })
        if (keyGroups.length === 0) throw new KsopsError(ErrorKind.Generic, "No keys found in file")
    }
    const version = asString(get("version"), "version")
    if (!/^v?\d+\.\d+\.\d+/.test(version) && !version.startsWith("1.")) throw bad(`version ${JSON.stringify(version)} is not a valid version`)
    return {
        keyGroups,
        shamirThreshold: asInt(get("shamir_threshold"), "shamir_threshold"),
        lastModified,
        mac: asString(get("mac"), "mac"),
        selection,
        macOnlyEncrypted: asBool(get("mac_only_encrypted"), "mac_only_encrypted"),
        version,
    }
}

function sortedBranch(entries: [string, TreeValue][]): Branch {
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    return branchOf(entries)
}

function entryToTree(e: KeyEntry): Branch {
    const fields: [string, TreeValue][] = []
    for (const [k, v] of Object.entries(e.params)) {
        fields.push([k, typeof v === "string" ? v : sortedBranch(Object.entries(v))])
    }
    fields.push(["enc", e.enc])
    if (!NO_CREATED_AT.has(e.type) && e.createdAt !== undefined) fields.push(["created_at", e.createdAt])
    return sortedBranch(fields)
}

function groupToEntries(group: KeyGroup, always: readonly string[]): [string, TreeValue][] {
    const byType = new Map<string, Branch[]>()
    for (const t of always) byType.set(t, [])
    for (const e of group) {
        const list = byType.get(e.type) ?? []
        list.push(entryToTree(e))
        byType.set(e.type, list)
    }
    return [...byType.entries()].filter(([t, l]) => l.length > 0 || always.includes(t))
}

/**
 * Build the metadata tree exactly as sops 3.13 writes it: every map level sorted by key, one group as top-level
 * lists, several groups as `key_groups` (with `age` and `hc_vault` always present) plus `shamir_threshold`.
 */
export function metadataToTree(m: Metadata): Branch {
    const fields: [string, TreeValue][] = []
    if (m.keyGroups.length === 1) fields.push(...groupToEntries(m.keyGroups[0], []))
    else {
        fields.push(["key_groups", m.keyGroups.map((g) => sortedBranch(groupToEntries(g, ["age", "hc_vault"])))])
    }
    if (m.shamirThreshold !== 0) fields.push(["shamir_threshold", BigInt(m.shamirThreshold)])
    fields.push(["lastmodified", m.lastModified], ["mac", m.mac], ["version", m.version])
    if (m.macOnlyEncrypted) fields.push(["mac_only_encrypted", true])
    for (const [field, prop] of SELECTION_FIELDS) {
        const v = m.selection[prop]
        if (v) fields.push([field, v])
    }
    return sortedBranch(fields)
}
