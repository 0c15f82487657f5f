/**
 * The CLI when the agent drops the connection in the middle of a bulk run: a stand-in agent on a real Unix socket
 * (the protocol's hello, then the first unwrap request answered "no matching key", then the connection cut with
 * requests outstanding). What the code intends (src/agent/client.ts AgentKeyService): an unreachable or failed
 * agent leaves each entry to the local keys, which decrypt it or report the usual per-file error.
 * Needs the build (bin/kubectl-sops runs dist/).
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { type Server, createServer } from "node:http"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocketServer } from "ws"
import { AgentErrorCode, PROTOCOL_VERSION } from "../../src/agent/protocol.js"
import { agentPaths, listenOnSocket, writeTokenFile } from "../../src/agent/socket.js"
import { baseEnv, run } from "../cli/run.js"
import { removeDir, tempDir } from "./helpers.js"

const dirs: string[] = []
const servers: Server[] = []
afterEach(async () => {
    for (const s of servers.splice(0)) {
        s.closeAllConnections()
        await new Promise((r) => s.close(r))
    }
    for (const d of dirs.splice(0)) removeDir(d)
})

/** A peer that speaks hello, answers the first unwrap request with errors, and cuts the connection on the next. */
async function droppingAgent(socket: string): Promise<{ unwrapRequests: () => number; cut: Promise<void> }> {
    mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 })
    const token = writeTokenFile(agentPaths(socket).token)
    const http = createServer()
    servers.push(http)
    const wss = new WebSocketServer({ server: http })
    let unwraps = 0
    let onCut!: () => void
    const cut = new Promise<void>((r) => {
        onCut = r
    })
    wss.on("connection", (ws) => {
        ws.on("message", (data) => {
            const req = JSON.parse(String(data))
            if (req.method === "agent/hello") {
                expect(req.params.token).toBe(token)
                ws.send(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: { protocol: PROTOCOL_VERSION, agentVersion: "stand-in", pid: 1 } }))
            } else if (req.method === "datakey/unwrap") {
                unwraps++
                if (unwraps === 1) {
                    const results = req.params.entries.map(() => ({
                        error: { code: AgentErrorCode.NoMatchingKey, message: "the agent holds no age key for this entry" },
                    }))
                    ws.send(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: { results } }))
                } else {
                    ws.terminate() // mid-batch: this request and any later ones never get an answer
                    onCut()
                }
            }
        })
    })
    await listenOnSocket(http, socket)
    return { unwrapRequests: () => unwraps, cut }
}

async function sandbox() {
    const dir = tempDir("ksfb")
    dirs.push(dir)
    const keyFile = path.join(dir, "keys.txt")
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" })
    const recipient = /public key: (age1\S+)/.exec(readFileSync(keyFile, "utf8"))![1]
    const env = { ...baseEnv(dir), KUBECTL_SOPS_AGENT_SOCK: path.join(dir, "a", "agent.sock") }
    writeFileSync(path.join(dir, ".sops.yaml"), `creation_rules:\n  - path_regex: .*\\.yaml$\n    age: ${recipient}\n`)
    const files: string[] = []
    for (let i = 0; i < 12; i++) {
        const f = path.join(dir, `s${i}.yaml`)
        writeFileSync(f, `password: secret-${i}\n`)
        files.push(f)
    }
    const enc = await run(["encrypt", "-i", ...files], { cwd: dir, env })
    expect(enc.stderr).toBe("")
    expect(enc.code).toBe(0)
    return { dir, env, keyFile, files }
}

describe("the agent drops the connection mid-batch", () => {
    it("bulk decrypt falls back to the local keys for every file", async () => {
        const sb = await sandbox()
        const agent = await droppingAgent(sb.env.KUBECTL_SOPS_AGENT_SOCK)
        const r = await run(["decrypt", "-i", ...sb.files], { cwd: sb.dir, env: { ...sb.env, SOPS_AGE_KEY_FILE: sb.keyFile } })
        await agent.cut
        expect(agent.unwrapRequests()).toBeGreaterThanOrEqual(2) // the cut happened while the run was going on
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        for (const [i, f] of sb.files.entries()) expect(readFileSync(f, "utf8")).toBe(`password: secret-${i}\n`)
    })

    it("without local keys every file is reported with sops' error and exit 128, no crash", async () => {
        const sb = await sandbox()
        const agent = await droppingAgent(sb.env.KUBECTL_SOPS_AGENT_SOCK)
        const r = await run(["decrypt", "-i", ...sb.files], { cwd: sb.dir, env: sb.env })
        await agent.cut
        expect(r.code).toBe(128)
        expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/)
        for (const f of sb.files) expect(r.stderr).toContain(`${path.basename(f)}: `)
        expect(r.stderr).toContain("Failed to get the data key required to decrypt the SOPS file.")
        // nothing was written over the encrypted files
        for (const f of sb.files) expect(readFileSync(f, "utf8")).toContain("ENC[AES256_GCM,")
    })
})
