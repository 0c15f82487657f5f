import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Agent } from "../../src/agent/agent.js"
import { AgentClient } from "../../src/agent/client.js"
import type { KeyEntry } from "../../src/sops/keys.js"
import { ageEntry, fileKeychain, removeDir, spawnTestDaemon, tempDir } from "./helpers.js"

const CLIENTS = 16
const REQUESTS = 10_000
const WINDOW = 64

describe("load", () => {
    let dir: string
    let child: import("node:child_process").ChildProcess
    let socket: string
    const entries: KeyEntry[] = []
    const parts: string[] = []

    beforeAll(async () => {
        dir = tempDir()
        socket = path.join(dir, "agent.sock")
        // a real keychain with one key, filled before the agent (another process) starts
        const setup = new Agent({ keychain: fileKeychain(dir) })
        const key = await setup.generate({ type: "age", name: "load" })
        setup.close()
        for (let i = 0; i < 8; i++) {
            const part = new Uint8Array(32).fill(i + 1)
            entries.push(await ageEntry(key.recipient, part))
            parts.push(Buffer.from(part).toString("base64"))
        }
        child = await spawnTestDaemon(socket, path.join(dir, "keychain.age"))
    })

    afterAll(async () => {
        child?.kill("SIGTERM")
        removeDir(dir)
    })

    it(`${CLIENTS} clients × ${REQUESTS} cached unwraps: nothing lost, status still answers`, async () => {
        const warm = await AgentClient.connect(socket)
        expect((await warm.unwrap(entries)).map((r) => ("part" in r ? r.part : r.error.message))).toEqual(parts)
        const clients = await Promise.all(Array.from({ length: CLIENTS }, () => AgentClient.connect(socket)))
        const start = performance.now()
        const counts = await Promise.all(
            clients.map(async (c, ci) => {
                let ok = 0
                let next = 0
                const worker = async () => {
                    while (next < REQUESTS) {
                        const i = next++
                        const k = (ci + i) % entries.length
                        const [r] = await c.unwrap([entries[k]])
                        if ("part" in r && r.part === parts[k]) ok++
                    }
                }
                await Promise.all(Array.from({ length: WINDOW }, worker))
                return ok
            }),
        )
        const seconds = (performance.now() - start) / 1000
        expect(counts).toEqual(new Array(CLIENTS).fill(REQUESTS))
        const status = await warm.status()
        expect(status.pid).toBe(child.pid)
        expect(status.clients).toBe(CLIENTS + 1)
        expect(status.cacheEntries).toBe(entries.length)
        process.stderr.write(`load: ${CLIENTS * REQUESTS} unwraps in ${seconds.toFixed(1)} s (${Math.round((CLIENTS * REQUESTS) / seconds)}/s)\n`)
        for (const c of clients) c.close()
        warm.close()
    })
})
