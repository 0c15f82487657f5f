/**
 * A pool of worker threads for the raw RSA private-key operation (the expensive part of a PGP unwrap: one
 * RSA-4096 decryption costs milliseconds; everything else is microseconds). A key is sent to a worker once (as
 * PKCS#8 DER, zeroed on both sides after import), on its first job for that key, and forgotten on lock. Workers start
 * lazily and are unref'd. The worker is plain JavaScript evaluated from a string, so it runs the same from the
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
    if (m.t === "key") {
        keys.set(m.h, createPrivateKey({ key: m.der, format: "der", type: "pkcs8" }))
        m.der.fill(0)
    }
    else if (m.t === "forget") keys.clear()
    else if (m.t === "job") {
        const key = keys.get(m.h)
        try {
            if (key === undefined) throw new Error("unknown key handle")
            const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, m.c)
            parentPort.postMessage({ id: m.id, em }, [em.buffer])
        } catch (e) {
            parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) })
        }
    }
})
`

interface Job {
    resolve(em: Uint8Array): void
    reject(e: Error): void
}

interface Slot {
    worker: Worker
    busy: number
    keys: Set<number>
    jobs: Map<number, Job>
}

/** Options of an {@link RsaPool}. */
export interface RsaPoolOptions {
    /** Number of worker threads (default `os.availableParallelism()`). */
    size?: number
}

/** Raw RSA decryptions (no padding) spread over worker threads. */
export class RsaPool {
    readonly size: number
    readonly #slots: Slot[] = []
    readonly #handles = new WeakMap<KeyObject, number>()
    #nextHandle = 1
    #nextJob = 1
    #closed = false

    constructor(options: RsaPoolOptions = {}) {
        this.size = Math.max(1, options.size ?? availableParallelism())
    }

    #spawn(): Slot {
        const worker = new Worker(WORKER_SOURCE, { eval: true })
        const slot: Slot = { worker, busy: 0, keys: new Set(), jobs: new Map() }
        worker.unref()
        worker.on("message", (m: { id: number; em?: Uint8Array; error?: string }) => {
            const job = slot.jobs.get(m.id)
            if (job === undefined) return
            slot.jobs.delete(m.id)
            slot.busy--
            if (slot.busy === 0) worker.unref()
            if (m.em !== undefined) job.resolve(new Uint8Array(m.em.buffer, m.em.byteOffset, m.em.byteLength))
            else job.reject(new Error(`rsa worker: ${m.error ?? "failed"}`))
        })
        const fail = (e: Error) => {
            const i = this.#slots.indexOf(slot)
            if (i >= 0) this.#slots.splice(i, 1)
            for (const job of slot.jobs.values()) job.reject(e)
            slot.jobs.clear()
        }
        worker.on("error", fail)
        worker.on("exit", (code) => fail(new Error(`rsa worker exited with code ${code}`)))
        this.#slots.push(slot)
        return slot
    }

    #pick(): Slot {
        let best: Slot | undefined
        for (const s of this.#slots) if (best === undefined || s.busy < best.busy) best = s
        if ((best === undefined || best.busy > 0) && this.#slots.length < this.size) return this.#spawn()
        return best!
    }

    /**
     * `privateDecrypt(RSA_NO_PADDING)` of `c` (left-padded to the modulus length by the caller) on a worker.
     * @returns the raw encoded message (the caller unpads it in constant time)
     */
    decrypt(key: KeyObject, c: Uint8Array): Promise<Uint8Array> {
        if (this.#closed) return Promise.reject(new Error("rsa worker pool is closed"))
        let handle = this.#handles.get(key)
        if (handle === undefined) {
            handle = this.#nextHandle++
            this.#handles.set(key, handle)
        }
        const slot = this.#pick()
        if (!slot.keys.has(handle)) {
            // DER, not the KeyObject itself: each thread gets its own OpenSSL key (no shared blinding lock)
            const der = key.export({ format: "der", type: "pkcs8" })
            slot.worker.postMessage({ t: "key", h: handle, der })
            der.fill(0)
            slot.keys.add(handle)
        }
        const id = this.#nextJob++
        return new Promise((resolve, reject) => {
            slot.jobs.set(id, { resolve, reject })
            if (slot.busy++ === 0) slot.worker.ref()
            slot.worker.postMessage({ t: "job", id, h: handle, c })
        })
    }

    /** Drop every key from the workers (on lock). Keys are sent again on their next use. */
    forgetKeys(): void {
        for (const s of this.#slots) {
            s.worker.postMessage({ t: "forget" })
            s.keys.clear()
        }
    }

    /** Stop the workers; pending jobs fail. */
    async close(): Promise<void> {
        this.#closed = true
        const slots = this.#slots.splice(0)
        await Promise.all(slots.map((s) => s.worker.terminate()))
    }
}
