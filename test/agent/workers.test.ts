import { spawn } from "node:child_process"
import { constants, privateDecrypt, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { Agent } from "../../src/agent/agent.js"
import { RsaPool } from "../../src/agent/workers.js"
import { KsopsError } from "../../src/errors.js"
import { importKeys } from "../../src/keys/keyfile.js"
import { type PgpRsaKey, unlockKey } from "../../src/keys/keystore.js"
import { PGP_DECRYPTION_FAILED, encryptWithKeyFiles } from "../../src/keys/pgp-openpgp.js"
import { unwrapWith } from "../../src/keys/unwrap.js"
import type { KeyEntry } from "../../src/sops/keys.js"
import { VECTORS } from "../keys/helpers.js"
import { describeShared, sharedData } from "../conformance-data.js"
import { bundleScript, fileKeychain, removeDir, tempDir } from "./helpers.js"

const KEYS = path.join(VECTORS, "sops-3.13.2/keys")
const SECRET = sharedData ? readFileSync(path.join(KEYS, "cluster0.sec.asc"), "utf8") : ""
const PUBLIC = sharedData ? [{ path: "cluster0.pub.asc", text: readFileSync(path.join(KEYS, "cluster0.pub.asc"), "utf8") }] : []
const FP = sharedData ? readFileSync(path.join(KEYS, "cluster0.fpr"), "utf8").trim() : ""

let rsa: PgpRsaKey
/** Raw RSA ciphertexts (left-padded) under the encryption subkey, with their in-thread results. */
const inputs: { c: Uint8Array; em: Buffer }[] = []

beforeAll(async () => {
    const [stored] = await importKeys(SECRET, { now: new Date("2026-01-01T00:00:00Z") })
    const key = await unlockKey(stored)
    if (key.material.kind !== "pgp") throw new Error("not a pgp key")
    rsa = key.material.rsa[0]
    for (let i = 0; i < 24; i++) {
        const c = randomBytes(rsa.modulusBytes)
        c[0] = 0 // below the modulus
        inputs.push({ c, em: privateDecrypt({ key: rsa.privateKey, padding: constants.RSA_NO_PADDING }, c) })
    }
})

describeShared("RsaPool", () => {
    it("uses the full CRT key (p, q, dp, dq, qi), so OpenSSL takes the fast path", () => {
        const jwk = rsa.privateKey.export({ format: "jwk" })
        for (const k of ["n", "e", "d", "p", "q", "dp", "dq", "qi"]) expect(typeof jwk[k as keyof typeof jwk]).toBe("string")
        expect(rsa.modulusBytes).toBe(512)
    })

    it("spreads a burst over every worker, sends the key once per worker, and matches privateDecrypt", async () => {
        const pool = new RsaPool({ size: 2 })
        try {
            const out = await Promise.all(inputs.map(({ c }) => pool.decrypt(rsa.privateKey, c)))
            expect(out.map((em, i) => Buffer.from(em).equals(inputs[i].em))).toEqual(inputs.map(() => true))
            const s = pool.stats()
            expect(s.workers).toBe(2)
            expect(s.keySends).toBe(2)
            expect(s.pending).toBe(0)
            expect(s.completed.reduce((a, b) => a + b, 0)).toBe(inputs.length)
            // a shared queue: each worker takes part of the burst (how much depends on the scheduler: no share is asserted)
            for (const n of s.completed) expect(n).toBeGreaterThanOrEqual(1)
        } finally {
            await pool.close()
        }
    })

    it("forgets keys on lock (queued jobs fail, the key is sent again on its next use)", async () => {
        const pool = new RsaPool({ size: 1, depth: 1 })
        try {
            await pool.decrypt(rsa.privateKey, inputs[0].c)
            expect(pool.stats().keySends).toBe(1)
            const jobs = inputs.slice(0, 6).map(({ c }) => pool.decrypt(rsa.privateKey, c).then(() => "ok", (e: Error) => e.message))
            pool.forgetKeys()
            const outcomes = await Promise.all(jobs)
            expect(outcomes[0]).toBe("ok") // already on the worker
            expect(outcomes.slice(1).every((o) => /forgotten/.test(o))).toBe(true)
            const em = await pool.decrypt(rsa.privateKey, inputs[1].c)
            expect(Buffer.from(em).equals(inputs[1].em)).toBe(true)
            expect(pool.stats().keySends).toBe(2)
            pool.forgetKey(rsa.privateKey)
            await pool.decrypt(rsa.privateKey, inputs[2].c)
            expect(pool.stats().keySends).toBe(3)
        } finally {
            await pool.close()
        }
    })

    it("fails pending and later jobs once closed", async () => {
        const pool = new RsaPool({ size: 1, depth: 1 })
        const jobs = inputs.slice(0, 4).map(({ c }) => pool.decrypt(rsa.privateKey, c).then(() => "ok", (e: Error) => e.message))
        await pool.close()
        const outcomes = await Promise.all(jobs)
        expect(outcomes.filter((o) => o !== "ok").length).toBeGreaterThanOrEqual(3)
        await expect(pool.decrypt(rsa.privateKey, inputs[0].c)).rejects.toThrow(/closed/)
    })
})

describeShared("agent with the RSA pool", () => {
    let dir: string
    const entries: KeyEntry[] = []
    const parts: Buffer[] = []

    beforeAll(async () => {
        dir = tempDir()
        const setup = new Agent({ keychain: fileKeychain(dir) })
        await setup.importKeys({ text: SECRET })
        setup.close()
        for (let i = 0; i < 12; i++) {
            const part = randomBytes(32)
            parts.push(part)
            entries.push({ type: "pgp", params: { fp: FP }, enc: (await encryptWithKeyFiles(PUBLIC, FP, part))! })
        }
    })

    afterAll(() => removeDir(dir))

    it("unwraps PGP entries with the RSA operation on the workers, and wipes the workers' keys on lock", async () => {
        const pool = new RsaPool({ size: 2 })
        let calls = 0
        const agent = new Agent({
            keychain: fileKeychain(dir),
            rsaDecrypt: (key, padded) => {
                calls++
                return pool.decrypt(key.privateKey, padded)
            },
        })
        agent.onLock = () => pool.forgetKeys()
        try {
            const out = await agent.unwrap(entries)
            expect(out.map((o) => ("part" in o ? Buffer.from(o.part).toString("base64") : o.error.message))).toEqual(parts.map((p) => p.toString("base64")))
            expect(calls).toBe(entries.length)
            expect(pool.stats().completed.reduce((a, b) => a + b, 0)).toBe(entries.length)
            expect(pool.stats().keySends).toBe(2)
            agent.lock()
            const again = await agent.unwrap(entries.slice(0, 2))
            expect(again.map((o) => ("part" in o ? Buffer.from(o.part).toString("base64") : o.error.message))).toEqual(parts.slice(0, 2).map((p) => p.toString("base64")))
            expect(calls).toBe(entries.length + 2) // the cache was wiped too
            expect(pool.stats().keySends).toBeGreaterThanOrEqual(3) // the new unlock's key went to the workers again
        } finally {
            agent.close()
            await pool.close()
        }
    })

    it("an unlocked key evicted by its idle TTL is dropped from the workers too", async () => {
        const pool = new RsaPool({ size: 1 })
        let now = 1_000_000
        const agent = new Agent({
            keychain: fileKeychain(dir),
            idleTtlMs: 60_000,
            now: () => now,
            rsaDecrypt: (key, padded) => pool.decrypt(key.privateKey, padded),
        })
        const forgotten: string[] = []
        agent.onKeyWiped = (k) => {
            if (k.material.kind !== "pgp") return
            forgotten.push(k.id)
            for (const r of k.material.rsa) pool.forgetKey(r.privateKey)
        }
        try {
            const [first] = await agent.unwrap([entries[0]])
            expect("part" in first).toBe(true)
            expect(pool.stats().keySends).toBe(1)
            now += 61_000
            const [second] = await agent.unwrap([entries[1]])
            expect("part" in second && Buffer.from(second.part).equals(parts[1])).toBe(true)
            expect(forgotten).toEqual([FP])
            expect(pool.stats().keySends).toBe(2) // the re-unlocked key went to the worker again
        } finally {
            agent.close()
            await pool.close()
        }
    })

    it("unwrapWith runs the RSA operation through rsaDecrypt, and a failing one is a KsopsError, not a wrong key", async () => {
        const [stored] = await importKeys(SECRET, { now: new Date("2026-01-01T00:00:00Z") })
        const key = await unlockKey(stored)
        const seen: string[] = []
        const part = await unwrapWith(entries[0], key, {
            rsaDecrypt: async (k, padded) => {
                seen.push(k.keyId)
                expect(padded.length).toBe(k.modulusBytes)
                return privateDecrypt({ key: k.privateKey, padding: constants.RSA_NO_PADDING }, padded)
            },
        })
        expect(Buffer.from(part!).equals(parts[0])).toBe(true)
        expect(seen).toEqual([rsa.keyId])
        await expect(unwrapWith(entries[0], key, { rsaDecrypt: () => Promise.reject(new Error("worker gone")) })).rejects.toThrow(
            KsopsError,
        )
        await expect(unwrapWith(entries[0], key, { rsaDecrypt: async () => new Uint8Array(10) })).rejects.toThrow(PGP_DECRYPTION_FAILED)
    })

    it("a daemon with workers exits on SIGTERM after PGP unwraps (workers terminated), with status 0", async () => {
        const script = bundleScript(
            "pool-daemon",
            `import { runDaemon } from "{src}/agent/daemon.ts"
import { AgentClient } from "{src}/agent/client.ts"
import { FileKeychain } from "{src}/agent/keychain.ts"
const [socket, file, entries] = process.argv.slice(2)
const keychain = new FileKeychain(file, { env: { KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "test-passphrase" }, scryptLogN: 10 })
const d = await runDaemon({ socket, keychain, workers: 2 })
const c = await AgentClient.connect(socket)
const r = await c.unwrap(JSON.parse(entries))
c.close()
process.stdout.write(JSON.stringify(r.map((x) => x.part ?? x.error.message)) + "\\n")
await d.done
`,
        )
        const child = spawn(
            process.execPath,
            [script, path.join(dir, "d.sock"), path.join(dir, "keychain.age"), JSON.stringify(entries.slice(0, 6))],
            { stdio: ["ignore", "pipe", "pipe"] },
        )
        let out = ""
        child.stdout.on("data", (d) => {
            out += d
        })
        await new Promise<void>((resolve, reject) => {
            child.stdout.on("data", () => out.includes("\n") && resolve())
            child.once("exit", (code) => reject(new Error(`exited early (${code})`)))
        })
        expect(JSON.parse(out)).toEqual(parts.slice(0, 6).map((p) => p.toString("base64")))
        child.kill("SIGTERM")
        const code = await new Promise((r) => child.once("exit", (c) => r(c)))
        expect(code).toBe(0) // a worker left running would keep it alive until the test's timeout
    })
})
