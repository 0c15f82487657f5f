/**
 * Whole-document operations: encrypt, decrypt (with data-key recovery and MAC check), re-encrypt after an edit,
 * rotate, and update keys. Pure: randomness and time come from {@link Entropy}; key wrapping from a KeyService.
 * Trees are changed in place (large files stay cheap).
 */
import { timingSafeEqual } from "node:crypto"
import { ErrorKind, type GroupAttempts, KsopsError, MacMismatchError, NoKeyMatchedError } from "../errors.js"
import { decryptScalar, encryptScalar, type GcmRunner, type IvSource, IvStash } from "./cipher.js"
import type { KeyEntry, KeyGroup, KeyService } from "./keys.js"
import { type Metadata, SOPS_VERSION, type Selection } from "./metadata.js"
import { shamirCombine, shamirSplit } from "./shamir.js"
import { formatDateSeconds, formatRfc3339Seconds, parseRfc3339 } from "./time.js"
import type { Branches } from "./tree.js"
import { DEFAULT_UNENCRYPTED_SUFFIX, decryptBranches, encryptBranches, selectionCount } from "./walk.js"

/** Randomness and time, injected. */
export interface Entropy {
    randomBytes(n: number): Uint8Array
    now(): Date
    /** Seals large documents' values, possibly on several threads (the CLI's worker pool); default: this thread. */
    gcm?: GcmRunner
}

/** What to encrypt a new document with. */
export interface EncryptParams {
    keyGroups: KeyGroup[]
    /** 0 or undefined: all groups needed (when more than one). */
    shamirThreshold?: number
    selection: Selection
    macOnlyEncrypted?: boolean
    /** The binary store: no selection options, no MAC-only. */
    binary?: boolean
}

/** Options for decryption. */
export interface DecryptOptions {
    ignoreMac?: boolean
    /** Key types to try first, in order (sops' `--decryption-order`); others follow in file order. */
    decryptionOrder?: readonly string[]
    /** Keep `str` values as bytes (binary store). */
    raw?: boolean
    /** Told about recoverable oddities (clear comments in old files). */
    warn?: (message: string) => void
    /** Remember every value's IV for a later re-encryption (edit, set, unset, rotate). Default true. */
    keepIvs?: boolean
    /** Opens large documents' values, possibly on several threads (the CLI's worker pool); default: this thread. */
    gcm?: GcmRunner
}

/** The result of a decryption: the data key (to re-encrypt after changes) and the IVs seen. */
export interface Decrypted {
    dataKey: Uint8Array
    /** The IVs seen, unless `keepIvs` was false. */
    stash: IvStash | undefined
}

/** A pool of fresh 32-byte IVs: one random call for many values, growing with the document (small files stay cheap). */
function ivSource(entropy: Entropy): IvSource {
    let pool: Buffer = Buffer.alloc(0)
    let offset = 0
    let size = 8
    return () => {
        if (offset + 32 > pool.length) {
            const bytes = entropy.randomBytes(32 * size)
            pool = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
            offset = 0
            size = Math.min(size * 4, 4096)
        }
        const iv = pool.subarray(offset, offset + 32)
        offset += 32
        return iv
    }
}

function keyError(message: string, hint?: string): KsopsError {
    return new KsopsError(ErrorKind.NoEncryptionKey, `Could not generate data key: [${message}]`, {
        hint: hint ?? "give keys with --age/--pgp (or SOPS_AGE_RECIPIENTS/SOPS_PGP_FP) or a .sops.yaml creation rule",
    })
}

/**
 * Wrap a data key for every key of every group (Shamir-split across groups when there are several).
 * @returns the groups with `enc` (and `created_at` for new entries) filled, and the effective threshold
 */
export async function wrapDataKey(
    dataKey: Uint8Array,
    groups: readonly KeyGroup[],
    threshold: number,
    keys: KeyService,
    entropy: Entropy,
): Promise<{ keyGroups: KeyEntry[][]; shamirThreshold: number }> {
    if (groups.length === 0) throw keyError("no key groups provided")
    if (groups.some((g) => g.length === 0)) throw keyError("empty key group provided")
    let parts: Uint8Array[] = [dataKey]
    let effective = 0
    if (groups.length > 1) {
        effective = threshold || groups.length
        try {
            parts = shamirSplit(dataKey, groups.length, effective, (n) => entropy.randomBytes(n))
        } catch (e) {
            throw keyError((e as Error).message)
        }
    }
    const createdAt = formatDateSeconds(entropy.now())
    const failures: string[] = []
    let failureHint: string | undefined
    const keyGroups = await Promise.all(
        groups.map((group, i) =>
            Promise.all(
                group.map(async (entry): Promise<KeyEntry> => {
                    try {
                        const enc = await keys.encrypt(entry, parts[i])
                        return entry.type === "age" ? { ...entry, enc } : { ...entry, enc, createdAt: entry.createdAt ?? createdAt }
                    } catch (e) {
                        failures.push(`failed to encrypt new data key with master key ${JSON.stringify(keys.keyId(entry))}: ${(e as Error).message}`)
                        // a key that failed (a key service's 403, 404, …) says what to do better than the generic hint
                        failureHint ??= e instanceof KsopsError ? e.hint : undefined
                        return entry
                    }
                }),
            ),
        ),
    )
    if (groups.length > 1) for (const p of parts) p.fill(0)
    if (failures.length > 0) throw keyError(failures.join(" "), failureHint)
    return { keyGroups, shamirThreshold: effective }
}

function orderGroup(group: KeyGroup, order: readonly string[] | undefined): KeyEntry[] {
    if (!order || order.length === 0) return [...group]
    const first: KeyEntry[] = []
    for (const type of order) for (const e of group) if (e.type === type) first.push(e)
    return [...first, ...group.filter((e) => !order.includes(e.type))]
}

/** Wrap error text like sops does: lines of about 60 columns. */
function wrapText(text: string, width: number): string[] {
    const lines: string[] = []
    let line = ""
    for (const word of text.split(/\s+/).filter(Boolean)) {
        if (line && line.length + 1 + word.length > width) {
            lines.push(line)
            line = word
        } else line = line ? `${line} ${word}` : word
    }
    if (line) lines.push(line)
    return lines
}

/** sops' user error when no data key could be recovered (`getDataKeyWithKeyServices`), without colour. */
export function recoveryReport(groups: readonly GroupAttempts[], threshold: number, recovered: number): string {
    const out = ["Failed to get the data key required to decrypt the SOPS file.", ""]
    for (const g of groups) {
        out.push(`Group ${g.group}: ${g.ok ? "SUCCESS" : "FAILED"}`)
        for (const a of g.attempts) {
            out.push(`  ${a.key}: FAILED`)
            for (const [i, l] of wrapText(a.error, 60).entries()) out.push(`    ${i === 0 ? "- | " : "  | "}${l}`)
        }
        out.push("")
    }
    if (threshold <= 1) {
        out.push(
            "Recovery failed because no master key was able to decrypt the file. In",
            "order for SOPS to recover the file, at least one key has to be successful,",
            "but none were.",
        )
    } else {
        out.push(
            ...wrapText(
                `Recovery failed because the file was encrypted with a Shamir threshold of ${threshold}, but only ${recovered} part(s) were successfully recovered, one for each successful key group. In order for SOPS to recover the file, at least ${threshold} groups have to be successful. In order for a group to be successful, decryption has to succeed with any of the keys in that key group.`,
                74,
            ),
        )
    }
    return out.join("\n")
}

/**
 * Recover the data key: every group is tried, each group's keys in decryption order until one works.
 * @throws KsopsError DuplicateDecryptionKeyType (112) for a repeated type in the order;
 *         NoKeyMatchedError (128) with sops' per-group report when too few groups succeed
 */
export async function recoverDataKey(md: Metadata, keys: KeyService, order?: readonly string[]): Promise<Uint8Array> {
    if (order && new Set(order).size !== order.length) {
        throw new KsopsError(ErrorKind.DuplicateDecryptionKeyType, `Duplicate decryption key type in order: ${order.join(",")}`)
    }
    const results = await Promise.all(
        md.keyGroups.map(async (group, i) => {
            const attempts: GroupAttempts = { group: i, ok: false, attempts: [] }
            for (const entry of orderGroup(group, order)) {
                try {
                    const part = await keys.decrypt(entry)
                    attempts.ok = true
                    return { part, attempts }
                } catch (e) {
                    attempts.attempts.push({ key: keys.keyId(entry), error: (e as Error).message })
                }
            }
            return { part: undefined, attempts }
        }),
    )
    const parts = results.flatMap((r) => (r.part ? [r.part] : []))
    const threshold = md.keyGroups.length > 1 ? md.shamirThreshold || md.keyGroups.length : 1
    if (parts.length < threshold || parts.length === 0) {
        const groups = results.map((r) => r.attempts)
        throw new NoKeyMatchedError(recoveryReport(groups, threshold, parts.length), groups, {
            hint: "make the private key available (SOPS_AGE_KEY_FILE, ~/.config/sops/age/keys.txt, or the GnuPG keyring)",
        })
    }
    if (md.keyGroups.length === 1) return parts[0]
    try {
        const key = shamirCombine(parts)
        for (const p of parts) p.fill(0)
        return key
    } catch (e) {
        throw new KsopsError(ErrorKind.CouldNotRetrieveKey, `could not combine the key groups' shares: ${(e as Error).message}`)
    }
}

function effectiveSelection(s: Selection): Selection {
    return selectionCount(s) === 0 ? { unencryptedSuffix: DEFAULT_UNENCRYPTED_SUFFIX } : s
}

function seal(
    branches: Branches,
    md: Omit<Metadata, "mac" | "lastModified">,
    dataKey: Uint8Array,
    nextIv: IvSource,
    now: Date,
    stash?: IvStash,
    gcm?: GcmRunner,
): Metadata {
    const walk = { selection: md.selection, macOnlyEncrypted: md.macOnlyEncrypted, ...(gcm ? { gcm } : {}) }
    const mac = encryptBranches(branches, dataKey, walk, nextIv, stash)
    const lastModified = formatDateSeconds(now)
    let encMac: string
    try {
        encMac = encryptScalar(mac, dataKey, lastModified, nextIv)
    } catch (e) {
        throw new KsopsError(ErrorKind.EncryptingMac, `Could not encrypt MAC: ${(e as Error).message}`)
    }
    return { ...md, lastModified, mac: encMac }
}

/**
 * Encrypt a plaintext document in place with a fresh data key.
 * @returns the new metadata
 */
export async function encryptDocument(branches: Branches, params: EncryptParams, keys: KeyService, entropy: Entropy): Promise<Metadata> {
    const dataKey = Buffer.from(entropy.randomBytes(32))
    try {
        const wrapped = await wrapDataKey(dataKey, params.keyGroups, params.shamirThreshold ?? 0, keys, entropy)
        const selection = params.binary ? {} : effectiveSelection(params.selection)
        return seal(
            branches,
            { ...wrapped, selection, macOnlyEncrypted: params.binary ? false : (params.macOnlyEncrypted ?? false), version: SOPS_VERSION },
            dataKey,
            ivSource(entropy),
            entropy.now(),
            undefined,
            entropy.gcm,
        )
    } finally {
        dataKey.fill(0)
    }
}

/**
 * Decrypt and check the MAC string of a document against the computed one. The computed MAC is never printed: it
 * hashes every plaintext value, so it would let anyone who sees the message test guesses of short secrets offline.
 */
function verifyMac(md: Metadata, dataKey: Uint8Array, computed: string): void {
    if (md.mac === "") throw new MacMismatchError("MAC mismatch. File has no MAC")
    let stored: string
    try {
        const aad = formatRfc3339Seconds(parseRfc3339(md.lastModified))
        stored = String(decryptScalar(md.mac, dataKey, aad))
    } catch (e) {
        throw new MacMismatchError(`Cannot decrypt MAC: ${(e as Error).message}`)
    }
    const a = Buffer.from(stored, "utf8")
    const b = Buffer.from(computed, "utf8")
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new MacMismatchError(`MAC mismatch. File has ${stored}`)
}

/**
 * Decrypt a document in place: recover the data key, decrypt every value, check the MAC.
 * @throws NoKeyMatchedError (128), KsopsError DecryptingTree (25), MacMismatchError (51)
 */
export async function decryptDocument(branches: Branches, md: Metadata, keys: KeyService, opts: DecryptOptions = {}): Promise<Decrypted> {
    const dataKey = await recoverDataKey(md, keys, opts.decryptionOrder)
    const stash = opts.keepIvs === false ? undefined : new IvStash()
    const computed = decryptBranches(
        branches,
        dataKey,
        { selection: md.selection, macOnlyEncrypted: md.macOnlyEncrypted, ...(opts.gcm ? { gcm: opts.gcm } : {}) },
        stash,
        opts.raw ?? false,
        opts.warn,
    )
    if (!opts.ignoreMac) verifyMac(md, dataKey, computed)
    return { dataKey, stash }
}

/**
 * Re-encrypt a changed plaintext document in place with its existing data key (edit, set, unset): unchanged
 * values reuse their IVs, so they produce the same ciphertext.
 * @returns the metadata with a new `lastmodified` and MAC
 */
export function reencryptDocument(branches: Branches, md: Metadata, dataKey: Uint8Array, stash: IvStash | undefined, entropy: Entropy): Metadata {
    return seal(branches, md, dataKey, ivSource(entropy), entropy.now(), stash, entropy.gcm)
}

/** Keys to add to the first group and a predicate for keys to remove from every group. */
export interface KeyChange {
    add?: readonly KeyEntry[]
    remove?: (entry: KeyEntry) => boolean
}

/** Apply a {@link KeyChange} to key groups (deduplicating by key id). */
export function changeKeyGroups(groups: readonly KeyGroup[], change: KeyChange, keys: KeyService): KeyEntry[][] {
    const out = groups.map((g) => g.filter((e) => !change.remove?.(e)))
    if (change.add && change.add.length > 0) {
        if (out.length === 0) out.push([])
        const first = out[0]
        for (const e of change.add) {
            const id = `${e.type}\u0000${keys.keyId(e)}`
            if (!first.some((x) => `${x.type}\u0000${keys.keyId(x)}` === id)) first.push(e)
        }
    }
    return out
}

/**
 * Rotate: a new data key for a decrypted document, wrapped for the (changed) key groups; every value re-encrypted
 * in place (with the IVs of the stash, as sops does: the new key makes the ciphertexts differ anyway).
 */
export async function rotateDocument(
    branches: Branches,
    md: Metadata,
    keys: KeyService,
    entropy: Entropy,
    change: KeyChange = {},
    stash?: IvStash,
): Promise<Metadata> {
    const groups = changeKeyGroups(md.keyGroups, change, keys)
    const dataKey = Buffer.from(entropy.randomBytes(32))
    try {
        const wrapped = await wrapDataKey(
            dataKey,
            groups.map((g) => g.map((e) => ({ ...e, enc: "" }))),
            md.shamirThreshold,
            keys,
            entropy,
        )
        return seal(branches, { ...md, ...wrapped }, dataKey, ivSource(entropy), entropy.now(), stash, entropy.gcm)
    } finally {
        dataKey.fill(0)
    }
}

/**
 * Replace the key groups (updatekeys): the existing data key is wrapped for the new groups; values, MAC and
 * `lastmodified` stay as they are.
 */
export async function updateKeys(md: Metadata, dataKey: Uint8Array, groups: readonly KeyGroup[], shamirThreshold: number, keys: KeyService, entropy: Entropy): Promise<Metadata> {
    const wrapped = await wrapDataKey(dataKey, groups, shamirThreshold, keys, entropy)
    return { ...md, ...wrapped }
}
