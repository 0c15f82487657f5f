import { execFile, execFileSync } from "node:child_process"
import { promisify } from "node:util"
import { readFileSync } from "node:fs"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AgentClient } from "../../src/agent/client.js"
import { type RunningDaemon, runDaemon } from "../../src/agent/daemon.js"
import { agentPaths } from "../../src/agent/socket.js"
import { clientEntry, fileKeychain, removeDir, tempDir } from "./helpers.js"

const USER = "ksopstest"

/** The test user's uid and gid (created without a home folder when missing; CI runs as root). */
function testUser(): { uid: number; gid: number } {
    try {
        execFileSync("id", ["-u", USER], { stdio: "ignore" })
    } catch {
        execFileSync("useradd", ["-M", "-s", "/usr/sbin/nologin", USER], { stdio: "ignore" })
    }
    const uid = Number(execFileSync("id", ["-u", USER], { encoding: "utf8" }).trim())
    const gid = Number(execFileSync("id", ["-g", USER], { encoding: "utf8" }).trim())
    return { uid, gid }
}

const run = promisify(execFile)

/** Run the client entry as the other user (asynchronously: the agent runs in this process); its JSON verdict. */
async function runAs(user: { uid: number; gid: number }, args: string[]): Promise<{ ok: boolean; reason?: string; message?: string }> {
    const { stdout: out } = await run(
        "setpriv",
        [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", process.execPath, clientEntry(), ...args],
        { encoding: "utf8", cwd: "/", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/" } },
    )
    return JSON.parse(out.trim().split("\n").at(-1)!)
}

/** The test creates a user and switches to it: it needs root. Skipped when not root, except in CI, where it must run. */
const ROOT = process.getuid?.() === 0
const IN_CI = process.env.CI === "true"

describe.skipIf(!ROOT && !IN_CI)("a peer of another uid (needs root; skipped when not root, an error in CI)", () => {
    let dir: string
    let socket: string
    let daemon: RunningDaemon
    let user: { uid: number; gid: number }

    beforeAll(async () => {
        // in CI without root this fails on purpose: the check must not silently vanish there
        expect(process.getuid?.(), "test/agent/uid.test.ts needs root (CI=true)").toBe(0)
        user = testUser()
        expect(user.uid).not.toBe(0)
        dir = tempDir()
        socket = path.join(dir, "agent.sock")
        daemon = await runDaemon({ socket, keychain: fileKeychain(dir), workers: 0, signals: false })
    })

    afterAll(async () => {
        await daemon?.stop()
        removeDir(dir)
    })

    it("the same client as the owner connects (control)", async () => {
        const { stdout: out } = await run(process.execPath, [clientEntry(), socket], { encoding: "utf8" })
        expect(JSON.parse(out)).toEqual({ ok: true, pid: process.pid })
    })

    it("is refused: cannot read the token", async () => {
        const r = await runAs(user, [socket])
        expect(r.ok).toBe(false)
        expect(r.reason).toBe("unauthorized")
        expect(r.message).toMatch(/token file/)
    })

    it("is refused even when it knows the token: the socket is out of its reach", async () => {
        const token = readFileSync(agentPaths(socket).token, "utf8").trim()
        const r = await runAs(user, [socket, token])
        expect(r.ok).toBe(false)
        expect(r.reason).toBe("unauthorized")
        expect(r.message).toMatch(/no permission to connect/)
    })

    it("the agent still answers its owner afterwards", async () => {
        const c = await AgentClient.connect(socket)
        expect((await c.status()).clients).toBe(1)
        c.close()
    })
})
