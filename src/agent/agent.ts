/**
 * The agent's logic, with no I/O of its own: keys from a {@link Keychain} (loaded lazily), unlocked keys and
 * unwrapped data keys in TTL caches with gpg-agent semantics, and the operations the protocol exposes. The server
 * (src/agent/server.ts) puts it on a socket; tests drive it directly too.
 *
 * Private material never leaves: {@link Agent.unwrap} returns data keys (or Shamir parts), and only
 * {@link Agent.exportKey} with `secret: true` returns a private key (as stored: still protected if it was).
 *
 * Private material is held only where it must be: unlocked keys in their TTL cache. What the agent knows of the
 * keychain's keys otherwise is metadata (no `secret`); a secret is read from the keychain when a key is unlocked
 * or exported and dropped right after. `lock`, and the idle TTL after the keychain's last use, also make the
 * keychain forget what it holds in memory (a file keychain's passphrase and decrypted contents).
 */
import { createHash } from "node:crypto"
import { KsopsError } from "../errors.js"
import { generateKey } from "../keys/generate.js"
import { exportKey, importKeys } from "../keys/keyfile.js"
import {
    PassphraseError,
    type PgpRsaKey,
    type StoredKey,
    type UnlockedKey,
    parseStoredKey,
    storedKeyToJson,
    unlockKey,
} from "../keys/keystore.js"
import type { KeyEntry } from "../sops/keys.js"
import { TtlCache } from "./cache.js"
import type { Keychain } from "./keychain.js"
import {
    AgentErrorCode,
    AgentProtocolError,
    type ExportResult,
    type GenerateParams,
    type ImportParams,
    type KeyInfo,
    type LockResult,
    PROTOCOL_VERSION,
    type StatusResult,
    UNLOCK_HINT,
} from "./protocol.js"

/** Raw RSA decryption (no padding) of a ciphertext left-padded to the modulus, e.g. on the worker pool. */
export type RsaDecrypt = (key: PgpRsaKey, padded: Uint8Array) => Promise<Uint8Array>

/**
 * Unwraps one entry with one unlocked key: the part, or null when the entry is not for this key. `rsaDecrypt`,
 * when the unwrapper supports it, moves the RSA private-key operation off the main thread.
 */
export type Unwrapper = (entry: KeyEntry, key: UnlockedKey, options?: { rsaDecrypt?: RsaDecrypt }) => Promise<Uint8Array | null>

/** Options of an {@link Agent}. */
export interface AgentOptions {
    keychain: Keychain
    /** Idle TTL of unlocked keys and cached data keys, ms (gpg-agent default-cache-ttl: 600 s). */
    idleTtlMs?: number
    /** Hard TTL from insertion, ms (gpg-agent max-cache-ttl: 7200 s). */
    maxTtlMs?: number
    /** Unwrap function (default: `unwrapWith` from src/keys/unwrap.ts, loaded lazily). */
    unwrapper?: Unwrapper
    /** RSA on worker threads (see src/agent/workers.ts); default: in the calling thread. */
    rsaDecrypt?: RsaDecrypt
    /** Clock in ms (default Date.now). */
    now?: () => number
    /** Agent version reported by status. */
    version?: string
    /** scrypt work factor (log2 N) for passphrase-protected age secrets (default: age's 18; tests lower it). */
    scryptLogN?: number
}

/** What the agent keeps of a stored key between uses: everything but the secret. */
type StoredMeta = Omit<StoredKey, "secret">

function metaOf(k: StoredKey): StoredMeta {
    const { secret: _secret, ...meta } = k
    return meta
}

/** One outcome of {@link Agent.unwrap}: the part (a copy the caller owns) or a protocol error. */
export type UnwrapOutcome = { part: Uint8Array } | { error: AgentProtocolError }

/** What {@link Agent.status} reports (the server adds pid, socket and clients). */
export type AgentStatus = Omit<StatusResult, "pid" | "socket" | "clients">

/** Default idle TTL (10 minutes, as gpg-agent). */
export const DEFAULT_IDLE_TTL_MS = 600_000
/** Default maximum TTL (2 hours, as gpg-agent). */
export const DEFAULT_MAX_TTL_MS = 7_200_000

function err(code: number, message: string, hint?: string): AgentProtocolError {
    return new AgentProtocolError(code, message, hint)
}

function keychainError(e: unknown): AgentProtocolError {
    if (e instanceof AgentProtocolError) return e
    const hint = e instanceof KsopsError ? e.hint : undefined
    return err(AgentErrorCode.KeychainUnavailable, `keychain: ${(e as Error)?.message ?? String(e)}`, hint)
}

/** The data-key cache key of an entry: sha256 over its type and `enc`. */
export function entryCacheKey(entry: KeyEntry): string {
    return createHash("sha256").update(entry.type).update("\0").update(entry.enc).digest("base64")
}

/** The in-process agent. Call {@link close} when done (wipes everything, stops timers). */
export class Agent {
    readonly keychain: Keychain
    readonly version: string
    readonly #now: () => number
    readonly #started: number
    readonly #keys: TtlCache<string, UnlockedKey>
    readonly #dataKeys: TtlCache<string, Uint8Array>
    readonly #unlocking = new Map<string, Promise<UnlockedKey>>()
    #stored: Map<string, StoredMeta> | undefined
    #loading: Promise<Map<string, StoredMeta>> | undefined
    readonly #idleTtlMs: number
    #keychainTimer: ReturnType<typeof setTimeout> | undefined
    #unwrapper: Unwrapper | undefined
    readonly #rsaDecrypt: RsaDecrypt | undefined
    readonly #scryptLogN: number | undefined
    #closed = false
    /** Incremented by {@link lock}: work begun before a lock caches nothing after it. */
    #generation = 0

    constructor(options: AgentOptions) {
        this.keychain = options.keychain
        this.version = options.version ?? "0.0.0"
        this.#now = options.now ?? Date.now
        this.#started = this.#now()
        const idleTtlMs = options.idleTtlMs ?? DEFAULT_IDLE_TTL_MS
        const maxTtlMs = Math.max(options.maxTtlMs ?? DEFAULT_MAX_TTL_MS, idleTtlMs)
        const common = { idleTtlMs, maxTtlMs, now: this.#now }
        this.#idleTtlMs = idleTtlMs
        this.#keys = new TtlCache<string, UnlockedKey>({
            ...common,
            wipe: (k) => {
                k.wipe()
                this.onKeyWiped?.(k)
            },
        })
        this.#dataKeys = new TtlCache<string, Uint8Array>(common)
        this.#unwrapper = options.unwrapper
        this.#rsaDecrypt = options.rsaDecrypt
        this.#scryptLogN = options.scryptLogN
    }

    // -----------------------------------------------------------------------------------------------------
    // keys

    /**
     * The keychain was used: it forgets what it holds in memory after the idle TTL (and on {@link lock}).
     */
    #keychainUsed(): void {
        if (this.keychain.forget === undefined) return
        if (this.#keychainTimer !== undefined) clearTimeout(this.#keychainTimer)
        this.#keychainTimer = setTimeout(() => this.#forgetKeychain(), this.#idleTtlMs)
        this.#keychainTimer.unref?.()
    }

    #forgetKeychain(): void {
        if (this.#keychainTimer !== undefined) clearTimeout(this.#keychainTimer)
        this.#keychainTimer = undefined
        this.keychain.forget?.()
    }

    /** A key with its secret, read from the keychain now (the caller drops it after use). */
    async #withSecret(meta: StoredMeta): Promise<StoredKey> {
        let json: string | undefined
        try {
            json = await this.keychain.get(meta.id)
        } catch (e) {
            throw keychainError(e)
        } finally {
            this.#keychainUsed()
        }
        let k: StoredKey | undefined
        try {
            k = json === undefined ? undefined : parseStoredKey(json)
        } catch {
            k = undefined
        }
        if (k === undefined || k.id !== meta.id || k.type !== meta.type) {
            this.#stored?.delete(meta.id)
            throw err(AgentErrorCode.NotFound, `key ${meta.id} is no longer in the keychain`, "list the keys with `kubectl sops keys list`")
        }
        return k
    }

    async #load(): Promise<Map<string, StoredMeta>> {
        if (this.#stored !== undefined) return this.#stored
        this.#loading ??= (async () => {
            try {
                const map = new Map<string, StoredMeta>()
                for (const id of await this.keychain.list()) {
                    const json = await this.keychain.get(id)
                    if (json === undefined) continue
                    let k: StoredKey
                    try {
                        k = parseStoredKey(json)
                    } catch {
                        continue // a malformed entry is not ours to use; keys/list simply does not show it
                    }
                    map.set(k.id, metaOf(k))
                }
                this.#stored = map
                return map
            } catch (e) {
                throw keychainError(e)
            } finally {
                this.#loading = undefined
                this.#keychainUsed()
            }
        })()
        return this.#loading
    }

    #info(k: StoredMeta): KeyInfo {
        const info: KeyInfo = {
            id: k.id,
            type: k.type,
            name: k.name,
            created: k.created,
            recipient: k.recipient,
            protected: k.protected,
            unlocked: !k.protected || this.#keys.has(k.id),
        }
        if (k.comment !== undefined) info.comment = k.comment
        return info
    }

    async #find(id: string): Promise<StoredMeta> {
        const stored = await this.#load()
        const k = stored.get(id) ?? stored.get(id.toUpperCase())
        if (k !== undefined) return k
        // a unique prefix (or PGP long key id suffix) is accepted too
        const matches = [...stored.values()].filter(
            (s) => s.id.startsWith(id) || (s.type === "pgp" && id.length >= 16 && s.id.endsWith(id.toUpperCase())),
        )
        if (matches.length === 1 && id.length >= 8) return matches[0]
        throw err(AgentErrorCode.NotFound, `no key ${JSON.stringify(id)} in the agent`, "list the keys with `kubectl sops keys list`")
    }

    /** Every key, in the keychain's order. */
    async listKeys(): Promise<KeyInfo[]> {
        const stored = await this.#load()
        return [...stored.values()].map((k) => this.#info(k))
    }

    async #persist(k: StoredKey): Promise<void> {
        const stored = await this.#load()
        if (stored.has(k.id)) {
            throw err(AgentErrorCode.AlreadyExists, `key ${k.id} is already in the agent`, "remove it first with `kubectl sops keys remove`")
        }
        try {
            await this.keychain.set(k.id, storedKeyToJson(k))
        } catch (e) {
            throw keychainError(e)
        } finally {
            this.#keychainUsed()
        }
        stored.set(k.id, metaOf(k))
    }

    /** Generate a key and store it in the keychain. */
    async generate(params: GenerateParams): Promise<KeyInfo> {
        let k: StoredKey
        try {
            k = await generateKey({ ...params, now: new Date(this.#now()), scryptLogN: this.#scryptLogN })
        } catch (e) {
            throw err(AgentErrorCode.BadKey, (e as Error).message)
        }
        await this.#persist(k)
        return this.#info(k)
    }

    /** Import keys (armored PGP secret keys, age identity files) and store them. Keys already present are refused. */
    async importKeys(params: ImportParams): Promise<KeyInfo[]> {
        let keys: StoredKey[]
        try {
            keys = await importKeys(params.text, {
                passphrase: params.passphrase,
                name: params.name,
                now: new Date(this.#now()),
                scryptLogN: this.#scryptLogN,
            })
        } catch (e) {
            if (e instanceof PassphraseError) throw err(AgentErrorCode.BadPassphrase, e.message, e.hint)
            throw err(AgentErrorCode.BadKey, (e as Error).message, e instanceof KsopsError ? e.hint : undefined)
        }
        const stored = await this.#load()
        const dup = keys.find((k) => stored.has(k.id))
        if (dup !== undefined) {
            throw err(AgentErrorCode.AlreadyExists, `key ${dup.id} is already in the agent`, "remove it first with `kubectl sops keys remove`")
        }
        for (const k of keys) await this.#persist(k)
        return keys.map((k) => this.#info(k))
    }

    /** Export a key: public by default; the stored private key only with `secret`. */
    async exportKey(id: string, secret = false): Promise<ExportResult> {
        const k = await this.#withSecret(await this.#find(id))
        return { id: k.id, type: k.type, secret, text: await exportKey(k, { secret }) }
    }

    /** Remove a key from the keychain and from memory (cached data keys are dropped too). */
    async removeKey(id: string): Promise<void> {
        const k = await this.#find(id)
        let deleted: boolean
        try {
            deleted = await this.keychain.delete(k.id)
        } catch (e) {
            throw keychainError(e)
        }
        this.#stored?.delete(k.id)
        this.#keys.delete(k.id)
        this.#dataKeys.clear()
        if (!deleted) throw err(AgentErrorCode.NotFound, `key ${k.id} was not in the keychain`)
    }

    // -----------------------------------------------------------------------------------------------------
    // lock / unlock

    /**
     * Unlock one key (by id), or every locked protected key the passphrase opens.
     * @returns the ids unlocked
     */
    async unlock(id: string | undefined, passphrase: string): Promise<string[]> {
        const targets =
            id === undefined ? [...(await this.#load()).values()].filter((k) => k.protected && !this.#keys.has(k.id)) : [await this.#find(id)]
        if (targets.length === 0) return []
        const done: string[] = []
        let lastError: unknown
        for (const k of targets) {
            try {
                const u = await unlockKey(await this.#withSecret(k), passphrase)
                this.#keys.set(k.id, u)
                done.push(k.id)
            } catch (e) {
                lastError = e
            }
        }
        if (done.length === 0) {
            if (lastError instanceof PassphraseError || targets.some((k) => k.protected)) {
                const which = id === undefined ? "any locked key" : `key ${targets[0].id}`
                throw err(AgentErrorCode.BadPassphrase, `the passphrase does not unlock ${which}`)
            }
            throw err(AgentErrorCode.BadKey, (lastError as Error)?.message ?? "cannot unlock")
        }
        return done
    }

    /** Forget every unlocked key and every cached data key at once (all wiped). */
    lock(): LockResult {
        this.#generation++
        const lockedKeys = this.#keys.clear()
        const wipedCacheEntries = this.#dataKeys.clear()
        this.#forgetKeychain()
        this.onLock?.()
        return { lockedKeys, wipedCacheEntries }
    }

    /** Called after {@link lock} and {@link close} (the worker pool forgets its keys). */
    onLock: (() => void) | undefined

    /** Called when one unlocked key is wiped: evicted (TTL), replaced, removed, locked (the pool forgets it). */
    onKeyWiped: ((key: UnlockedKey) => void) | undefined

    // -----------------------------------------------------------------------------------------------------
    // unwrap

    async #unwrapFn(): Promise<Unwrapper> {
        if (this.#unwrapper === undefined) {
            const { unwrapWith } = await import("../keys/unwrap.js")
            this.#unwrapper = unwrapWith as Unwrapper
        }
        return this.#unwrapper as Unwrapper
    }

    /** The unlocked key for a stored key: cached, unlocked now when unprotected, or undefined when locked. */
    async #unlocked(k: StoredMeta): Promise<UnlockedKey | undefined> {
        const hit = this.#keys.get(k.id)
        if (hit !== undefined && !hit.wiped) return hit
        if (k.protected) return undefined
        let p = this.#unlocking.get(k.id)
        if (p === undefined) {
            const generation = this.#generation
            p = this.#withSecret(k)
                .then((full) => unlockKey(full))
                .then((u) => {
                    if (this.#closed) {
                        u.wipe()
                        throw err(AgentErrorCode.ShuttingDown, "the agent is shutting down")
                    }
                    if (generation !== this.#generation) {
                        // locked while the key was being unlocked: it must not outlive the lock
                        u.wipe()
                        throw err(AgentErrorCode.UnwrapFailed, `the agent was locked while key ${k.id} was being unlocked`, "try again")
                    }
                    this.#keys.set(k.id, u)
                    return u
                })
            this.#unlocking.set(k.id, p)
            p.then(
                () => this.#unlocking.delete(k.id),
                () => this.#unlocking.delete(k.id),
            )
        }
        return p
    }

    /** Stored keys that may decrypt an entry: the named one first, then the others of its type. */
    async #candidates(entry: KeyEntry): Promise<StoredMeta[]> {
        const stored = await this.#load()
        const all = [...stored.values()]
        if (entry.type === "age") {
            const r = typeof entry.params.recipient === "string" ? entry.params.recipient.trim() : ""
            const ages = all.filter((k) => k.type === "age" || k.type === "age-pq")
            return [...ages.filter((k) => k.recipient === r), ...ages.filter((k) => k.recipient !== r)]
        }
        if (entry.type === "pgp") {
            const fp = typeof entry.params.fp === "string" ? entry.params.fp.replace(/\s/g, "").toUpperCase() : ""
            const named = (k: StoredMeta) => {
                if (fp === "") return false
                if (k.id === fp || k.id.endsWith(fp)) return true
                const u = this.#keys.get(k.id)
                return u !== undefined && u.material.kind === "pgp" && u.material.rsa.some((r) => r.fingerprint === fp || r.keyId === fp)
            }
            const pgps = all.filter((k) => k.type === "pgp")
            return [...pgps.filter(named), ...pgps.filter((k) => !named(k))]
        }
        return []
    }

    async #unwrapOne(entry: KeyEntry): Promise<UnwrapOutcome> {
        const ck = entryCacheKey(entry)
        const hit = this.#dataKeys.get(ck)
        if (hit !== undefined) return { part: new Uint8Array(hit) }
        const generation = this.#generation
        const candidates = await this.#candidates(entry)
        const unwrap = await this.#unwrapFn()
        const locked: string[] = []
        let failure: unknown
        for (const k of candidates) {
            let key: UnlockedKey | undefined
            try {
                key = await this.#unlocked(k)
            } catch (e) {
                failure = e
                continue
            }
            if (key === undefined) {
                locked.push(k.id)
                continue
            }
            let part: Uint8Array | null
            try {
                part = await unwrap(entry, key, this.#rsaDecrypt === undefined ? undefined : { rsaDecrypt: this.#rsaDecrypt })
            } catch (e) {
                failure = e
                continue
            }
            if (part === null) continue
            // begun before a lock: answered (the request predates it), but not cached past it
            if (!this.#closed && generation === this.#generation) this.#dataKeys.set(ck, new Uint8Array(part))
            return { part }
        }
        if (locked.length > 0) {
            const which = locked.length === 1 ? `key ${locked[0]} is` : `keys ${locked.join(", ")} are`
            return { error: err(AgentErrorCode.Locked, `${which} locked`, UNLOCK_HINT) }
        }
        if (failure !== undefined) {
            if (failure instanceof AgentProtocolError) return { error: failure }
            return { error: err(AgentErrorCode.UnwrapFailed, `cannot unwrap the data key: ${(failure as Error)?.message ?? String(failure)}`) }
        }
        const what = entry.type === "age" || entry.type === "pgp" ? `${entry.type} key for this entry` : `${entry.type} keys`
        return { error: err(AgentErrorCode.NoMatchingKey, `the agent holds no ${what}`) }
    }

    /**
     * Unwrap data keys: for each entry the part (data key or Shamir share) or an error (locked, no matching key,
     * failed). Entries are handled concurrently; results are in input order.
     * @throws AgentProtocolError KeychainUnavailable when the keys cannot be loaded
     */
    async unwrap(entries: readonly KeyEntry[]): Promise<UnwrapOutcome[]> {
        if (this.#closed) throw err(AgentErrorCode.ShuttingDown, "the agent is shutting down")
        // fast path: every entry cached (no promise per entry)
        const out: (UnwrapOutcome | undefined)[] = new Array(entries.length)
        let missing = 0
        for (let i = 0; i < entries.length; i++) {
            const hit = this.#dataKeys.get(entryCacheKey(entries[i]))
            if (hit !== undefined) out[i] = { part: new Uint8Array(hit) }
            else missing++
        }
        if (missing > 0) {
            await Promise.all(
                entries.map(async (e, i) => {
                    if (out[i] === undefined) out[i] = await this.#unwrapOne(e)
                }),
            )
        }
        return out as UnwrapOutcome[]
    }

    // -----------------------------------------------------------------------------------------------------
    // status / close

    /** Counters for `agent/status` (does not fail when the keychain is unreachable: keysLoaded is then 0). */
    status(): AgentStatus {
        const now = this.#now()
        return {
            protocol: PROTOCOL_VERSION,
            agentVersion: this.version,
            keychain: this.keychain.description,
            startedAt: new Date(this.#started).toISOString().replace(/\.\d{3}Z$/, "Z"),
            uptimeSeconds: Math.floor((now - this.#started) / 1000),
            keysLoaded: this.#stored?.size ?? 0,
            keysUnlocked: this.#keys.size,
            cacheEntries: this.#dataKeys.size,
            idleTtlSeconds: Math.round(this.#keys.idleTtlMs / 1000),
            maxTtlSeconds: Math.round(this.#keys.maxTtlMs / 1000),
        }
    }

    /** Load the keys now (the server does it at start so `status` shows them). */
    async preload(): Promise<number> {
        return (await this.#load()).size
    }

    /** Wipe everything and stop the cache timers. The agent refuses work afterwards. */
    close(): void {
        this.#closed = true
        this.#keys.close()
        this.#dataKeys.close()
        this.#forgetKeychain()
        this.onLock?.()
    }
}
