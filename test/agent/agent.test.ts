/** The in-process agent: what lock and the TTLs leave behind, and work in flight when they strike. */
import { constants, privateDecrypt } from "node:crypto"
import { readFileSync } from "node:fs"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Agent, type UnwrapOutcome } from "../../src/agent/agent.js"
import { FileKeychain, type Keychain } from "../../src/agent/keychain.js"
import { encryptWithKeyFiles } from "../../src/keys/pgp-openpgp.js"
import type { KeyEntry } from "../../src/sops/keys.js"
import { VECTORS } from "../keys/helpers.js"
import { ageEntry, removeDir, tempDir } from "./helpers.js"

const KEYS = path.join(VECTORS, "sops-3.13.2/keys")
const part = new Uint8Array(32).fill(7)

const dirs: string[] = []
const agents: Agent[] = []
afterEach(() => {
    for (const a of agents.splice(0)) a.close()
    for (const d of dirs.splice(0)) removeDir(d)
})

/** A promise with its resolve function. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
    let resolve!: (v: T) => void
    const promise = new Promise<T>((r) => {
        resolve = r
    })
    return { promise, resolve }
}

/**
 * A file keychain whose passphrase is asked through a callback (counted), wrapped to count reads of secrets and to
 * report when it forgets; `gate` (when set) holds every read until it resolves.
 */
function observedKeychain() {
    const dir = tempDir()
    dirs.push(dir)
    const counts = { asked: 0, gets: 0, forgotten: 0 }
    let onForget: (() => void) | undefined
    const file = new FileKeychain(path.join(dir, "kc.age"), {
        passphrase: async () => {
            counts.asked++
            return "keychain passphrase"
        },
        scryptLogN: 10,
    })
    const state = { gate: undefined as Promise<void> | undefined, reading: undefined as (() => void) | undefined }
    const keychain: Keychain = {
        description: file.description,
        list: () => file.list(),
        get: async (id) => {
            counts.gets++
            state.reading?.()
            if (state.gate !== undefined) await state.gate
            return file.get(id)
        },
        set: (id, v) => file.set(id, v),
        delete: (id) => file.delete(id),
        forget: () => {
            counts.forgotten++
            file.forget?.()
            onForget?.()
        },
    }
    const forgotten = () => new Promise<void>((r) => (onForget = r))
    return { keychain, counts, state, forgotten }
}

function partOf(o: UnwrapOutcome): Uint8Array {
    if ("error" in o) throw new Error(`unwrap failed: ${o.error.message}`)
    return o.part
}

async function pgpSetup(agent: Agent): Promise<KeyEntry> {
    const [k] = await agent.importKeys({ text: readFileSync(path.join(KEYS, "cluster0.sec.asc"), "utf8") })
    const files = [{ path: "cluster0.pub.asc", text: readFileSync(path.join(KEYS, "cluster0.pub.asc"), "utf8") }]
    return { type: "pgp", params: { fp: k.id }, enc: (await encryptWithKeyFiles(files, k.id, part))! }
}

describe("agent lock and TTLs leave nothing key-bearing behind", () => {
    it("after lock, an unprotected key is read from the keychain again and the keychain asks its passphrase again", async () => {
        const { keychain, counts } = observedKeychain()
        const agent = new Agent({ keychain, scryptLogN: 10 })
        agents.push(agent)
        const key = await agent.generate({ type: "age" })
        const entry = await ageEntry(key.recipient, part)
        expect(partOf((await agent.unwrap([entry]))[0])).toEqual(part)
        const before = { ...counts }
        expect(agent.lock()).toEqual({ lockedKeys: 1, wipedCacheEntries: 1 })
        expect(agent.status()).toMatchObject({ keysUnlocked: 0, cacheEntries: 0 })
        expect(partOf((await agent.unwrap([entry]))[0])).toEqual(part)
        // the secret was not kept by the agent (read again) nor the passphrase by the file keychain (asked again)
        expect(counts.gets).toBe(before.gets + 1)
        expect(counts.asked).toBe(before.asked + 1)
    })

    it("the idle TTL makes the keychain forget too; the next unwrap after expiry reads it again", async () => {
        const { keychain, counts, forgotten } = observedKeychain()
        let t = 1_000_000
        const agent = new Agent({ keychain, scryptLogN: 10, idleTtlMs: 50, maxTtlMs: 50, now: () => t })
        agents.push(agent)
        const key = await agent.generate({ type: "age" })
        const entry = await ageEntry(key.recipient, part)
        const gone = forgotten()
        expect(partOf((await agent.unwrap([entry]))[0])).toEqual(part)
        const before = { ...counts }
        await gone // 50 ms (real time) after the keychain's last use
        t += 1000 // the unlocked key and the cached data key expire too
        expect(agent.status()).toMatchObject({ keysUnlocked: 0, cacheEntries: 0 })
        expect(partOf((await agent.unwrap([entry]))[0])).toEqual(part)
        expect(counts.gets).toBe(before.gets + 1)
        expect(counts.asked).toBe(before.asked + 1)
    })
})

describe("work in flight when the TTL or a lock strikes", () => {
    it("TTL expiry during an RSA unwrap: a defined error, no crash, no key or data key left; the next unwrap works", async () => {
        const { keychain } = observedKeychain()
        let t = 1_000_000
        const rsaStarted = deferred()
        let release = deferred()
        let gated = true
        const agent = new Agent({
            keychain,
            scryptLogN: 10,
            idleTtlMs: 1000,
            now: () => t,
            rsaDecrypt: async (key, padded) => {
                if (gated) {
                    rsaStarted.resolve()
                    await release.promise
                }
                return privateDecrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, padded)
            },
        })
        agents.push(agent)
        const entry = await pgpSetup(agent)
        const pending = agent.unwrap([entry])
        await rsaStarted.promise
        t += 5000
        expect(agent.status()).toMatchObject({ keysUnlocked: 0 }) // the sweep wiped the key under the unwrap
        release.resolve()
        const [outcome] = await pending
        expect("error" in outcome && outcome.error.message).toMatch(/cannot unwrap the data key: .*the key was locked/)
        expect(agent.status()).toMatchObject({ keysUnlocked: 0, cacheEntries: 0 })
        gated = false
        release = deferred()
        expect(partOf((await agent.unwrap([entry]))[0])).toEqual(part)
    })

    it("lock while a key is being unlocked for an unwrap: the key is not kept past the lock", async () => {
        const { keychain, state } = observedKeychain()
        const agent = new Agent({ keychain, scryptLogN: 10 })
        agents.push(agent)
        const key = await agent.generate({ type: "age" })
        const entry = await ageEntry(key.recipient, part)
        const gate = deferred()
        const reading = deferred()
        state.gate = gate.promise
        state.reading = () => reading.resolve()
        const pending = agent.unwrap([entry])
        await reading.promise // the agent is reading the key's secret from the keychain
        agent.lock()
        state.gate = undefined
        gate.resolve()
        const [outcome] = await pending
        expect("error" in outcome && outcome.error.message).toMatch(/locked while key .* was being unlocked/)
        expect(agent.status()).toMatchObject({ keysUnlocked: 0, cacheEntries: 0 })
        expect(partOf((await agent.unwrap([entry]))[0])).toEqual(part)
        expect(agent.status()).toMatchObject({ keysUnlocked: 1, cacheEntries: 1 })
    })
})
