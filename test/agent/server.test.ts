import { readFileSync, statSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { Agent } from "../../src/agent/agent.js"
import { AgentClient, AgentKeyService } from "../../src/agent/client.js"
import { type RunningDaemon, runDaemon } from "../../src/agent/daemon.js"
import { AgentErrorCode, PROTOCOL_VERSION } from "../../src/agent/protocol.js"
import { AgentError, agentPaths } from "../../src/agent/socket.js"
import type { UnlockedKey } from "../../src/keys/keystore.js"
import { createKeyContext } from "../../src/keys/context.js"
import { LocalKeyService } from "../../src/keys/local.js"
import { unwrapWith } from "../../src/keys/unwrap.js"
import { ageEntry, fileKeychain, removeDir, tempDir } from "./helpers.js"

/** A response as received (untyped JSON). */
// biome-ignore lint/suspicious/noExplicitAny: raw JSON from the wire
type Json = any

/**
 * Send raw frames on a fresh connection; resolves with the messages received and the close code once the server
 * has closed the connection (`until: "close"`) or once that many messages have arrived.
 */
function raw(socket: string, frames: (string | Buffer)[], until: "close" | number): Promise<{ messages: Json[]; close?: number }> {
    return new Promise((resolve) => {
        const ws = new WebSocket(`ws+unix:${socket}:/`)
        const messages: Json[] = []
        let close: number | undefined
        ws.on("message", (d) => {
            messages.push(JSON.parse(String(d)))
            if (until !== "close" && messages.length >= until) {
                resolve({ messages, close })
                ws.terminate()
            }
        })
        ws.on("error", () => {})
        ws.on("close", (code) => {
            close = code
            resolve({ messages, close })
        })
        ws.on("open", () => {
            for (const f of frames) ws.send(f)
        })
    })
}

describe("agent server", () => {
    let dir: string
    let daemon: RunningDaemon
    let socket: string
    let token: string

    beforeAll(async () => {
        dir = tempDir()
        socket = path.join(dir, "agent.sock")
        const keychain = fileKeychain(dir)
        daemon = await runDaemon({ socket, keychain, workers: 0, signals: false, scryptLogN: 10 })
        token = readFileSync(agentPaths(socket).token, "utf8").trim()
    })

    afterAll(async () => {
        await daemon?.stop()
        removeDir(dir)
    })

    it("creates the socket 0600 and the token file 0600 in a 0700 folder", () => {
        expect(statSync(socket).mode & 0o777).toBe(0o600)
        expect(statSync(agentPaths(socket).token).mode & 0o777).toBe(0o600)
        expect(statSync(dir).mode & 0o777).toBe(0o700)
        expect(token).toMatch(/^[0-9a-f]{64}$/)
    })

    it("answers hello with the protocol version", async () => {
        const c = await AgentClient.connect(socket)
        expect(c.hello).toEqual({ protocol: PROTOCOL_VERSION, agentVersion: expect.any(String), pid: process.pid })
        c.close()
    })

    it("refuses a wrong token", async () => {
        const e = await AgentClient.connect(socket, { token: "0".repeat(64) }).catch((x) => x)
        expect(e).toBeInstanceOf(AgentError)
        expect(e.reason).toBe("unauthorized")
        expect(e.message).toMatch(/wrong agent token/)
    })

    it("refuses requests before hello and closes the connection", async () => {
        const r = await raw(socket, [JSON.stringify({ jsonrpc: "2.0", id: 1, method: "agent/status" })], "close")
        expect(r.messages[0].error.code).toBe(AgentErrorCode.Unauthorized)
        expect(r.close).toBe(1008)
        const r2 = await raw(socket, [JSON.stringify({ jsonrpc: "2.0", id: 1, method: "agent/hello", params: { version: 1 } })], "close")
        expect(r2.messages[0].error.code).toBe(AgentErrorCode.InvalidParams)
        expect(r2.close).toBe(1008)
    })

    it("refuses an unsupported protocol version", async () => {
        const r = await raw(socket, [JSON.stringify({ jsonrpc: "2.0", id: 1, method: "agent/hello", params: { version: 99, token } })], 1)
        expect(r.messages[0].error.code).toBe(AgentErrorCode.UnsupportedVersion)
    })

    it("answers malformed frames with JSON-RPC errors and keeps the connection", async () => {
        const hello = JSON.stringify({ jsonrpc: "2.0", id: 0, method: "agent/hello", params: { version: 1, token } })
        const r = await raw(socket, [
            hello,
            "{not json",
            "[1,2]",
            JSON.stringify({ jsonrpc: "2.0", id: 2, method: "no/such" }),
            JSON.stringify({ jsonrpc: "2.0", id: 3, method: "keys/remove", params: { id: 5 } }),
            Buffer.from([0xff, 0xfe, 0x00]),
            JSON.stringify({ jsonrpc: "2.0", id: 4, method: "agent/status" }),
        ], 7)
        // responses may come out of order (JSON-RPC matches them by id); unreadable ids are null
        const byId = new Map<unknown, unknown[]>()
        for (const m of r.messages.slice(1)) byId.set(m.id, [...(byId.get(m.id) ?? []), m.error?.code ?? "ok"])
        expect(byId.get(null)).toEqual([AgentErrorCode.ParseError, AgentErrorCode.InvalidRequest, AgentErrorCode.ParseError])
        expect(byId.get(2)).toEqual([AgentErrorCode.MethodNotFound])
        expect(byId.get(3)).toEqual([AgentErrorCode.InvalidParams])
        expect(byId.get(4)).toEqual(["ok"])
        expect(r.messages.find((m) => m.id === 4).result.socket).toBe(socket)
        expect(r.close).toBeUndefined()
    })

    it("refuses a 1 MiB junk frame without crashing and still answers", async () => {
        const r = await raw(socket, [Buffer.alloc(1024 * 1024, 0x41)], "close")
        expect(r.close).toBe(1009)
        const c = await AgentClient.connect(socket)
        expect((await c.status()).pid).toBe(process.pid)
        c.close()
    })

    it("generates, lists, exports keys and unwraps data keys (cached)", async () => {
        const c = await AgentClient.connect(socket)
        const key = await c.generateKey({ type: "age", name: "test" })
        expect(key).toMatchObject({ type: "age", name: "test", protected: false, unlocked: true })
        expect((await c.listKeys()).map((k) => k.id)).toContain(key.id)
        const pub = await c.exportKey(key.id)
        expect(pub.text).toBe(`${key.recipient}\n`)
        const sec = await c.exportKey(key.id, true)
        expect(sec.text).toMatch(/AGE-SECRET-KEY-1/)

        const dataKey = new Uint8Array(32).fill(7)
        const entry = await ageEntry(key.recipient, dataKey)
        const other = await ageEntry("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", dataKey)
        const [ok, none, kms] = await c.unwrap([entry, other, { type: "kms", params: { arn: "x" }, enc: "e" }])
        expect(ok).toEqual({ part: Buffer.from(dataKey).toString("base64") })
        expect("error" in none && none.error.code).toBe(AgentErrorCode.NoMatchingKey)
        expect("error" in kms && kms.error.code).toBe(AgentErrorCode.NoMatchingKey)
        expect((await c.status()).cacheEntries).toBe(1)
        expect(await c.unwrap([entry])).toEqual([ok])
        c.close()
    })

    it("protected keys stay locked until unlocked; wrong passphrase refused", async () => {
        const c = await AgentClient.connect(socket)
        const key = await c.generateKey({ type: "age", name: "locked", passphrase: "secret words" })
        expect(key).toMatchObject({ protected: true, unlocked: false })
        const entry = await ageEntry(key.recipient, new Uint8Array(32).fill(3))
        const [r] = await c.unwrap([entry])
        expect("error" in r && r.error).toMatchObject({ code: AgentErrorCode.Locked, data: { hint: expect.stringMatching(/agent unlock/) } })
        const bad = await c.unlock("wrong", key.id).catch((e) => e)
        expect(bad.code).toBe(AgentErrorCode.BadPassphrase)
        expect(await c.unlock("secret words")).toEqual([key.id])
        const [r2] = await c.unwrap([entry])
        expect(r2).toEqual({ part: Buffer.alloc(32, 3).toString("base64") })
        // lock: everything forgotten at once
        const locked = await c.lock()
        expect(locked.wipedCacheEntries).toBeGreaterThanOrEqual(1)
        expect(locked.lockedKeys).toBeGreaterThanOrEqual(1)
        const st = await c.status()
        expect(st.cacheEntries).toBe(0)
        const [r3] = await c.unwrap([entry])
        expect("error" in r3 && r3.error.code).toBe(AgentErrorCode.Locked)
        c.close()
    })

    it("AgentKeyService unwraps through the agent and falls back to the local service", async () => {
        const c = await AgentClient.connect(socket)
        const agentKey = await c.generateKey({ type: "age", name: "svc" })
        // a second key known only locally (an identity file), not to the agent
        const local = new Agent({ keychain: fileKeychain(tempDir()) })
        const localKey = await local.generate({ type: "age" })
        const secret = (await local.exportKey(localKey.id, true)).text
        local.close()
        const keyFile = path.join(dir, "keys.txt")
        writeFileSync(keyFile, secret, { mode: 0o600 })
        const fallback = new LocalKeyService(createKeyContext({ env: { SOPS_AGE_KEY_FILE: keyFile }, homeDir: dir }))
        const svc = new AgentKeyService(c, fallback)
        const dk = new Uint8Array(32).fill(9)
        const viaAgent = await ageEntry(agentKey.recipient, dk)
        const viaLocal = await ageEntry(localKey.recipient, dk)
        const [a, b] = await Promise.all([svc.decrypt(viaAgent), svc.decrypt(viaLocal)])
        expect([...a]).toEqual([...dk])
        expect([...b]).toEqual([...dk])
        const status = await c.status()
        expect(status.cacheEntries).toBeGreaterThanOrEqual(1)
        await c.removeKey(agentKey.id)
        expect((await c.listKeys()).map((k) => k.id)).not.toContain(agentKey.id)
        c.close()
    })

    it("pipelines many concurrent requests on one connection", async () => {
        const c = await AgentClient.connect(socket)
        const key = await c.generateKey({ type: "age" })
        const entry = await ageEntry(key.recipient, new Uint8Array(32).fill(1))
        const results = await Promise.all(Array.from({ length: 500 }, () => c.unwrap([entry])))
        expect(results.every((r) => "part" in r[0])).toBe(true)
        c.close()
    })
})

describe("lock wipes key material", () => {
    it("zeroes the unlocked key's private scalar and the cached data keys", async () => {
        const dir = tempDir()
        const seen: UnlockedKey[] = []
        const agent = new Agent({
            keychain: fileKeychain(dir),
            unwrapper: async (entry, key) => {
                seen.push(key)
                return unwrapWith(entry, key)
            },
        })
        try {
            const k = await agent.generate({ type: "age" })
            const entry = await ageEntry(k.recipient, new Uint8Array(32).fill(5))
            const [r] = await agent.unwrap([entry])
            expect("part" in r && [...r.part]).toEqual(new Array(32).fill(5))
            const m = seen[0].material
            expect(m.kind).toBe("x25519")
            const scalar = m.kind === "x25519" ? m.scalar : new Uint8Array(1)
            expect(scalar.some((b) => b !== 0)).toBe(true)
            expect(agent.status()).toMatchObject({ keysUnlocked: 1, cacheEntries: 1 })
            expect(agent.lock()).toEqual({ lockedKeys: 1, wipedCacheEntries: 1 })
            expect(scalar.every((b) => b === 0)).toBe(true)
            expect(seen[0].wiped).toBe(true)
            expect(agent.status()).toMatchObject({ keysUnlocked: 0, cacheEntries: 0 })
            // the returned part was a copy: wiping the cache did not touch it
            expect("part" in r && r.part[0]).toBe(5)
        } finally {
            agent.close()
            removeDir(dir)
        }
    })
})
