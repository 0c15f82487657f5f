import { execFileSync } from "node:child_process"
import { chmodSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ageProvider } from "../../src/keys/age.js"
import { generateKey } from "../../src/keys/generate.js"
import { exportKey, importKeys } from "../../src/keys/keyfile.js"
import { PassphraseError, type StoredKey, parseStoredKey, storedKeyToJson, unlockKey } from "../../src/keys/keystore.js"
import { unwrapWith } from "../../src/keys/unwrap.js"
import { isolatedContext, tempDir } from "./helpers.js"

const NOW = new Date("2026-03-04T05:06:07.891Z")
const part = Buffer.from("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", "hex")

let pgpKey: StoredKey
let pgpProtected: StoredKey
let gnupghome: string
const gpg = (args: string[], input?: string | Uint8Array) =>
    execFileSync("gpg", ["--batch", ...args], {
        env: { ...process.env, GNUPGHOME: gnupghome },
        input,
        stdio: ["pipe", "pipe", "pipe"],
    })

beforeAll(async () => {
    // RSA-4096 generation is slow: once per file
    ;[pgpKey, pgpProtected] = await Promise.all([
        generateKey({ type: "pgp", now: NOW }),
        generateKey({ type: "pgp", now: NOW, name: "cluster9.example.com", passphrase: "pgp pass" }),
    ])
    gnupghome = tempDir("ksops-gnupg-")
    chmodSync(gnupghome, 0o700)
}, 120_000)

afterAll(() => {
    execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: gnupghome } })
})

describe("generateKey: age X25519", () => {
    it("interoperates with the age binary both ways", async () => {
        const k = await generateKey({ type: "age", now: NOW })
        expect(k).toMatchObject({ type: "age", id: k.recipient, created: "2026-03-04T05:06:07Z", protected: false })
        expect(k.recipient).toMatch(/^age1[0-9a-z]{58}$/)
        expect(parseStoredKey(storedKeyToJson(k))).toEqual(k)
        const u = await unlockKey(k)
        // age encrypts to our recipient → unwrapWith decrypts
        const enc = execFileSync("age", ["-a", "-r", k.recipient], { input: part }).toString()
        const out = await unwrapWith({ type: "age", params: { recipient: k.recipient }, enc }, u)
        expect(Buffer.from(out!).equals(part)).toBe(true)
        // we encrypt to it → age -d with the exported identity decrypts
        const idFile = join(tempDir(), "keys.txt")
        writeFileSync(idFile, await exportKey(k, { secret: true }))
        const ours = await ageProvider.encrypt({ recipient: k.recipient }, part, isolatedContext())
        expect(execFileSync("age", ["-d", "-i", idFile], { input: ours }).equals(part)).toBe(true)
        u.wipe()
        expect(u.material.kind === "x25519" && u.material.scalar.every((b) => b === 0)).toBe(true)
    })

    it("protects the secret with a passphrase (scrypt age file)", async () => {
        const k = await generateKey({ type: "age", now: NOW, passphrase: "pw", scryptLogN: 10, name: "ci" })
        expect(k).toMatchObject({ name: "ci", protected: true })
        expect(k.secret).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/)
        expect(k.secret).not.toContain("AGE-SECRET-KEY")
        await expect(unlockKey(k)).rejects.toThrow(PassphraseError)
        await expect(unlockKey(k, "nope")).rejects.toThrow(/incorrect passphrase/)
        expect((await unlockKey(k, "pw")).recipient).toBe(k.recipient)
        // the stored secret is what `keys import` reads back
        const [again] = await importKeys(k.secret, { now: NOW, passphrase: "pw" })
        expect(again.recipient).toBe(k.recipient)
    })
})

describe("generateKey: age hybrid post-quantum", () => {
    it("decrypts what age-encryption encrypted to its recipient and is found by its stanza only", async () => {
        const k = await generateKey({ type: "age-pq", now: NOW })
        expect(k.recipient.startsWith("age1pq1")).toBe(true)
        expect(k.secret.startsWith("AGE-SECRET-KEY-PQ-1")).toBe(true)
        const u = await unlockKey(k)
        const enc = await ageProvider.encrypt({ recipient: k.recipient }, part, isolatedContext())
        const out = await unwrapWith({ type: "age", params: { recipient: k.recipient }, enc }, u)
        expect(Buffer.from(out!).equals(part)).toBe(true)
        const other = await unlockKey(await generateKey({ type: "age-pq", now: NOW }))
        expect(await unwrapWith({ type: "age", params: { recipient: k.recipient }, enc }, other)).toBeNull()
        const x25519Enc = execFileSync("age", ["-a", "-r", (await generateKey({ type: "age", now: NOW })).recipient], {
            input: part,
        }).toString()
        expect(await unwrapWith({ type: "age", params: { recipient: "x" }, enc: x25519Enc }, u)).toBeNull()
    })
})

describe("generateKey: PGP (Flux guide parameters)", () => {
    it("makes a v4 RSA-4096 key with an RSA-4096 encryption subkey, no expiry, user id '<name> (flux secrets)'", () => {
        expect(pgpKey).toMatchObject({ type: "pgp", name: "kubectl-sops", comment: "flux secrets", protected: false })
        expect(pgpKey.id).toMatch(/^[0-9A-F]{40}$/)
        gpg(["--import"], pgpKey.secret)
        const cols = gpg(["--with-colons", "--fixed-list-mode", "--list-secret-keys", pgpKey.id]).toString().split("\n")
        const sec = cols.find((l) => l.startsWith("sec:"))!.split(":")
        const ssb = cols.find((l) => l.startsWith("ssb:"))!.split(":")
        const uid = cols.find((l) => l.startsWith("uid:"))!.split(":")
        expect(sec[2]).toBe("4096")
        expect(sec[3]).toBe("1") // RSA
        expect(sec[6]).toBe("") // no expiry
        expect(ssb[2]).toBe("4096")
        expect(ssb[3]).toBe("1")
        expect(ssb[6]).toBe("")
        expect(ssb[11]).toContain("e")
        expect(uid[9]).toBe("kubectl-sops (flux secrets)")
        expect(cols.find((l) => l.startsWith("fpr:"))!.split(":")[9]).toBe(pgpKey.id)
    })

    it("gpg encrypts to the generated key and unwrapWith decrypts; gpg decrypts what openpgp.js wrote for it", async () => {
        gpg(["--import"], pgpKey.secret)
        const u = await unlockKey(pgpKey)
        const enc = gpg(["--trust-model", "always", "-e", "-a", "-r", pgpKey.id], part).toString()
        const out = await unwrapWith({ type: "pgp", params: { fp: pgpKey.id }, enc }, u)
        expect(Buffer.from(out!).equals(part)).toBe(true)
        const { encryptWithKeyFiles } = await import("../../src/keys/pgp-openpgp.js")
        const ours = await encryptWithKeyFiles([{ path: "pub.asc", text: await exportKey(pgpKey) }], pgpKey.id, part)
        expect(gpg(["--decrypt"], ours!).equals(part)).toBe(true)
        u.wipe()
        await expect(unwrapWith({ type: "pgp", params: { fp: pgpKey.id }, enc }, u)).rejects.toThrow(/locked/)
    })

    it("protects the key with its passphrase; gpg imports it with the passphrase", async () => {
        expect(pgpProtected).toMatchObject({ protected: true, name: "cluster9.example.com", comment: "flux secrets" })
        await expect(unlockKey(pgpProtected)).rejects.toThrow(PassphraseError)
        await expect(unlockKey(pgpProtected, "wrong")).rejects.toThrow(/incorrect passphrase/)
        const u = await unlockKey(pgpProtected, "pgp pass")
        expect(u.material.kind === "pgp" && u.material.rsa.map((r) => r.modulusBytes)).toEqual([512, 512])
        gpg(["--pinentry-mode", "loopback", "--passphrase", "pgp pass", "--import"], pgpProtected.secret)
        const enc = gpg(["--trust-model", "always", "-e", "-a", "-r", pgpProtected.id], part).toString()
        const dec = gpg(["--pinentry-mode", "loopback", "--passphrase", "pgp pass", "--decrypt"], enc)
        expect(dec.equals(part)).toBe(true)
        expect(Buffer.from((await unwrapWith({ type: "pgp", params: { fp: pgpProtected.id }, enc }, u))!).equals(part)).toBe(
            true,
        )
    })
})
