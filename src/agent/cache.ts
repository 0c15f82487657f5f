/**
 * A TTL cache with gpg-agent semantics: an entry lives until it has been idle for `idleTtlMs` (every use resets
 * that clock) or `maxTtlMs` after it was inserted, whichever comes first. Expiry is lazy (checked on access) plus a
 * periodic sweep on an unref'd timer. Evicted values are wiped (zeroed) — on expiry, delete, replace and clear.
 */

/** Options of a {@link TtlCache}. */
export interface TtlCacheOptions<V> {
    /** Idle time-to-live in ms (reset on every `get` hit). */
    idleTtlMs: number
    /** Hard time-to-live from insertion in ms. */
    maxTtlMs: number
    /** Wipes an evicted value. Default: `fill(0)` for a Uint8Array, `wipe()` for an object with one. */
    wipe?: (value: V) => void
    /** Clock in ms (default `Date.now`, which vitest's fake timers replace). */
    now?: () => number
    /** Sweep period in ms (default: min(idle TTL, 60 s), at least 1 s); 0 disables the timer. */
    sweepIntervalMs?: number
}

interface Slot<V> {
    value: V
    inserted: number
    used: number
}

/** Zero a value: `fill(0)` on byte arrays, `wipe()` on objects that have one. */
export function defaultWipe(value: unknown): void {
    if (value instanceof Uint8Array) value.fill(0)
    else if (typeof value === "object" && value !== null && typeof (value as { wipe?: unknown }).wipe === "function") {
        ;(value as { wipe(): void }).wipe()
    }
}

/** The cache. Call {@link close} to stop its sweep timer (it never keeps the process alive anyway). */
export class TtlCache<K, V> {
    readonly idleTtlMs: number
    readonly maxTtlMs: number
    readonly #map = new Map<K, Slot<V>>()
    readonly #wipe: (value: V) => void
    readonly #now: () => number
    #timer: ReturnType<typeof setInterval> | undefined

    constructor(options: TtlCacheOptions<V>) {
        if (!(options.idleTtlMs > 0) || !(options.maxTtlMs > 0)) throw new RangeError("cache: TTLs must be positive")
        this.idleTtlMs = options.idleTtlMs
        this.maxTtlMs = options.maxTtlMs
        this.#wipe = options.wipe ?? defaultWipe
        this.#now = options.now ?? Date.now
        const period = options.sweepIntervalMs ?? Math.max(1000, Math.min(options.idleTtlMs, 60_000))
        if (period > 0) {
            this.#timer = setInterval(() => this.sweep(), period)
            this.#timer.unref?.()
        }
    }

    #expired(slot: Slot<V>, now: number): boolean {
        return now - slot.used >= this.idleTtlMs || now - slot.inserted >= this.maxTtlMs
    }

    #evict(key: K, slot: Slot<V>): void {
        this.#map.delete(key)
        this.#wipe(slot.value)
    }

    /** The value, if present and not expired; a hit resets the idle clock. */
    get(key: K): V | undefined {
        const slot = this.#map.get(key)
        if (slot === undefined) return undefined
        const now = this.#now()
        if (this.#expired(slot, now)) {
            this.#evict(key, slot)
            return undefined
        }
        slot.used = now
        return slot.value
    }

    /** Whether a live entry exists (does not reset the idle clock). */
    has(key: K): boolean {
        const slot = this.#map.get(key)
        if (slot === undefined) return false
        if (this.#expired(slot, this.#now())) {
            this.#evict(key, slot)
            return false
        }
        return true
    }

    /** Insert or replace (the replaced value is wiped unless it is the same object). Both clocks start now. */
    set(key: K, value: V): void {
        const old = this.#map.get(key)
        const now = this.#now()
        this.#map.set(key, { value, inserted: now, used: now })
        if (old !== undefined && old.value !== value) this.#wipe(old.value)
    }

    /** Remove and wipe one entry. */
    delete(key: K): boolean {
        const slot = this.#map.get(key)
        if (slot === undefined) return false
        this.#evict(key, slot)
        return true
    }

    /** Evict every expired entry. @returns how many were evicted */
    sweep(): number {
        const now = this.#now()
        let n = 0
        for (const [key, slot] of this.#map) {
            if (this.#expired(slot, now)) {
                this.#evict(key, slot)
                n++
            }
        }
        return n
    }

    /** Number of live entries (sweeps first). */
    get size(): number {
        this.sweep()
        return this.#map.size
    }

    /** Live keys (sweeps first). */
    keys(): K[] {
        this.sweep()
        return [...this.#map.keys()]
    }

    /** Wipe and remove everything. @returns how many entries there were */
    clear(): number {
        const n = this.#map.size
        const slots = [...this.#map.values()]
        this.#map.clear()
        for (const s of slots) this.#wipe(s.value)
        return n
    }

    /** Wipe everything and stop the sweep timer. */
    close(): void {
        if (this.#timer !== undefined) clearInterval(this.#timer)
        this.#timer = undefined
        this.clear()
    }
}
