import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { AgentClient } from "../../src/agent/client.js"
import { runDaemon } from "../../src/agent/daemon.js"
import {
    AgentError,
    agentPaths,
    checkSocketDir,
    checkSocketPath,
    ensureSocketDir,
    prepareSocket,
    probeSocket,
    resolveSocketPath,
} from "../../src/agent/socket.js"
import { bundleScript, fileKeychain, removeDir, spawnTestDaemon, tempDir } from "./helpers.js"

const dirs: string[] = []
function dir(): string {
    const d = tempDir()
    dirs.push(d)
    return d
}
afterEach(() => {
    for (const d of dirs.splice(0)) removeDir(d)
})

/** Resolves once the child has exited (at once when it already has). */
function exited(c: ChildProcess): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve()
    return new Promise((r) => c.once("exit", () => r()))
}

function uidOf(user: string): number {
    return Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim())
}

describe("socket path", () => {
    it("resolves env, XDG_RUNTIME_DIR, then home", () => {
        expect(resolveSocketPath({ KUBECTL_SOPS_AGENT_SOCK: "/x/a.sock" }, "/home/u")).toBe("/x/a.sock")
        expect(resolveSocketPath({ KUBECTL_SOPS_AGENT_SOCK: "rel.sock" }, "/home/u", "/w")).toBe("/w/rel.sock")
        expect(resolveSocketPath({ XDG_RUNTIME_DIR: "/run/user/1" }, "/home/u")).toBe("/run/user/1/kubectl-sops/agent.sock")
        expect(resolveSocketPath({}, "/home/u")).toBe("/home/u/.kubectl-sops/agent.sock")
        expect(agentPaths("/d/agent.sock")).toEqual({
            socket: "/d/agent.sock",
            dir: "/d",
            token: "/d/agent.token",
            pid: "/d/agent.pid",
            lock: "/d/agent.lock",
        })
    })

    it("refuses a path longer than 107 bytes with a clear error", () => {
        const long = `/tmp/${"x".repeat(110)}/agent.sock`
        expect(() => checkSocketPath(long)).toThrow(/more than the 107 a Unix socket allows/)
        expect(() => checkSocketPath("/tmp/ok/agent.sock")).not.toThrow()
    })
})

describe("socket folder checks", () => {
    it("creates a missing folder 0700", () => {
        const d = path.join(dir(), "a", "b")
        ensureSocketDir(d)
        expect(statSync(d).mode & 0o777).toBe(0o700)
    })

    it("refuses group/world-accessible folders", () => {
        const d = dir()
        chmodSync(d, 0o755)
        expect(() => checkSocketDir(d)).toThrow(/mode 0755.*must not be accessible/)
        chmodSync(d, 0o710)
        expect(() => checkSocketDir(d)).toThrow(AgentError)
        chmodSync(d, 0o700)
        expect(() => checkSocketDir(d)).not.toThrow()
    })

    it("refuses a folder owned by someone else", () => {
        const d = dir()
        const nobody = uidOf("nobody")
        chownSync(d, nobody, nobody)
        expect(() => checkSocketDir(d)).toThrow(/owned by uid \d+, not by you/)
    })

    it("refuses a symlink or a file in place of the folder", () => {
        const d = dir()
        const f = path.join(d, "file")
        writeFileSync(f, "")
        expect(() => checkSocketDir(f)).toThrow(/not a directory/)
    })

    it("refuses to replace something that is not a socket", async () => {
        const d = dir()
        const s = path.join(d, "agent.sock")
        writeFileSync(s, "")
        await expect(prepareSocket(s)).rejects.toThrow(/not a socket/)
    })

    it("the daemon refuses to start in an unsafe folder", async () => {
        const d = dir()
        mkdirSync(path.join(d, "open"), { mode: 0o777 })
        chmodSync(path.join(d, "open"), 0o777)
        const e = await runDaemon({ socket: path.join(d, "open", "agent.sock"), keychain: fileKeychain(d), workers: 0, signals: false }).catch(
            (x) => x,
        )
        expect(e).toBeInstanceOf(AgentError)
        expect(e.reason).toBe("unsafe-folder")
    })
})

describe("agent lifecycle across processes", () => {
    it("replaces the stale socket of a SIGKILLed agent", async () => {
        const d = dir()
        const socket = path.join(d, "agent.sock")
        const child = await spawnTestDaemon(socket, path.join(d, "kc.age"))
        expect(await probeSocket(socket)).toBe("live")
        child.kill("SIGKILL")
        await new Promise((r) => child.once("exit", r))
        expect(existsSync(socket)).toBe(true)
        expect(await probeSocket(socket)).toBe("stale")
        const daemon = await runDaemon({ socket, keychain: fileKeychain(d), workers: 0, signals: false })
        try {
            const c = await AgentClient.connect(socket)
            expect((await c.status()).pid).toBe(process.pid)
            c.close()
        } finally {
            await daemon.stop()
        }
        expect(existsSync(socket)).toBe(false)
    })

    it("concurrent starts on a stale socket: exactly one agent serves; its socket and token outlive the others", async () => {
        const d = dir()
        const socket = path.join(d, "agent.sock")
        const first = await spawnTestDaemon(socket, path.join(d, "kc.age"))
        first.kill("SIGKILL")
        await new Promise((r) => first.once("exit", r))
        expect(await probeSocket(socket)).toBe("stale")
        // every child loads, then all call runDaemon at once when "go" arrives on stdin (the race of real starts)
        const entry = bundleScript(
            "daemon-barrier",
            `import { once } from "node:events"
import { runDaemon } from "{src}/agent/daemon.ts"
import { FileKeychain } from "{src}/agent/keychain.ts"
const [socket, file] = process.argv.slice(2)
const keychain = new FileKeychain(file, { env: { KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "test-passphrase" }, scryptLogN: 10 })
process.stdout.write("loaded\\n")
await once(process.stdin, "data")
process.stdin.destroy()
try {
    const d = await runDaemon({ socket, keychain, workers: 0 })
    process.stdout.write("ready\\n")
    await d.done
} catch (e) {
    process.stdout.write(\`failed: \${e.message}\\n\`)
    process.exit(1)
}
`,
        )
        const children = Array.from({ length: 6 }, () =>
            spawn(process.execPath, [entry, socket, path.join(d, "kc.age")], { stdio: ["pipe", "pipe", "inherit"] }),
        )
        const lineOf = (c: ChildProcess, re: RegExp) =>
            new Promise<string>((resolve) => {
                let out = ""
                c.stdout!.on("data", (b) => {
                    out += b
                    const m = re.exec(out)
                    if (m !== null) resolve(m[0].trim())
                })
                c.once("exit", () => resolve(out.trim() || "exited"))
            })
        await Promise.all(children.map((c) => lineOf(c, /loaded/)))
        const outcomes = children.map((c) => lineOf(c, /ready\n|failed: .*\n/))
        for (const c of children) c.stdin!.end("go\n")
        const lines = await Promise.all(outcomes)
        const started = children.map((c, i) => (lines[i] === "ready" ? { status: "fulfilled" as const, value: c } : { status: "rejected" as const, reason: lines[i] }))
        try {
            const winners = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []))
            const losers = started.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []))
            expect(winners).toHaveLength(1)
            for (const l of losers) expect(l).toMatch(/already running/)
            // the losers have exited (allSettled waited for their exit); stop anything else that still runs
            for (const c of children) if (c !== winners[0] && c.exitCode === null) c.kill("SIGTERM")
            await Promise.all(children.filter((c) => c !== winners[0]).map((c) => exited(c)))
            const c = await AgentClient.connect(socket)
            expect((await c.status()).pid).toBe(winners[0].pid)
            c.close()
        } finally {
            for (const c of children) c.kill("SIGTERM")
            await Promise.all(children.map((c) => exited(c)))
        }
    })

    it("breaks a start lock left by a process that is gone, and releases its own", async () => {
        const d = dir()
        const socket = path.join(d, "agent.sock")
        const gone = spawn("true")
        await exited(gone)
        writeFileSync(agentPaths(socket).lock, `${gone.pid} leftover\n`)
        const daemon = await runDaemon({ socket, keychain: fileKeychain(d), workers: 0, signals: false })
        try {
            expect(existsSync(agentPaths(socket).lock)).toBe(false)
            const c = await AgentClient.connect(socket)
            expect((await c.status()).pid).toBe(process.pid)
            c.close()
        } finally {
            await daemon.stop()
        }
    })

    it("refuses a second agent on a live socket, and SIGTERM removes the socket, token and pid files", async () => {
        const d = dir()
        const socket = path.join(d, "agent.sock")
        const child = await spawnTestDaemon(socket, path.join(d, "kc.age"))
        try {
            const e = await runDaemon({ socket, keychain: fileKeychain(d), workers: 0, signals: false }).catch((x) => x)
            expect(e).toBeInstanceOf(AgentError)
            expect(e.reason).toBe("already-running")
            expect(e.message).toMatch(/already running/)
            // the first agent is unharmed: its token still works
            const c = await AgentClient.connect(socket)
            expect((await c.status()).pid).toBe(child.pid)
            c.close()
        } finally {
            child.kill("SIGTERM")
            await new Promise((r) => child.once("exit", r))
        }
        const p = agentPaths(socket)
        expect([existsSync(p.socket), existsSync(p.token), existsSync(p.pid)]).toEqual([false, false, false])
        const e = await AgentClient.connect(socket).catch((x) => x)
        expect(e.reason).toBe("not-running")
    })
})

describe("the client sends no passphrase or private key through an unsafe folder", () => {
    it("refuses unlock, import and generate when the socket's folder is 0777 or someone else's; sends once it is safe", async () => {
        const d = dir()
        const folder = path.join(d, "s")
        const socket = path.join(folder, "agent.sock")
        const daemon = await runDaemon({ socket, keychain: fileKeychain(d), workers: 0, signals: false, scryptLogN: 10 })
        const c = await AgentClient.connect(socket)
        try {
            const key = await c.generateKey({ type: "age", passphrase: "pw-1234" })
            expect(key.protected).toBe(true)
            const identity = execFileSync("age-keygen", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
            const refusals: unknown[] = []
            chmodSync(folder, 0o777)
            refusals.push(await c.unlock("pw-1234").catch((e) => e))
            refusals.push(await c.importKeys({ text: identity }).catch((e) => e))
            chmodSync(folder, 0o700)
            const nobody = uidOf("nobody")
            chownSync(folder, nobody, nobody)
            refusals.push(await c.unlock("pw-1234").catch((e) => e))
            refusals.push(await c.generateKey({ type: "age", passphrase: "pw-1234" }).catch((e) => e))
            chownSync(folder, process.getuid!(), process.getgid!())
            for (const e of refusals) {
                expect(e).toBeInstanceOf(AgentError)
                expect((e as AgentError).reason).toBe("unsafe-folder")
                expect((e as AgentError).message).toMatch(/^not sending (a passphrase|a private key) to the agent: agent folder .*(mode 0777|owned by uid)/)
                expect((e as AgentError).hint).toBeDefined()
                expect((e as AgentError).message).not.toContain("pw-1234")
            }
            // nothing reached the agent: the key is still locked and no key was added
            expect((await c.status()).keysUnlocked).toBe(0)
            expect(await c.listKeys()).toHaveLength(1)
            // control: in the safe folder the same passphrase is sent and unlocks the key
            expect(await c.unlock("pw-1234")).toEqual([key.id])
        } finally {
            c.close()
            await daemon.stop()
        }
    })
})
