/**
 * Keychain tests against a REAL Secret Service: the project's test command runs vitest inside
 * `dbus-run-session` with an unlocked gnome-keyring (see .ci/run).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { closeSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
    FileKeychain,
    KEYCHAIN_PASSPHRASE_ENV,
    type Keychain,
    SecretServiceKeychain,
    openKeychain,
} from "../../src/agent/keychain.js"
import { KsopsError } from "../../src/errors.js"
import { generateKey } from "../../src/keys/generate.js"
import { PassphraseError, openWithPassphrase, parseStoredKey, storedKeyToJson } from "../../src/keys/keystore.js"

const ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)))
const NOW = new Date("2026-05-06T07:08:09Z")
const run = randomBytes(4).toString("hex")

/** Bundle a small script that uses src/agent/keychain.ts, to run it in a child process. */
async function bundleChild(dir: string): Promise<string> {
    const { build } = await import("esbuild")
    const entry = join(dir, "child.ts")
    writeFileSync(
        entry,
        `import { openKeychain } from ${JSON.stringify(join(ROOT, "src/agent/keychain.ts"))}
try {
    const kc = await openKeychain(undefined)
    const ids = await kc.list()
    const values = {}
    for (const id of ids) if (id.includes(process.argv[2] ?? "-")) values[id] = await kc.get(id)
    console.log(JSON.stringify({ ok: true, ids, values }))
} catch (e) {
    console.log(JSON.stringify({ ok: false, name: e.name, message: e.message, hint: e.hint }))
}
`,
    )
    const outfile = join(dir, "child.mjs")
    await build({
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        format: "esm",
        outfile,
        logLevel: "silent",
        plugins: [
            {
                name: "node-modules-external",
                setup(b) {
                    const entries: Record<string, string> = {
                        openpgp: "openpgp/dist/node/openpgp.mjs",
                        "age-encryption": "age-encryption/dist/index.js",
                        "@napi-rs/keyring": "@napi-rs/keyring/index.js",
                    }
                    b.onResolve({ filter: /^[@a-z]/ }, (a) =>
                        a.path.startsWith("node:") || entries[a.path] === undefined
                            ? { path: a.path, external: true }
                            : { path: join(ROOT, "node_modules", entries[a.path]), external: true },
                    )
                },
            },
        ],
    })
    return outfile
}

function runChild(script: string, env: NodeJS.ProcessEnv, filter = "-"): Record<string, unknown> {
    const out = execFileSync(process.execPath, [script, filter], { env, stdio: ["ignore", "pipe", "pipe"] }).toString()
    return JSON.parse(out.trim().split("\n").pop()!)
}

let childScript: string

beforeAll(async () => {
    childScript = await bundleChild(await mkdtemp(join(tmpdir(), "ksops-kc-child-")))
}, 60_000)

describe("SecretServiceKeychain (real gnome-keyring over D-Bus)", () => {
    let kc: Keychain
    const ids = [`test-${run}-a`, `test-${run}-b`]
    const cleanup: string[] = []

    beforeAll(async () => {
        kc = await openKeychain(undefined)
    })

    afterAll(async () => {
        for (const id of [...ids, ...cleanup]) await kc.delete(id).catch(() => false)
    })

    it("stores, lists, reads and deletes entries under service kubectl-sops", async () => {
        expect(kc.description).toBe("Secret Service (kubectl-sops)")
        await kc.set(ids[0], '{"v":1}')
        await kc.set(ids[1], '{"v":2}')
        await kc.set(ids[1], '{"v":3}')
        const listed = await kc.list()
        expect(listed).toEqual(expect.arrayContaining(ids))
        expect(await kc.get(ids[0])).toBe('{"v":1}')
        expect(await kc.get(ids[1])).toBe('{"v":3}')
        expect(await kc.get(`test-${run}-absent`)).toBeUndefined()
        expect(await kc.delete(ids[0])).toBe(true)
        expect(await kc.delete(ids[0])).toBe(false)
        expect(await kc.list()).not.toContain(ids[0])
    })

    it("secret-tool sees the entries (attributes service and username)", async () => {
        const id = `test-${run}-seen`
        cleanup.push(id)
        await kc.set(id, '{"seen":true}')
        // secret-tool prints the secret on stdout and the attributes on stderr
        const r = spawnSync("secret-tool", ["search", "--all", "service", "kubectl-sops"], { encoding: "utf8" })
        expect(r.status).toBe(0)
        const search = `${r.stdout}${r.stderr}`
        expect(search).toContain(`attribute.username = ${id}`)
        expect(search).toContain("attribute.service = kubectl-sops")
        const value = execFileSync("secret-tool", ["lookup", "service", "kubectl-sops", "username", id]).toString()
        expect(value).toBe('{"seen":true}')
    })

    it("keeps stored keys for another process (an agent restart)", async () => {
        const key = await generateKey({ type: "age-pq", now: NOW, name: `restart-${run}` })
        cleanup.push(key.id)
        await kc.set(key.id, storedKeyToJson(key))
        const fresh = await SecretServiceKeychain.open()
        expect(parseStoredKey((await fresh.get(key.id))!)).toEqual(key)
        const child = runChild(childScript, process.env, key.id.slice(0, 40))
        expect(child.ok).toBe(true)
        expect(child.ids).toContain(key.id)
        expect(parseStoredKey((child.values as Record<string, string>)[key.id])).toEqual(key)
    })
})

describe("no Secret Service reachable", () => {
    it("fails with a one-line message and a hint, and never falls back", () => {
        const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/ksops-bus" }
        const r = runChild(childScript, env)
        expect(r.ok).toBe(false)
        expect(r.name).toBe("KsopsError")
        expect(r.message).toMatch(/^no Secret Service keychain reachable: /)
        expect(String(r.message)).not.toContain("\n")
        expect(r.hint).toMatch(/gnome-keyring.*--keychain file:PATH/)
    })

    it("also without any D-Bus session variable", () => {
        const env = { ...process.env }
        delete env.DBUS_SESSION_BUS_ADDRESS
        env.XDG_RUNTIME_DIR = "/nonexistent"
        const r = runChild(childScript, env)
        expect(r.ok).toBe(false)
        expect(r.message).toMatch(/^no Secret Service keychain reachable/)
    })
})

describe("FileKeychain", () => {
    const tmp = () => mkdtemp(join(tmpdir(), "ksops-kcfile-"))

    it("round-trips entries through one passphrase-encrypted age file, mode 0600", async () => {
        const dir = await tmp()
        const path = join(dir, "sub", "keys.age")
        const kc = await openKeychain(`file:${path}`, { env: { [KEYCHAIN_PASSPHRASE_ENV]: "file pw" }, scryptLogN: 10 })
        expect(kc.description).toBe(`file:${path}`)
        expect(await kc.list()).toEqual([])
        const key = await generateKey({ type: "age", now: NOW })
        await kc.set(key.id, storedKeyToJson(key))
        await kc.set("other", '{"x":1}')
        expect(statSync(path).mode & 0o777).toBe(0o600)
        const raw = readFileSync(path, "utf8")
        expect(raw.startsWith("-----BEGIN AGE ENCRYPTED FILE-----")).toBe(true)
        expect(raw).not.toContain(key.secret)
        expect(raw).not.toContain(key.id)
        // an independent age implementation opens it with the passphrase
        const { Decrypter } = await import("age-encryption")
        const d = new Decrypter()
        d.addPassphrase("file pw")
        const { armor } = await import("age-encryption")
        const plain = JSON.parse(await d.decrypt(armor.decode(raw), "text"))
        expect(plain.entries[key.id]).toBe(storedKeyToJson(key))
        // a new instance (another process) reads it back
        const again = new FileKeychain(path, { env: { [KEYCHAIN_PASSPHRASE_ENV]: "file pw" } })
        expect(await again.list()).toEqual([key.id, "other"].sort())
        expect(parseStoredKey((await again.get(key.id))!)).toEqual(key)
        expect(await again.delete("other")).toBe(true)
        expect(await again.delete("other")).toBe(false)
        expect(await kc.list()).toEqual([key.id])
        expect(readdirSync(join(dir, "sub"))).toEqual(["keys.age"])
    })

    it("refuses a wrong or missing passphrase; asks the callback when the environment has none", async () => {
        const path = join(await tmp(), "keys.age")
        await new FileKeychain(path, { env: { [KEYCHAIN_PASSPHRASE_ENV]: "right" }, scryptLogN: 10 }).set("a", "1")
        await expect(new FileKeychain(path, { env: { [KEYCHAIN_PASSPHRASE_ENV]: "wrong" } }).list()).rejects.toThrow(
            /incorrect passphrase/,
        )
        await expect(new FileKeychain(path, { env: {} }).list()).rejects.toThrow(PassphraseError)
        let asked = 0
        const kc = new FileKeychain(path, {
            env: {},
            passphrase: async () => {
                asked++
                return "right"
            },
        })
        expect(await kc.get("a")).toBe("1")
        expect(await kc.list()).toEqual(["a"])
        expect(asked).toBe(1)
        expect(Buffer.from(openWithPassphrase(readFileSync(path), "right")).toString()).toContain('"a":"1"')
    })

    it("replaces the file atomically: new inode, concurrent writes all land, a failed write leaves no temp file", async () => {
        const dir = await tmp()
        const path = join(dir, "keys.age")
        const kc = new FileKeychain(path, { env: { [KEYCHAIN_PASSPHRASE_ENV]: "pw" }, scryptLogN: 10 })
        await kc.set("first", "1")
        const before = readFileSync(path)
        const fd = openSync(path, "r") // a reader that opened the old file keeps seeing the old, complete file
        await Promise.all(Array.from({ length: 8 }, (_, i) => kc.set(`k${i}`, String(i))))
        const seen = Buffer.alloc(before.length + 100)
        const n = readSync(fd, seen, 0, seen.length, 0)
        closeSync(fd)
        expect(seen.subarray(0, n).equals(before)).toBe(true)
        expect(readFileSync(path).equals(before)).toBe(false)
        expect((await new FileKeychain(path, { env: { [KEYCHAIN_PASSPHRASE_ENV]: "pw" } }).list()).length).toBe(9)
        expect(readdirSync(dir)).toEqual(["keys.age"])
        const blocked = join(dir, "blocked")
        mkdirSync(join(blocked, "x"), { recursive: true })
        const bad = new FileKeychain(blocked, { env: { [KEYCHAIN_PASSPHRASE_ENV]: "pw" }, scryptLogN: 10 })
        await expect(bad.set("a", "1")).rejects.toThrow(KsopsError)
        expect(readdirSync(dir).sort()).toEqual(["blocked", "keys.age"])
    })

    it("rejects unknown keychain specs", async () => {
        await expect(openKeychain("vault:x")).rejects.toThrow(/unknown keychain/)
        await expect(openKeychain("file:")).rejects.toThrow(/needs a path/)
    })
})
