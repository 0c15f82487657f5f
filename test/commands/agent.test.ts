/**
 * `kubectl sops agent …` and `keys …` end to end: the built CLI, a real agent on a Unix socket in a temp folder, the
 * real Secret Service of the test D-Bus session (scripts/with-keyring.sh) under a service name of its own, and the
 * file keychain. Every agent started here is stopped in afterAll.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parse } from "yaml"
import { baseEnv, binPath, run, tempDir } from "../cli/run.js"
import { AGE1, cases, PGP_FP } from "./fixtures.js"
import { describeShared, sharedData } from "../conformance-data.js"

const keysDir = path.join(cases, "keys")
const plain = sharedData ? parse(readFileSync(path.join(cases, "secret-pgp", "plain.yaml"), "utf8")) : undefined

/** A temp folder with a HOME, an empty GNUPGHOME, no age keys, its own socket and keychain service. */
function agentSandbox(name: string, extra: Record<string, string> = {}) {
    const dir = tempDir(`ksops-${name}-`)
    const home = path.join(dir, "home")
    mkdirSync(home, { mode: 0o700 })
    const env: Record<string, string> = {
        ...baseEnv(home),
        KUBECTL_SOPS_AGENT_SOCK: path.join(dir, "agent", "agent.sock"),
        KUBECTL_SOPS_KEYCHAIN_SERVICE: `kubectl-sops-test-${name}-${process.pid}-${Date.now()}`,
        ...extra,
    }
    for (const k of ["XDG_RUNTIME_DIR", "KUBECTL_SOPS_NO_AGENT", "KUBECTL_SOPS_KEYCHAIN", "KUBECTL_SOPS_KEYCHAIN_PASSPHRASE"]) {
        if (!(k in extra)) delete env[k]
    }
    const ks = (args: readonly string[], o: { input?: string; env?: Record<string, string | undefined> } = {}) =>
        run(args, { cwd: dir, env: { ...env, ...(o.env ?? {}) }, ...(o.input === undefined ? {} : { input: o.input }) })
    return { dir, env, ks, socket: env.KUBECTL_SOPS_AGENT_SOCK, service: env.KUBECTL_SOPS_KEYCHAIN_SERVICE }
}

function secretToolUsers(service: string): string[] {
    const r = spawnSync("secret-tool", ["search", "--all", "service", service], { encoding: "utf8" })
    return [...`${r.stdout}\n${r.stderr}`.matchAll(/attribute\.username = (\S+)/g)].map((m) => m[1])
}

describeShared("agent and keys with the Secret Service", () => {
    const sb = agentSandbox("ss")
    const ks = sb.ks
    let ageRecipient = ""

    afterAll(async () => {
        await ks(["agent", "stop"])
        spawnSync("secret-tool", ["clear", "service", sb.service])
    })

    it("agent start prints the export line; agent status -o json describes the agent", async () => {
        const r = await ks(["agent", "start"])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(r.stdout).toContain(`export KUBECTL_SOPS_AGENT_SOCK=${sb.socket};\n`)
        const pid = Number(/Agent pid (\d+)/.exec(r.stdout)?.[1])
        expect(pid).toBeGreaterThan(0)
        const csh = await ks(["agent", "start", "-c"])
        expect(csh.code).toBe(0)
        expect(csh.stdout).toContain(`setenv KUBECTL_SOPS_AGENT_SOCK ${sb.socket};`)
        expect(csh.stderr).toContain("already running")
        const s = await ks(["agent", "status", "-o", "json"])
        expect(s.code, s.stderr).toBe(0)
        const status = JSON.parse(s.stdout)
        expect(status).toMatchObject({ pid, socket: sb.socket, protocol: 1, idleTtlSeconds: 600, maxTtlSeconds: 7200 })
        expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0)
        expect(typeof status.keysLoaded).toBe("number")
        expect(typeof status.cacheEntries).toBe("number")
        const human = await ks(["agent", "status"])
        expect(human.stdout).toMatch(new RegExp(`^socket: +${sb.socket}$`, "m"))
        expect(human.stdout).toMatch(new RegExp(`^pid: +${pid}$`, "m"))
        const yaml = await ks(["agent", "status", "-o", "yaml"])
        expect(parse(yaml.stdout)).toMatchObject({ pid, socket: sb.socket })
    })

    it("keys generate --type age stores a key that keys list and secret-tool see", async () => {
        const g = await ks(["keys", "generate", "--type", "age", "--name", "test-age"])
        expect(g.code, g.stderr).toBe(0)
        ageRecipient = g.stdout.trim()
        expect(ageRecipient).toMatch(/^age1[0-9a-z]{58}$/)
        const l = await ks(["keys", "list", "-o", "json"])
        expect(l.code, l.stderr).toBe(0)
        expect(JSON.parse(l.stdout)).toEqual([
            expect.objectContaining({ id: ageRecipient, type: "age", name: "test-age", recipient: ageRecipient, protected: false, unlocked: true }),
        ])
        const table = await ks(["keys", "list"])
        expect(table.stdout.split("\n")[0]).toMatch(/^ID +TYPE +CREATED +STATE +NAME$/)
        expect(table.stdout).toContain(ageRecipient)
        expect(secretToolUsers(sb.service)).toContain(ageRecipient)
    })

    it("keys survive agent stop + agent start (persisted in the keychain)", async () => {
        const stop = await ks(["agent", "stop"])
        expect(stop.code).toBe(0)
        expect(existsSync(sb.socket)).toBe(false)
        expect((await ks(["agent", "status"])).code).toBe(1)
        expect((await ks(["agent", "start"])).code).toBe(0)
        const l = await ks(["keys", "list", "-o", "yaml"])
        expect(l.code, l.stderr).toBe(0)
        expect(parse(l.stdout).map((k: { id: string }) => k.id)).toEqual([ageRecipient])
    })

    it("keys import takes age identity files and armored PGP secret keys", async () => {
        const a = await ks(["keys", "import", path.join(keysDir, "all.agekey"), "-o", "json"])
        expect(a.code, a.stderr).toBe(0)
        expect(JSON.parse(a.stdout).length).toBeGreaterThanOrEqual(4)
        const p = await ks(["keys", "import", "-"], { input: readFileSync(path.join(keysDir, "cluster0.sec.asc"), "utf8") })
        expect(p.code, p.stderr).toBe(0)
        expect(p.stdout).toContain(PGP_FP)
        const again = await ks(["keys", "import", path.join(keysDir, "cluster0.sec.asc")])
        expect(again.code).toBe(1)
        expect(again.stderr).toContain("already")
    })

    it("keys export prints the public key (gpg imports it); --secret warns on stderr", async () => {
        const e = await ks(["keys", "export", PGP_FP])
        expect(e.code, e.stderr).toBe(0)
        expect(e.stderr).toBe("")
        expect(e.stdout).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/)
        expect(e.stdout).not.toContain("PRIVATE")
        const gnupg = path.join(sb.dir, "gpg-export")
        mkdirSync(gnupg, { mode: 0o700 })
        execFileSync("gpg", ["--batch", "--quiet", "--import"], { input: e.stdout, env: { ...sb.env, GNUPGHOME: gnupg }, stdio: ["pipe", "ignore", "ignore"] })
        const listed = execFileSync("gpg", ["--batch", "--with-colons", "--list-keys"], { env: { ...sb.env, GNUPGHOME: gnupg } }).toString()
        expect(listed).toContain(`fpr:::::::::${PGP_FP}:`)
        expect(execFileSync("gpg", ["--batch", "--list-secret-keys"], { env: { ...sb.env, GNUPGHOME: gnupg } }).toString()).toBe("")
        execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...sb.env, GNUPGHOME: gnupg }, stdio: "ignore" })
        const age = await ks(["keys", "export", ageRecipient])
        expect(age.stdout).toBe(`${ageRecipient}\n`)
        const secret = await ks(["keys", "export", "--secret", ageRecipient])
        expect(secret.code).toBe(0)
        expect(secret.stderr).toMatch(/^warning: printing the PRIVATE key/)
        expect(secret.stdout).toMatch(/^AGE-SECRET-KEY-1/m)
    })

    it("decrypt works through the agent with no keys in the environment; --no-agent fails with 128", async () => {
        const file = path.join(sb.dir, "secret.yaml")
        writeFileSync(file, readFileSync(path.join(cases, "secret-pgp", "out.stdout")))
        const r = await ks(["decrypt", "secret.yaml"])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(parse(r.stdout)).toEqual(plain)
        const noAgent = await ks(["decrypt", "--no-agent", "secret.yaml"])
        expect(noAgent.code).toBe(128)
        expect(noAgent.stdout).toBe("")
        const noAgentEnv = await ks(["decrypt", "secret.yaml"], { env: { KUBECTL_SOPS_NO_AGENT: "1" } })
        expect(noAgentEnv.code).toBe(128)
        const s = JSON.parse((await ks(["agent", "status", "-o", "json"])).stdout)
        expect(s.cacheEntries).toBeGreaterThanOrEqual(1)
    })

    it("a passphrase-protected key: locked → clear error; unlock → decrypts; lock → fails again", async () => {
        const g = await ks(["keys", "generate", "--type", "age", "--name", "locked-one", "--passphrase-stdin"], { input: "correct horse\n" })
        expect(g.code, g.stderr).toBe(0)
        const recipient = g.stdout.trim()
        const enc = await ks(["encrypt", "--age", recipient, "--filename-override", "s.yaml"], { input: "password: hunter2\n" })
        expect(enc.code, enc.stderr).toBe(0)
        writeFileSync(path.join(sb.dir, "locked.yaml"), enc.stdout)
        const listed = JSON.parse((await ks(["keys", "list", "-o", "json"])).stdout).find((k: { id: string }) => k.id === recipient)
        expect(listed).toMatchObject({ protected: true, unlocked: false })

        const locked = await ks(["decrypt", "locked.yaml"])
        expect(locked.code).toBe(128)
        expect(locked.stderr).toMatch(/is locked/)
        expect(locked.stderr).toContain("kubectl sops agent")
        expect(locked.stderr.replace(/\s+\|\s+/g, " ")).toContain("unlock")

        const wrong = await ks(["agent", "unlock", recipient, "--passphrase-stdin"], { input: "wrong\n" })
        expect(wrong.code).toBe(1)
        expect(wrong.stderr).toMatch(/passphrase/)
        const unlock = await ks(["agent", "unlock", "--passphrase-stdin"], { input: "correct horse\n" })
        expect(unlock.code, unlock.stderr).toBe(0)
        expect(unlock.stderr).toContain(recipient)
        const ok = await ks(["decrypt", "locked.yaml"])
        expect(ok.code, ok.stderr).toBe(0)
        expect(ok.stdout).toBe("password: hunter2\n")

        const lock = await ks(["agent", "lock"])
        expect(lock.code).toBe(0)
        expect(lock.stderr).toMatch(/^locked: \d+ key\(s\) forgotten, \d+ cached data key\(s\) wiped/)
        const again = await ks(["decrypt", "locked.yaml"])
        expect(again.code).toBe(128)
        expect(again.stderr).toMatch(/is locked/)
        // keys without a passphrase unlock themselves again on use
        expect((await ks(["decrypt", "secret.yaml"])).code).toBe(0)
    })

    it("keys remove deletes the key from the agent and the keychain", async () => {
        const r = await ks(["keys", "remove", ageRecipient])
        expect(r.code, r.stderr).toBe(0)
        const ids = JSON.parse((await ks(["keys", "list", "-o", "json"])).stdout).map((k: { id: string }) => k.id)
        expect(ids).not.toContain(ageRecipient)
        expect(secretToolUsers(sb.service)).not.toContain(ageRecipient)
        const missing = await ks(["keys", "remove", ageRecipient])
        expect(missing.code).toBe(1)
        expect(missing.stderr).toMatch(/no key/)
    })

    it("a file command starts the agent when the keychain holds the file's key", async () => {
        expect((await ks(["agent", "stop"])).code).toBe(0)
        expect(existsSync(sb.socket)).toBe(false)
        const r = await ks(["decrypt", "secret.yaml"])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(parse(r.stdout)).toEqual(plain)
        expect((await ks(["agent", "status"])).code).toBe(0)
    })
})

describe("agent unlock on a terminal", () => {
    const sb = agentSandbox("tty")
    afterAll(async () => {
        await sb.ks(["agent", "stop"])
        spawnSync("secret-tool", ["clear", "service", sb.service])
    })

    it("asks for the passphrase with echo off", async () => {
        const g = await sb.ks(["keys", "generate", "--type", "age", "--passphrase-stdin"], { input: "tty secret\n" })
        expect(g.code, g.stderr).toBe(0)
        const recipient = g.stdout.trim()
        // script(1) gives the command a pseudo-terminal; the passphrase is typed once the prompt is shown
        const child = spawn("script", ["-qec", `${process.execPath} ${binPath} agent unlock`, "/dev/null"], { cwd: sb.dir, env: sb.env })
        let output = ""
        let typed = false
        child.stdout.on("data", (c: Buffer) => {
            output += c.toString("utf8")
            if (!typed && output.includes("Passphrase: ")) {
                typed = true
                child.stdin.write("tty secret\r")
            }
        })
        const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
        expect(code, output).toBe(0)
        expect(output).toContain(`unlocked ${recipient}`)
        expect(output).not.toContain("tty secret")
        const listed = JSON.parse((await sb.ks(["keys", "list", "-o", "json"])).stdout)
        expect(listed[0]).toMatchObject({ id: recipient, protected: true, unlocked: true })
    })
})

describeShared("agent auto-start policy", () => {
    it("no agent is started when the keychain holds no key for the file", async () => {
        const sb = agentSandbox("empty")
        writeFileSync(path.join(sb.dir, "secret.yaml"), readFileSync(path.join(cases, "secret-pgp", "out.stdout")))
        const r = await sb.ks(["decrypt", "secret.yaml"])
        expect(r.code).toBe(128)
        expect(existsSync(sb.socket)).toBe(false)
        const enc = await sb.ks(["encrypt", "--age", AGE1, "--filename-override", "x.yaml"], { input: "a: b\n" })
        expect(enc.code, enc.stderr).toBe(0)
        expect(existsSync(sb.socket)).toBe(false)
    })
})

describe("agent with a file keychain", () => {
    const sb = agentSandbox("file")
    const keychain = path.join(sb.dir, "keychain.age")
    const env = { KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "file keychain pw" }

    afterAll(async () => {
        await sb.ks(["agent", "stop"])
    })

    beforeAll(async () => {
        const r = await sb.ks(["agent", "start", "--keychain", `file:${keychain}`, "--idle-ttl", "10m", "--max-ttl", "1h"], { env })
        expect(r.code, r.stderr).toBe(0)
    })

    it("stores keys encrypted in a 0600 file that survives restarts", async () => {
        const s = JSON.parse((await sb.ks(["agent", "status", "-o", "json"])).stdout)
        expect(s).toMatchObject({ keychain: `file:${keychain}`, idleTtlSeconds: 600, maxTtlSeconds: 3600 })
        const g = await sb.ks(["keys", "generate", "--type", "age"], { env })
        expect(g.code, g.stderr).toBe(0)
        const recipient = g.stdout.trim()
        expect(statSync(keychain).mode & 0o777).toBe(0o600)
        const text = readFileSync(keychain, "utf8")
        expect(text).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/)
        expect(text).not.toContain("AGE-SECRET-KEY")
        expect((await sb.ks(["agent", "stop"])).code).toBe(0)
        // KUBECTL_SOPS_KEYCHAIN names the keychain for agent start and auto-start alike
        expect((await sb.ks(["agent", "start"], { env: { ...env, KUBECTL_SOPS_KEYCHAIN: `file:${keychain}` } })).code).toBe(0)
        const l = await sb.ks(["keys", "list", "-o", "json"], { env })
        expect(JSON.parse(l.stdout).map((k: { id: string }) => k.id)).toEqual([recipient])
    })
})

describe("agent command lines", () => {
    it("rejects bad durations and unknown keychains with usage errors", async () => {
        const sb = agentSandbox("usage")
        for (const args of [
            ["agent", "start", "--idle-ttl", "ten"],
            ["agent", "start", "--max-ttl", "0"],
            ["agent", "start", "--idle-ttl", "2h", "--max-ttl", "1h"],
            ["agent", "start", "--keychain", "vault:x"],
        ]) {
            const r = await sb.ks(args)
            expect(r.code, args.join(" ")).toBe(1)
            expect(r.stderr).not.toMatch(/internal error/)
        }
        expect(existsSync(sb.socket)).toBe(false)
        const status = await sb.ks(["agent", "status"])
        expect(status.code).toBe(1)
        expect(status.stderr).toMatch(/no agent is running/)
        const stop = await sb.ks(["agent", "stop"])
        expect(stop.code).toBe(0)
        expect(stop.stderr).toMatch(/no agent was running/)
    })

    it("completion knows the topic commands (kubectl plugin completion and bash)", async () => {
        const sb = agentSandbox("complete")
        expect((await sb.ks(["__complete", "ag"])).stdout).toBe("agent\n:4\n")
        expect((await sb.ks(["__complete", "agent", ""])).stdout).toBe("lock\nstart\nstatus\nstop\nunlock\n:4\n")
        expect((await sb.ks(["__complete", "keys", "generate", "--type", ""])).stdout).toBe("age\nage-pq\npgp\n:4\n")
        expect((await sb.ks(["__complete", "agent", "start", "--idle"])).stdout).toBe("--idle-ttl\n:4\n")
        const script = path.join(sb.dir, "c.bash")
        writeFileSync(script, (await sb.ks(["completion", "bash"])).stdout)
        const complete = (...words: string[]) =>
            execFileSync("bash", ["-c", `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kubectl_sops; echo "\${COMPREPLY[*]}"`, script, "kubectl-sops", ...words])
                .toString()
                .trim()
        expect(complete("keys", "")).toBe("export generate import list remove")
        expect(complete("keys", "list", "--o")).toBe("--output")
        expect(complete("keys", "list", "-o", "y")).toBe("yaml")
    })

    it("--help works for topic commands", async () => {
        const sb = agentSandbox("help")
        const r = await sb.ks(["agent", "start", "--help"])
        expect(r.code).toBe(0)
        expect(r.stdout).toContain("kubectl sops agent start")
        expect(r.stdout).toContain("--idle-ttl")
        const k = await sb.ks(["help", "keys", "generate"])
        expect(k.code).toBe(0)
        expect(k.stdout).toContain("--type")
    })
})
