/**
 * A pool of worker threads for the raw RSA private-key operation (the expensive part of a PGP unwrap: one
 * RSA-4096 decryption costs ~4.4 ms of CPU; everything else is microseconds). A key is sent to a worker once (as
 * PKCS#8 DER, zeroed on both sides after import), on its first job there, and forgotten on lock, on eviction and
 * on close. Jobs wait in one queue here and each worker holds at most {@link RsaPoolOptions.depth} of them (one
 * running, one ready to start while the answer travels back), so a worker that gets less CPU (the main thread, the
 * client, other processes share the cores) simply takes fewer jobs: no worker idles while another has a backlog,
 * as it would with jobs split up front. Workers start lazily, are unref'd while idle (an idle pool never keeps a process alive), and are terminated by
 * {@link RsaPool.close}. The worker is plain JavaScript evaluated from a string, so it runs the same from the
 * TypeScript sources (tests), the compiled dist/ and a bundle.
 */
import type { KeyObject } from "node:crypto"
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"

const WORKER_SOURCE = `
"use strict"
const { parentPort } = require("node:worker_threads")
const { privateDecrypt, constants, createPrivateKey } = require("node:crypto")
const keys = new Map()
parentPort.on("message", (m) => {
    if (m.t === "job") {
        const key = keys.get(m.h)
        try {
            if (key === undefined) throw new Error("unknown key handle")
            const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, m.c)
            parentPort.postMessage({ id: m.id, em })
            em.fill(0)
        } catch (e) {
            parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) })
        }
    } else if (m.t === "key") {
        try {
            keys.set(m.h, createPrivateKey({ key: m.der, format: "der", type: "pkcs8" }))
        } finally {
            m.der.fill(0)
        }
    } else if (m.t === "forget") {
        if (m.h === undefined) keys.clear()
        else keys.delete(m.h)
    }
})
`

interface Job {
    key: KeyObject
    c: Uint8Array
    resolve(em: Uint8Array): void
    reject(e: Error): void
}

interface Slot {
    worker: Worker
    /** Jobs sent and not answered. */
    busy: number
    /** Key handles this worker holds. */
    keys: Set<number>
    jobs: Map<number, Job>
}

/** Options of an {@link RsaPool}. */
export interface RsaPoolOptions {
    /** Number of worker threads (default `os.availableParallelism()`). */
    size?: number
    /** Jobs handed to one worker at a time (default 2). */
    depth?: number
}

/** Counters of an {@link RsaPool} (tests and benchmarks). */
export interface RsaPoolStats {
    /** Workers running. */
    workers: number
    /** Jobs each worker has completed, in spawn order. */
    completed: number[]
    /** Keys sent to workers (one per key per worker per unlock). */
    keySends: number
    /** Jobs queued and not answered. */
    pending: number
}

/** Raw RSA decryptions (no padding) spread over worker threads. */
export class RsaPool {
    readonly size: number
    readonly depth: number
    readonly #slots: Slot[] = []
    /** Jobs not yet handed to a worker, oldest first (`#head` is the next one). */
    #queue: Job[] = []
    #head = 0
    readonly #completed = new Map<Slot, number>()
    #handles = new WeakMap<KeyObject, number>()
    #nextHandle = 1
    #nextJob = 1
    #keySends = 0
    #closed = false

    constructor(options: RsaPoolOptions = {}) {
        this.size = Math.max(1, options.size ?? availableParallelism())
        this.depth = Math.max(1, options.depth ?? 2)
    }

    #spawn(): Slot {
        const worker = new Worker(WORKER_SOURCE, { eval: true, name: "kubectl-sops rsa" })
        const slot: Slot = { worker, busy: 0, keys: new Set(), jobs: new Map() }
        worker.unref()
        this.#completed.set(slot, 0)
        worker.on("message", (m: { id: number; em?: Uint8Array; error?: string }) => {
            const job = slot.jobs.get(m.id)
            if (job === undefined) return
            slot.jobs.delete(m.id)
            slot.busy--
            this.#completed.set(slot, (this.#completed.get(slot) ?? 0) + 1)
            if (m.em !== undefined) job.resolve(new Uint8Array(m.em.buffer, m.em.byteOffset, m.em.byteLength))
            else job.reject(new Error(`rsa worker: ${m.error ?? "failed"}`))
            this.#drain()
            if (slot.busy === 0) worker.unref()
        })
        const fail = (e: Error) => {
            const i = this.#slots.indexOf(slot)
            if (i >= 0) this.#slots.splice(i, 1)
            slot.keys.clear()
            for (const job of slot.jobs.values()) job.reject(e)
            slot.jobs.clear()
            slot.busy = 0
            this.#drain()
        }
        worker.on("error", fail)
        worker.on("exit", (code) => fail(new Error(`rsa worker exited with code ${code}`)))
        this.#slots.push(slot)
        return slot
    }

    /** The least loaded worker with room; a new one while the pool is not full and every worker has work. */
    #pick(): Slot | undefined {
        let best: Slot | undefined
        for (const s of this.#slots) if (best === undefined || s.busy < best.busy) best = s
        if ((best === undefined || best.busy > 0) && this.#slots.length < this.size) return this.#spawn()
        return best !== undefined && best.busy < this.depth ? best : undefined
    }

    #handle(key: KeyObject): number {
        let handle = this.#handles.get(key)
        if (handle === undefined) {
            handle = this.#nextHandle++
            this.#handles.set(key, handle)
        }
        return handle
    }

    /** Hand queued jobs to workers with room. */
    #drain(): void {
        while (this.#head < this.#queue.length) {
            const slot = this.#pick()
            if (slot === undefined) break
            const job = this.#queue[this.#head]
            this.#queue[this.#head++] = undefined as unknown as Job
            this.#send(slot, job)
        }
        if (this.#head === this.#queue.length) {
            this.#queue = []
            this.#head = 0
        } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
            this.#queue = this.#queue.slice(this.#head)
            this.#head = 0
        }
    }

    #send(slot: Slot, job: Job): void {
        const handle = this.#handle(job.key)
        if (!slot.keys.has(handle)) {
            // DER, not the KeyObject itself: each thread gets its own OpenSSL key (no shared blinding lock)
            const der = job.key.export({ format: "der", type: "pkcs8" })
            try {
                slot.worker.postMessage({ t: "key", h: handle, der })
            } finally {
                der.fill(0)
            }
            slot.keys.add(handle)
            this.#keySends++
        }
        const id = this.#nextJob++
        slot.jobs.set(id, job)
        if (slot.busy++ === 0) slot.worker.ref()
        slot.worker.postMessage({ t: "job", id, h: handle, c: job.c })
    }

    /**
     * `privateDecrypt(RSA_NO_PADDING)` of `c` (left-padded to the modulus length by the caller) on a worker.
     * @returns the raw encoded message (the caller unpads it in constant time and zeroes it)
     */
    decrypt(key: KeyObject, c: Uint8Array): Promise<Uint8Array> {
        if (this.#closed) return Promise.reject(new Error("rsa worker pool is closed"))
        return new Promise((resolve, reject) => {
            this.#queue.push({ key, c, resolve, reject })
            this.#drain()
        })
    }

    /** Fail the queued jobs that match (their key is being forgotten: it must not be sent to a worker again). */
    #dropQueued(match: (job: Job) => boolean): void {
        const keep: Job[] = []
        const gone = new Error("rsa key was forgotten (locked)")
        for (let i = this.#head; i < this.#queue.length; i++) {
            const job = this.#queue[i]
            if (match(job)) job.reject(gone)
            else keep.push(job)
        }
        this.#queue = keep
        this.#head = 0
    }

    /** Drop one key from every worker (an unlocked key was evicted or wiped). It is sent again on its next use. */
    forgetKey(key: KeyObject): void {
        this.#dropQueued((job) => job.key === key)
        const handle = this.#handles.get(key)
        if (handle === undefined) return
        this.#handles.delete(key)
        for (const s of this.#slots) {
            if (!s.keys.delete(handle)) continue
            s.worker.postMessage({ t: "forget", h: handle })
        }
    }

    /** Drop every key from the workers (on lock). Keys are sent again on their next use. */
    forgetKeys(): void {
        this.#dropQueued(() => true)
        this.#handles = new WeakMap()
        for (const s of this.#slots) {
            if (s.keys.size === 0) continue
            s.worker.postMessage({ t: "forget" })
            s.keys.clear()
        }
    }

    /** Counters (no key material). */
    stats(): RsaPoolStats {
        return {
            workers: this.#slots.length,
            completed: [...this.#completed.values()],
            keySends: this.#keySends,
            pending: this.#queue.length - this.#head + this.#slots.reduce((n, s) => n + s.busy, 0),
        }
    }

    /** Stop the workers (their keys go with them); pending jobs fail. Idempotent. */
    async close(): Promise<void> {
        this.#closed = true
        const closed = new Error("rsa worker pool is closed")
        for (let i = this.#head; i < this.#queue.length; i++) this.#queue[i].reject(closed)
        this.#queue = []
        this.#head = 0
        const slots = this.#slots.splice(0)
        for (const s of slots) {
            for (const job of s.jobs.values()) job.reject(closed)
            s.jobs.clear()
        }
        await Promise.all(slots.map((s) => s.worker.terminate()))
    }
}
