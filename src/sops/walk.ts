/**
 * The tree walk (sops §3–§5): one depth-first pre-order pass that decides, for every leaf, whether it is
 * encrypted, encrypts or decrypts it with the path as AAD, and feeds the MAC.
 */
import { createHash, type Hash } from "node:crypto"
import { decryptScalars, encryptScalars, type GcmRunner, type IvSource, type IvStash, isScalar, macBytes, type Scalar, treeError } from "./cipher.js"
import type { Selection } from "./metadata.js"
import { goMatchOrFalse } from "./regex.js"
import { Branch, type Branches, Comment, type TreeItem, type TreeValue } from "./tree.js"

/** SHA-256("sops"): the seed of a MAC computed over encrypted values only. */
const MAC_ONLY_ENCRYPTED_SEED = Buffer.from("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69", "hex")

/** The default selection when a file or rule sets none. */
export const DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"

/** How many selection options are set (sops allows at most one). */
export function selectionCount(s: Selection): number {
    return [
        s.unencryptedSuffix,
        s.encryptedSuffix,
        s.unencryptedRegex,
        s.encryptedRegex,
        s.unencryptedCommentRegex,
        s.encryptedCommentRegex,
    ].filter((v) => v !== undefined && v !== "").length
}

/** The list of options sops names when more than one selection option is set. */
export const SELECTION_OPTIONS_TEXT =
    "encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex"

/** A compiled selection rule. */
export interface Rule {
    /** Key-based rules: does this single key "match" (suffix/regex)? */
    keyMatches?: (key: string) => boolean
    /** true: a matching key marks the subtree encrypted; false: a matching key marks it clear. */
    matchMeans: boolean
    /** Comment-based rules: does this comment text match? */
    commentRegex?: { test(text: string): boolean }
}

/**
 * Compile a file's selection option (the default: `unencrypted_suffix: _unencrypted`). Regexes are Go's (RE2,
 * unanchored search); one Go refuses matches nothing, as in sops' walk (it ignores `regexp.Match`'s error).
 */
export function compileRule(s: Selection): Rule {
    if (s.encryptedSuffix) {
        const suffix = s.encryptedSuffix
        return { keyMatches: (k) => k.endsWith(suffix), matchMeans: true }
    }
    if (s.unencryptedRegex) {
        return { keyMatches: goMatchOrFalse(s.unencryptedRegex), matchMeans: false }
    }
    if (s.encryptedRegex) {
        return { keyMatches: goMatchOrFalse(s.encryptedRegex), matchMeans: true }
    }
    if (s.unencryptedCommentRegex) return { matchMeans: false, commentRegex: { test: goMatchOrFalse(s.unencryptedCommentRegex) } }
    if (s.encryptedCommentRegex) return { matchMeans: true, commentRegex: { test: goMatchOrFalse(s.encryptedCommentRegex) } }
    const suffix = s.unencryptedSuffix || DEFAULT_UNENCRYPTED_SUFFIX
    return { keyMatches: (k) => k.endsWith(suffix), matchMeans: false }
}

/**
 * Every leaf of a document in walk order, with where it lives, its AAD and whether it is encrypted. Collecting
 * first lets the value cipher work in batches (one AES call per few thousand values).
 */
class Leaves {
    readonly holders: (TreeItem | TreeValue[])[] = []
    /** "key" / "value" of a TreeItem, or the index in a list. */
    readonly fields: ("key" | "value" | number)[] = []
    readonly values: Scalar[] = []
    readonly aads: string[] = []
    readonly encrypted: boolean[] = []
    /** The tree path of each leaf, only when the walker records them. */
    readonly paths: string[] = []

    set(i: number, v: Scalar): void {
        const holder = this.holders[i]
        const field = this.fields[i]
        if (Array.isArray(holder)) holder[field as number] = v
        else if (field === "key") holder.key = v as Comment
        else holder.value = v
    }
}

class Walker {
    private readonly rule: Rule
    private readonly stack: string[][] = []
    private readonly trackComments: boolean
    readonly leaves = new Leaves()
    /** The keys and indices down to the current node, when recording paths (for error messages). */
    private readonly path: (string | number)[] | undefined
    /** Prefix of the recorded paths (which document of several). */
    document = ""

    constructor(selection: Selection, recordPaths = false) {
        this.rule = compileRule(selection)
        this.trackComments = this.rule.commentRegex !== undefined
        this.path = recordPaths ? [] : undefined
    }

    /** Decide for a leaf; `matched` = some key on its path matched a key rule. */
    private shouldEncrypt(matched: boolean, isComment: boolean): boolean {
        const rule = this.rule
        if (rule.keyMatches) return rule.matchMeans ? matched : !matched
        const re = rule.commentRegex!
        const levels = this.stack
        if (rule.matchMeans) {
            // encrypted_comment_regex: any comment in the stack, except the leaf itself when it is a comment
            for (let i = 0; i < levels.length; i++) {
                const level = levels[i]
                const end = isComment && i === levels.length - 1 ? level.length - 1 : level.length
                for (let j = 0; j < end; j++) if (re.test(level[j])) return true
            }
            return false
        }
        for (const level of levels) for (const text of level) if (re.test(text)) return false
        return true
    }

    private leaf(holder: TreeItem | TreeValue[], field: "key" | "value" | number, v: Scalar, aad: string, matched: boolean): void {
        const l = this.leaves
        l.holders.push(holder)
        l.fields.push(field)
        l.values.push(v)
        l.aads.push(aad || ":")
        l.encrypted.push(this.shouldEncrypt(matched, v instanceof Comment))
        if (this.path) l.paths.push(this.document + formatPath(this.path, v instanceof Comment))
    }

    private value(holder: TreeItem | TreeValue[], field: "value" | number, v: TreeValue, prefix: string, matched: boolean): void {
        if (v === null) return
        if (v instanceof Branch) this.map(v.items, prefix, matched)
        else if (Array.isArray(v)) this.list(v, prefix, matched)
        else if (isScalar(v)) this.leaf(holder, field, v, prefix, matched)
    }

    map(items: TreeItem[], prefix: string, matched: boolean): void {
        const track = this.trackComments
        const level: string[] = []
        if (track) this.stack.push(level)
        const keyMatches = this.rule.keyMatches
        for (const item of items) {
            const key = item.key
            if (key instanceof Comment) {
                if (track) level.push(key.value)
                this.leaf(item, "key", key, prefix, matched)
                continue
            }
            if (typeof key !== "string") throw new Error(`Tree contains a non-string key (type ${typeof key})`)
            const childMatched = matched || keyMatches?.(key) === true
            this.path?.push(key)
            this.value(item, "value", item.value, `${prefix}${key}:`, childMatched)
            this.path?.pop()
            if (track) level.length = 0
        }
        if (track) this.stack.pop()
    }

    list(elems: TreeValue[], prefix: string, matched: boolean): void {
        const track = this.trackComments
        const level: string[] = []
        if (track) this.stack.push(level)
        for (let i = 0; i < elems.length; i++) {
            const e = elems[i]
            const isComment = e instanceof Comment
            if (track && isComment) level.push(e.value)
            this.path?.push(i)
            this.value(elems, i, e, prefix, matched)
            this.path?.pop()
            if (track && !isComment) level.length = 0
        }
        if (track) this.stack.pop()
    }
}

/** Options of a walk. */
export interface WalkOptions {
    selection: Selection
    macOnlyEncrypted: boolean
    /** Seals/opens large batches (the CLI's worker pool); default: all on this thread. */
    gcm?: GcmRunner
}

/** Hash a value's MAC bytes; strings go in as UTF-8 directly (no Buffer per value on large files). */
function hashValue(hash: Hash, v: Scalar): void {
    if (typeof v === "string") hash.update(v, "utf8")
    else hash.update(macBytes(v))
}

function newHash(macOnlyEncrypted: boolean): Hash {
    const hash = createHash("sha512")
    if (macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_SEED)
    return hash
}

/** A tree path as `["data"]["password"]` (keys are clear in every file; values are never part of it). */
function formatPath(parts: readonly (string | number)[], comment: boolean): string {
    const text = parts.map((p) => (typeof p === "number" ? `[${p}]` : `[${JSON.stringify(p)}]`)).join("")
    return comment ? `a comment under ${text || "the top level"}` : text || "the top level"
}

function collect(branches: Branches, selection: Selection, recordPaths = false): Leaves {
    const walker = new Walker(selection, recordPaths)
    for (let d = 0; d < branches.length; d++) {
        if (recordPaths && branches.length > 1) walker.document = `document ${d + 1}: `
        walker.map(branches[d].items, "", false)
    }
    return walker.leaves
}

/** The path of leaf `i` in walk order (walked again only when an error needs it). */
function leafPath(branches: Branches, selection: Selection, i: number): string {
    return collect(branches, selection, true).paths[i]
}

/**
 * Encrypt every selected leaf IN PLACE and compute the MAC over the plaintexts.
 * @returns the MAC as upper-case hex
 * @throws KsopsError (EncryptingTree) on a non-string key or a forbidden comment
 */
export function encryptBranches(
    branches: Branches,
    dataKey: Uint8Array,
    opts: WalkOptions,
    nextIv: IvSource,
    stash?: IvStash,
): string {
    const hash = newHash(opts.macOnlyEncrypted)
    const uncomment = opts.selection.unencryptedCommentRegex ? goMatchOrFalse(opts.selection.unencryptedCommentRegex) : undefined
    try {
        const leaves = collect(branches, opts.selection)
        const { values, aads, encrypted } = leaves
        const idx: number[] = []
        for (let i = 0; i < values.length; i++) {
            const v = values[i]
            const isComment = v instanceof Comment
            if (!isComment && (encrypted[i] || !opts.macOnlyEncrypted)) hashValue(hash, v)
            if (encrypted[i]) idx.push(i)
        }
        const sealed = encryptScalars(
            idx.map((i) => values[i]),
            idx.map((i) => aads[i]),
            dataKey,
            nextIv,
            stash,
            opts.gcm,
        )
        for (let j = 0; j < idx.length; j++) {
            const i = idx[j]
            const v = values[i]
            if (v instanceof Comment) {
                if (uncomment?.(sealed[j])) throw new Error(`Encrypted comment ${JSON.stringify(sealed[j])} matches UnencryptedCommentRegex!`)
                leaves.set(i, new Comment(sealed[j], v.inline))
            } else leaves.set(i, sealed[j])
        }
    } catch (e) {
        throw treeError(false, e)
    }
    return hash.digest("hex").toUpperCase()
}

/**
 * Decrypt every selected leaf IN PLACE and compute the MAC over the plaintexts.
 * @param raw - keep `str` plaintexts as bytes (binary store)
 * @param warn - told about comments that stay clear because they do not decrypt (pre-3.0 files)
 * @returns the MAC as upper-case hex
 * @throws KsopsError (DecryptingTree, exit 25) when a value does not decrypt (the first one in walk order)
 */
export function decryptBranches(
    branches: Branches,
    dataKey: Uint8Array,
    opts: WalkOptions,
    stash?: IvStash,
    raw = false,
    warn?: (message: string) => void,
): string {
    const hash = newHash(opts.macOnlyEncrypted)
    let leaves: Leaves
    try {
        leaves = collect(branches, opts.selection)
    } catch (e) {
        throw treeError(true, e)
    }
    const { values, aads, encrypted } = leaves
    const idx: number[] = []
    const strings: string[] = []
    for (let i = 0; i < values.length; i++) {
        if (!encrypted[i]) continue
        const v = values[i]
        idx.push(i)
        strings.push(v instanceof Comment ? v.value : typeof v === "string" ? v : "")
    }
    const plains = decryptScalars(
        strings,
        idx.map((i) => aads[i]),
        dataKey,
        stash,
        raw,
        opts.gcm,
    )
    let j = 0
    let warned = false
    for (let i = 0; i < values.length; i++) {
        const v = values[i]
        let out: Scalar = v
        if (encrypted[i]) {
            const plain = plains[j++]
            if (v instanceof Comment) {
                if (plain instanceof Error) {
                    if (!warned) warn?.("a comment did not decrypt and stays as it is (possibly an unencrypted comment)")
                    warned = true
                } else out = new Comment(plain instanceof Comment ? plain.value : String(plain), v.inline)
            } else if (typeof v !== "string") {
                throw treeError(true, new Error(`Expected encrypted value as string, but got ${describe(v)}`), leafPath(branches, opts.selection, i))
            } else if (plain instanceof Error) {
                throw treeError(true, plain, leafPath(branches, opts.selection, i))
            } else out = plain
            leaves.set(i, out)
        }
        if (!(out instanceof Comment) && (encrypted[i] || !opts.macOnlyEncrypted)) hashValue(hash, out)
    }
    return hash.digest("hex").toUpperCase()
}

function describe(v: Scalar): string {
    if (typeof v === "bigint") return "int"
    if (typeof v === "number") return "float64"
    if (typeof v === "boolean") return "bool"
    return "time.Time"
}
