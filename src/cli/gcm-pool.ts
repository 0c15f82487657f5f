/**
 * A second thread for the value cipher of large documents: a node:worker_threads worker that runs the same
 * sealRange/openRange (src/sops/cipher.ts, from their source text) over chunks of a batch while the main thread
 * runs the others. The buffers are shared (SharedArrayBuffer); threads claim chunks from a shared counter, so a
 * worker that is still starting (or busy elsewhere on a loaded machine) only means the main thread does more.
 * Jobs are submitted as the main thread prepares them (the worker seals one while the next is prepared); the main
 * thread then finishes them in order, taking the chunks still unclaimed, and waits with Atomics.wait for the
 * others, so the walk stays synchronous. Nothing is loaded or started until a
 * batch reaches `minValues` (small runs stay as fast as before).
 */
import * as crypto from "node:crypto"
import type * as WorkerThreads from "node:worker_threads"
import { type GcmJob, type GcmRunner, type GcmTask, openRange, sealRange } from "../sops/cipher.js"

/** Values per claimed chunk: small enough to balance two threads, large enough to keep the counter cold. */
const CHUNK = 512
/** Without progress for this long, the worker is given up and the main thread does the rest. */
const STALL_MS = 10_000
/** Control words: next chunk to claim, chunks done, a chunk failed on the worker. */
const NEXT = 0
const DONE = 1
const FAILED = 2

/** The worker: claims chunks of each posted job until none is left. Plain JavaScript, run with `eval`. */
function workerSource(): string {
    return `"use strict"
const { parentPort } = require("node:worker_threads")
const crypto = require("node:crypto")
const fns = { seal: (${sealRange.toString()}), open: (${openRange.toString()}) }
parentPort.on("message", ({ kind, job, ctl, count, chunk }) => {
    const c = new Int32Array(ctl)
    const chunks = Math.ceil(count / chunk)
    for (;;) {
        const k = Atomics.add(c, ${NEXT}, 1)
        if (k >= chunks) break
        try {
            fns[kind](crypto, job, k * chunk, Math.min(count, (k + 1) * chunk))
        } catch {
            Atomics.store(c, ${FAILED}, 1)
        }
        Atomics.add(c, ${DONE}, 1)
        Atomics.notify(c, ${DONE})
    }
})
`
}

/** A submitted job: its control words (next chunk, chunks done, failed) are shared with the worker. */
interface Task extends GcmTask {
    readonly kind: "seal" | "open"
    readonly count: number
    readonly ctl: Int32Array
}

export interface GcmPool extends GcmRunner {
    /** True once a worker was started (for tests: small inputs never start one). */
    readonly started: boolean
    /** Stop the worker, if any. */
    close(): Promise<void>
}

/**
 * The CLI's runner. `minValues` defaults to 20,000: below that a worker's start-up (≈ 30 ms of a core) costs
 * about what it saves.
 */
export function createGcmPool(options: { minValues?: number } = {}): GcmPool {
    let worker: WorkerThreads.Worker | undefined
    let broken = false
    const start = (): void => {
        if (worker || broken) return
        try {
            // process.getBuiltinModule (Node ≥ 20.16) loads worker_threads only now; without it, no worker
            if (typeof process.getBuiltinModule !== "function") throw new Error("no process.getBuiltinModule")
            const { Worker } = process.getBuiltinModule("node:worker_threads") as typeof WorkerThreads
            worker = new Worker(workerSource(), { eval: true, stdout: true, stderr: true })
            worker.unref()
            // a worker that fails is not needed: the main thread claims every chunk it does not
            worker.on("error", () => {
                broken = true
            })
        } catch {
            broken = true
        }
    }
    return {
        minValues: options.minValues ?? 20_000,
        get started() {
            return worker !== undefined
        },
        start,
        alloc: (size) => Buffer.from(new SharedArrayBuffer(Math.max(size, 1)), 0, size),
        submit(kind: "seal" | "open", job: GcmJob, count: number): Task {
            start()
            const ctl = new Int32Array(new SharedArrayBuffer(12))
            if (worker && !broken) worker.postMessage({ kind, job, ctl: ctl.buffer, count, chunk: CHUNK })
            return { kind, job, count, ctl }
        },
        finish(task: GcmTask): void {
            const { kind, job, count, ctl } = task as Task
            const fn = kind === "seal" ? sealRange : openRange
            const chunks = Math.ceil(count / CHUNK)
            for (;;) {
                const k = Atomics.add(ctl, NEXT, 1)
                if (k >= chunks) break
                fn(crypto, job, k * CHUNK, Math.min(count, (k + 1) * CHUNK))
                Atomics.add(ctl, DONE, 1)
            }
            for (let done = Atomics.load(ctl, DONE); done < chunks; done = Atomics.load(ctl, DONE)) {
                if (Atomics.wait(ctl, DONE, done, STALL_MS) === "timed-out" && Atomics.load(ctl, DONE) === done) {
                    // the worker holds a chunk and makes no progress: stop it and do the whole job here (same bytes)
                    broken = true
                    void worker?.terminate()
                    fn(crypto, job, 0, count)
                    return
                }
            }
            if (Atomics.load(ctl, FAILED) !== 0) {
                // a chunk failed on the worker (it should not: the functions catch what a value can cause): redo here
                fn(crypto, job, 0, count)
            }
        },
        async close() {
            const w = worker
            worker = undefined
            broken = true
            await w?.terminate()
        },
    }
}
