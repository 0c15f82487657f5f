/**
 * Secrets never reach the output. Every error path that has a secret in scope (a value, a data key, a private key,
 * a passphrase, a token) is driven through the real CLI with a marker secret, and the marker must not appear on
 * stdout, stderr, in `-o json` or in the agent's log. Each case also checks that the error path was really taken
 * (its exit code and a word of its message), so a case cannot pass by failing early for another reason.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { baseEnv, type RunResult, run, tempDir, vectorsDir } from "../cli/run.js"

const MARKER = `zqMARKER${randomBytes(6).toString("hex")}`
const keysDir = path.join(vectorsDir, "sops-3.13.2", "keys")
const AGE_UNIT = path.join(vectorsDir, "sops-repo", "age-unit-test")
const AGE1 = /public key: (age1[0-9a-z]+)/.exec(readFileSync(path.join(keysDir, "age1.agekey"), "utf8"))![1]
const FLUX_REGEX = "^(data|stringData)$"

const dirs: string[] = []
afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A private folder with HOME inside; `ks` runs the CLI there with the sandbox environment. */
function sandbox(extra: Record<string, string> = {}) {
    const dir = tempDir("ksops-marker-")
    dirs.push(dir)
    const home = path.join(dir, "home")
    mkdirSync(home, { mode: 0o700 })
    const env: Record<string, string> = { ...baseEnv(home), KUBECTL_SOPS_NO_AGENT: "1", SOPS_AGE_KEY_FILE: path.join(keysDir, "all.agekey"), ...extra }
    for (const k of ["KUBECTL_SOPS_AGENT_SOCK", "XDG_RUNTIME_DIR", "KUBECTL_SOPS_KEYCHAIN", "VAULT_TOKEN"]) if (!(k in extra)) delete env[k]
    const ks = (args: readonly string[], o: { input?: string; env?: Record<string, string | undefined> } = {}) =>
        run(args, { cwd: dir, env: { ...env, ...(o.env ?? {}) }, ...(o.input === undefined ? {} : { input: o.input }) })
    const file = (name: string, text: string) => {
        const p = path.join(dir, name)
        mkdirSync(path.dirname(p), { recursive: true })
        writeFileSync(p, text)
        return p
    }
    return { dir, env, ks, file }
}

/** The marker is nowhere in what the run printed; the run failed with `code` and its message contains `says`. */
function clean(r: RunResult, code: number, says: string | RegExp): void {
    const all = `${r.stdout}\n${r.stderr}`
    expect(all).not.toContain(MARKER)
    expect(r.code, all).toBe(code)
    if (typeof says === "string") expect(all).toContain(says)
    else expect(all).toMatch(says)
}

const secretYaml = (password: string) =>
    `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  user: admin\n  password: ${password}\n  port: "5432"\n`

/** Encrypt a Secret whose password is the marker, for age1, with the Flux idiom's selection. */
async function encryptedSecret(
    sb: ReturnType<typeof sandbox>,
    name: string,
    extra: readonly string[] = ["--age", AGE1],
    env: Record<string, string> = {},
): Promise<string> {
    sb.file(`${name}.plain.yaml`, secretYaml(`hunter2-${MARKER}`))
    const r = await sb.ks(["encrypt", ...extra, "--encrypted-regex", FLUX_REGEX, "--output", `${name}.yaml`, `${name}.plain.yaml`], { env })
    expect(r.code, r.stderr).toBe(0)
    return readFileSync(path.join(sb.dir, `${name}.yaml`), "utf8")
}

/** Replace the ENC[…] of the password in an encrypted file. */
const withPassword = (text: string, f: (enc: string) => string) => text.replace(/password: (ENC\[[^\]]+\])/, (_, enc: string) => `password: ${f(enc)}`)

/** Every command that decrypts values, run on `file`. */
const decryptingCommands = (file: string): [string, string[]][] => [
    ["decrypt", ["decrypt", file]],
    ["decrypt --extract", ["decrypt", "--extract", '["stringData"]["password"]', file]],
    ["decrypt --ignore-mac", ["decrypt", "--ignore-mac", file]],
    ["edit", ["edit", file]],
    ["rotate", ["rotate", file]],
    ["exec-env", ["exec-env", file, "true"]],
    ["exec-file", ["exec-file", file, "cat {}"]],
    ["set", ["set", file, '["stringData"]["other"]', '"x"']],
    ["unset", ["unset", file, '["stringData"]["user"]']],
]

describe("a marker secret never reaches the output", () => {
    const sb = sandbox({ EDITOR: "true", SOPS_EDITOR: "true" })
    let encrypted = ""

    beforeAll(async () => {
        encrypted = await encryptedSecret(sb, "secret")
        expect(encrypted).not.toContain(MARKER)
    })

    it.each(["int", "bool", "float", "time"])("a value re-tagged type:%s: every decrypting command names the path and the type", async (type) => {
        sb.file(`flip-${type}.yaml`, withPassword(encrypted, (enc) => enc.replace("type:str]", `type:${type}]`)))
        for (const [, args] of decryptingCommands(`flip-${type}.yaml`)) {
            clean(await sb.ks(args), 25, `Could not decrypt value at ["stringData"]["password"]`)
        }
    })

    it("a tampered value and a plaintext value at an encrypted path", async () => {
        sb.file("tampered.yaml", withPassword(encrypted, (enc) => enc.replace(/data:(.)/, (_, c: string) => `data:${c === "A" ? "B" : "A"}`)))
        sb.file("plain-at-enc.yaml", withPassword(encrypted, () => `hunter2-${MARKER}`))
        for (const [, args] of decryptingCommands("tampered.yaml")) clean(await sb.ks(args), 25, "message authentication failed")
        for (const [, args] of decryptingCommands("plain-at-enc.yaml")) clean(await sb.ks(args), 25, "does not match sops' data format")
    })

    it("a MAC mismatch prints the file's MAC only, not the one computed over the plaintexts", async () => {
        // the same file with another password (set keeps the data key): the value decrypts, only the MAC differs
        sb.file("mac-src.yaml", encrypted)
        const changed = await sb.ks(["set", "mac-src.yaml", '["stringData"]["password"]', '"changed"'])
        expect(changed.code, changed.stderr).toBe(0)
        const newPassword = /password: (ENC\[[^\]]+\])/.exec(readFileSync(path.join(sb.dir, "mac-src.yaml"), "utf8"))![1]
        const swapped = withPassword(encrypted, () => newPassword)
        expect(swapped).not.toBe(encrypted)
        sb.file("mac.yaml", swapped)
        for (const [, args] of decryptingCommands("mac.yaml").filter(([n]) => n !== "decrypt --ignore-mac")) {
            const r = await sb.ks(args)
            clean(r, 51, /MAC mismatch\. File has [0-9A-F]{128}\n/)
            expect(r.stderr).not.toContain("computed")
        }
    })

    it("set with a VALUE that is not JSON, from the argument, --value-file and --value-stdin", async () => {
        sb.file("set.yaml", encrypted)
        clean(await sb.ks(["set", "set.yaml", '["stringData"]["x"]', MARKER]), 7, "must be JSON")
        clean(await sb.ks(["set", "set.yaml", '["stringData"]["x"]', `{"a": ${MARKER}}`]), 7, "must be JSON")
        clean(await sb.ks(["set", "set.yaml", '["stringData"]["x"]', `{"a": 1e999, "b": "${MARKER}"}`]), 7, "must be JSON")
        sb.file("value.json", `${MARKER}\n`)
        clean(await sb.ks(["set", "--value-file", "set.yaml", '["stringData"]["x"]', "value.json"]), 7, "must be JSON")
        clean(await sb.ks(["set", "--value-stdin", "set.yaml", '["stringData"]["x"]'], { input: `'${MARKER}'` }), 7, "must be JSON")
        expect(readFileSync(path.join(sb.dir, "set.yaml"), "utf8")).toBe(encrypted)
    })

    it("check --verify and check -o json on a Kustomization path with a re-tagged value", async () => {
        sb.file("flux/secret.yaml", withPassword(encrypted, (enc) => enc.replace("type:str]", "type:int]")))
        sb.file("flux/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- secret.yaml\n")
        const keys = path.join(keysDir, "age1.agekey")
        const human = await sb.ks(["check", "flux", "--keys", keys, "--verify"])
        clean(human, 1, `Could not decrypt value at ["stringData"]["password"]`)
        const json = await sb.ks(["check", "flux", "--keys", keys, "--verify", "-o", "json"])
        clean(json, 1, "type:int")
        expect(JSON.parse(json.stdout).files[0].result).toBe("fails")
    })
})

describe("passphrases, identities and tokens never reach the output", () => {
    it("a wrong age passphrase in KUBECTL_SOPS_AGE_PASSPHRASE", async () => {
        const sb = sandbox({ SOPS_AGE_KEY_FILE: path.join(AGE_UNIT, "passphrase-protected-identity.age.asc") })
        await encryptedSecret(sb, "s", ["--age", "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun"])
        clean(await sb.ks(["decrypt", "s.yaml"], { env: { KUBECTL_SOPS_AGE_PASSPHRASE: MARKER } }), 128, /passphrase/)
    })

    it("a malformed age identity line, in a key file and in SOPS_AGE_KEY", async () => {
        const sb = sandbox()
        await encryptedSecret(sb, "s")
        const bad = sb.file("bad.agekey", `# a comment\nAGE-SECRET-KEY-1${MARKER.toUpperCase()}\n${MARKER}\n`)
        const cases: Record<string, string>[] = [
            { SOPS_AGE_KEY_FILE: bad },
            { SOPS_AGE_KEY_FILE: "/nonexistent", SOPS_AGE_KEY: `AGE-SECRET-KEY-1${MARKER.toUpperCase()}` },
            { SOPS_AGE_KEY_FILE: "/nonexistent", SOPS_AGE_KEY: MARKER },
        ]
        for (const env of cases) {
            const r = await sb.ks(["decrypt", "s.yaml"], { env })
            expect(`${r.stdout}${r.stderr}`).not.toContain(MARKER.toUpperCase())
            clean(r, 128, /./)
        }
    })

    it("a wrong PGP passphrase in KUBECTL_SOPS_PGP_PASSPHRASE (key files, no gpg)", async () => {
        const sb = sandbox()
        const gnupg = path.join(sb.dir, "gnupg")
        mkdirSync(gnupg, { mode: 0o700 })
        const g = (args: string[]) =>
            execFileSync("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "right-one", ...args], { env: { ...process.env, GNUPGHOME: gnupg }, stdio: ["pipe", "pipe", "pipe"] })
        try {
            g(["--quick-generate-key", "marker@example.com", "ed25519", "sign", "never"])
            const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(g(["--with-colons", "--list-keys", "marker@example.com"]).toString())![1]
            g(["--quick-add-key", fpr, "cv25519", "encr", "never"])
            const pub = sb.file("pub.asc", g(["--export", "-a", fpr]).toString())
            const sec = sb.file("sec.asc", g(["--export-secret-keys", "-a", fpr]).toString())
            await encryptedSecret(sb, "p", ["--pgp", fpr], { KUBECTL_SOPS_PGP_PUBKEYS: pub, SOPS_GPG_EXEC: "/nonexistent" })
            const env = { KUBECTL_SOPS_PGP_KEY_FILE: sec, KUBECTL_SOPS_PGP_PASSPHRASE: MARKER, SOPS_GPG_EXEC: "/nonexistent", SOPS_AGE_KEY_FILE: "/nonexistent" }
            clean(await sb.ks(["decrypt", "p.yaml"], { env }), 128, /passphrase/)
        } finally {
            spawnSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: gnupg }, stdio: "ignore" })
        }
    })

    it("create secret vault --vault-token, bootstrap --vault-token and create secret age with a bad identity", async () => {
        const sb = sandbox({ KUBECONFIG: "/nonexistent/kubeconfig" })
        clean(await sb.ks(["create", "secret", "vault", "Bad_Name", "--vault-token", MARKER, "--export"]), 1, "RFC 1123")
        clean(await sb.ks(["create", "secret", "vault", "sops-hcvault", "--vault-token", MARKER, "--export", "--bogus"]), 1, "--bogus")
        clean(await sb.ks(["create", "secret", "vault", "sops-hcvault", "--vault-token", MARKER, "-n", "apps"]), 1, "invalid kubeconfig")
        clean(await sb.ks(["bootstrap", "--url", "https://github.com/o/r", "--key", "vault", "--vault-token", MARKER, "--export"]), 1, "transit key")
        const vaultBootstrap = ["bootstrap", "--url", "https://github.com/o/r", "--key", "vault", "--vault-addr", "https://v:8200", "--vault-token", MARKER]
        clean(await sb.ks(vaultBootstrap), 1, "invalid kubeconfig")
        sb.file("bad.agekey", `AGE-SECRET-KEY-1${MARKER.toUpperCase()}\n${MARKER}\n`)
        const age = await sb.ks(["create", "secret", "age", "sops-age", "--from-file", "bad.agekey", "--export"])
        expect(`${age.stdout}${age.stderr}`).not.toContain(MARKER.toUpperCase())
        clean(age, 1, /age/)
    })
})

describe("agent-backed decrypt: the marker reaches neither the client nor the agent log", () => {
    const sb = sandbox()
    const agentDir = path.join(sb.dir, "agent")
    const keychain = path.join(sb.dir, "keychain.age")
    const env = {
        KUBECTL_SOPS_AGENT_SOCK: path.join(agentDir, "agent.sock"),
        KUBECTL_SOPS_KEYCHAIN: `file:${keychain}`,
        KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "keychain pw",
        KUBECTL_SOPS_NO_AGENT: undefined,
        SOPS_AGE_KEY_FILE: "/nonexistent",
    }

    afterAll(async () => {
        await sb.ks(["agent", "stop"], { env })
    })

    it("type-flipped and plaintext values, a malformed identity on import", async () => {
        const enc = await encryptedSecret(sb, "a")
        const started = await sb.ks(["agent", "start"], { env })
        expect(started.code, started.stderr).toBe(0)
        const imported = await sb.ks(["keys", "import", path.join(keysDir, "age1.agekey")], { env })
        expect(imported.code, imported.stderr).toBe(0)
        sb.file("flip.yaml", withPassword(enc, (e) => e.replace("type:str]", "type:bool]")))
        sb.file("plain.yaml", withPassword(enc, () => MARKER))
        clean(await sb.ks(["decrypt", "flip.yaml"], { env }), 25, `Could not decrypt value at ["stringData"]["password"]`)
        clean(await sb.ks(["exec-env", "plain.yaml", "true"], { env }), 25, "does not match sops' data format")
        const ok = await sb.ks(["decrypt", "a.yaml"], { env })
        expect(ok.code, ok.stderr).toBe(0)
        expect(ok.stdout).toContain(MARKER) // the agent really unwrapped the data key
        sb.file("bad.agekey", `AGE-SECRET-KEY-1${MARKER.toUpperCase()}\n`)
        const bad = await sb.ks(["keys", "import", "bad.agekey"], { env })
        expect(bad.code).not.toBe(0)
        expect(`${bad.stdout}${bad.stderr}`).not.toContain(MARKER.toUpperCase())
        const log = readFileSync(path.join(agentDir, "agent.log"), "utf8")
        expect(log.length).toBeGreaterThan(0)
        expect(log).not.toContain(MARKER)
        expect(log).not.toContain(MARKER.toUpperCase())
    })
})
