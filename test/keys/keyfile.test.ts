import { execFileSync } from "node:child_process"
import { chmodSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { KsopsError } from "../../src/errors.js"
import { exportKey, importKeys } from "../../src/keys/keyfile.js"
import {
    PassphraseError,
    parseStoredKey,
    sealWithPassphrase,
    storedKeyToJson,
    unlockKey,
} from "../../src/keys/keystore.js"
import { VECTORS, tempDir } from "./helpers.js"
import { describeShared, sharedData } from "../conformance-data.js"

const KEYS = join(VECTORS, "sops-3.13.2/keys")
const NOW = new Date("2026-01-02T03:04:05Z")
const CLUSTER0 = sharedData ? readFileSync(join(KEYS, "cluster0.fpr"), "utf8").trim() : ""
const FUNC_KEY = join(VECTORS, "sops-repo/pgp/sops_functional_tests_key.asc")
const AGE_RECIPIENTS = (sharedData ? [1, 2, 3, 4] : []).map((i) =>
    readFileSync(join(KEYS, `age${i}.agekey`), "utf8").match(/public key: (age1\S+)/)![1],
)

let gnupghome: string
const gpg = (args: string[], input?: string | Uint8Array) =>
    execFileSync("gpg", ["--batch", ...args], {
        env: { ...process.env, GNUPGHOME: gnupghome },
        input,
        stdio: ["pipe", "pipe", "pipe"],
    })

beforeAll(() => {
    gnupghome = tempDir("ksops-gnupg-")
    chmodSync(gnupghome, 0o700)
    gpg(["--import", join(KEYS, "cluster0.sec.asc")], "")
    gpg(["--import", FUNC_KEY], "")
})

afterAll(() => {
    execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: gnupghome } })
})

describeShared("importKeys: age", () => {
    it("reads every identity of all.agekey with its created comment", async () => {
        const keys = await importKeys(readFileSync(join(KEYS, "all.agekey"), "utf8"), { now: NOW })
        expect(keys.map((k) => k.recipient)).toEqual(AGE_RECIPIENTS)
        for (const k of keys) {
            expect(k).toMatchObject({ type: "age", id: k.recipient, protected: false })
            expect(k.secret).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]+$/)
            expect(k.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
            expect(k.created).not.toBe("2026-01-02T03:04:05Z")
        }
    })

    it("reads hybrid identities and deduplicates", async () => {
        const { generateHybridIdentity, identityToRecipient } = await import("age-encryption")
        const pq = await generateHybridIdentity()
        const keys = await importKeys(`# a comment\n${pq}\n\n${pq}\n`, { now: NOW })
        expect(keys).toHaveLength(1)
        expect(keys[0]).toMatchObject({ type: "age-pq", recipient: await identityToRecipient(pq), created: "2026-01-02T03:04:05Z" })
    })

    it("reads a passphrase-protected identity file (armored, ours) and keeps it protected", async () => {
        const text = readFileSync(join(KEYS, "age1.agekey"), "utf8")
        const sealed = sealWithPassphrase(Buffer.from(text), "correct horse", 10)
        await expect(importKeys(sealed, { now: NOW })).rejects.toThrow(PassphraseError)
        await expect(importKeys(sealed, { now: NOW, passphrase: "wrong" })).rejects.toThrow(/incorrect passphrase/)
        const [k] = await importKeys(sealed, { now: NOW, passphrase: "correct horse" })
        expect(k).toMatchObject({ type: "age", recipient: AGE_RECIPIENTS[0], protected: true, secret: sealed })
        await expect(unlockKey(k)).rejects.toThrow(PassphraseError)
        const u = await unlockKey(k, "correct horse")
        expect(u.recipient).toBe(AGE_RECIPIENTS[0])
    })

    it("reads a binary passphrase-protected file made by age-encryption, splitting several identities", async () => {
        const { Encrypter } = await import("age-encryption")
        const e = new Encrypter()
        e.setPassphrase("pw")
        e.setScryptWorkFactor(10)
        const binary = await e.encrypt(readFileSync(join(KEYS, "all.agekey")))
        const keys = await importKeys(binary, { now: NOW, passphrase: "pw", scryptLogN: 10 })
        expect(keys.map((k) => k.recipient)).toEqual(AGE_RECIPIENTS)
        for (const k of keys) {
            expect(k.protected).toBe(true)
            expect(k.secret.startsWith("-----BEGIN AGE ENCRYPTED FILE-----")).toBe(true)
            expect((await unlockKey(k, "pw")).recipient).toBe(k.recipient)
        }
    })

    it("names the line of a malformed identity and refuses public-only PGP files", async () => {
        await expect(importKeys("# x\nAGE-SECRET-KEY-1XYZ\n", { now: NOW })).rejects.toThrow(/line 2: malformed/)
        await expect(importKeys("hello\n", { now: NOW })).rejects.toThrow(KsopsError)
        await expect(importKeys(readFileSync(join(KEYS, "cluster0.pub.asc")), { now: NOW })).rejects.toThrow(
            /only PGP public keys/,
        )
    })
})

describeShared("importKeys: PGP", () => {
    it("reads the Flux guide key with its fingerprint, user id and public key", async () => {
        const [k] = await importKeys(readFileSync(join(KEYS, "cluster0.sec.asc"), "utf8"), { now: NOW })
        expect(k).toMatchObject({
            type: "pgp",
            id: CLUSTER0,
            recipient: CLUSTER0,
            protected: false,
            name: "cluster0.example.com",
            comment: "flux secrets",
        })
        expect(k.publicKey).toContain("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        expect(parseStoredKey(storedKeyToJson(k))).toEqual(k)
    })

    it("reads several blocks in one file and several keys in one block", async () => {
        // the functional-tests file holds two secret keys in its one block
        const fps = [CLUSTER0, "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4", "D7229043384BCC60326C6FB9D8720D957C3D3074"]
        const twoBlocks = `${readFileSync(join(KEYS, "cluster0.sec.asc"), "utf8")}\n${readFileSync(FUNC_KEY, "utf8")}`
        const fromTwo = await importKeys(twoBlocks, { now: NOW })
        expect(fromTwo.map((k) => k.id)).toEqual(fps)
        expect(fromTwo[1]).toMatchObject({ name: "SOPS Functional Tests Key 1", comment: "https://github.com/mozilla/sops/" })
        const oneBlock = gpg(["--armor", "--export-secret-keys", ...fps]).toString()
        expect(oneBlock.match(/BEGIN PGP PRIVATE KEY BLOCK/g)).toHaveLength(1)
        const keys = await importKeys(oneBlock, { now: NOW })
        expect(keys.map((k) => k.id).sort()).toEqual([...fps].sort())
        for (const k of keys) expect((await unlockKey(k)).id).toBe(k.id)
    })

    it("keeps a passphrase-protected key protected and checks a given passphrase", async () => {
        const pgp = await import("openpgp")
        const key = await pgp.readPrivateKey({ armoredKey: readFileSync(join(KEYS, "cluster0.sec.asc"), "utf8") })
        const armored = (await pgp.encryptKey({ privateKey: key, passphrase: "s3cret" })).armor()
        const [k] = await importKeys(armored, { now: NOW })
        expect(k.protected).toBe(true)
        expect(k.secret).toBe(armored)
        await expect(importKeys(armored, { now: NOW, passphrase: "nope" })).rejects.toThrow(PassphraseError)
        expect((await importKeys(armored, { now: NOW, passphrase: "s3cret" }))[0].protected).toBe(true)
        await expect(unlockKey(k)).rejects.toThrow(PassphraseError)
        await expect(unlockKey(k, "nope")).rejects.toThrow(/incorrect passphrase/)
        const u = await unlockKey(k, "s3cret")
        expect(u.material.kind === "pgp" && u.material.rsa.length).toBe(2)
    })
})

describeShared("exportKey", () => {
    it("exports the PGP public key that gpg imports as the same fingerprint", async () => {
        const [k] = await importKeys(readFileSync(join(KEYS, "cluster0.sec.asc")), { now: NOW })
        const pub = await exportKey(k)
        expect(pub).toContain("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        expect(pub).not.toContain("PRIVATE")
        const home = tempDir("ksops-gnupg-")
        chmodSync(home, 0o700)
        const out = execFileSync("gpg", ["--batch", "--with-colons", "--import-options", "show-only", "--import"], {
            env: { ...process.env, GNUPGHOME: home },
            input: pub,
            stdio: ["pipe", "pipe", "pipe"],
        }).toString()
        expect(out).toContain(`fpr:::::::::${CLUSTER0}:`)
        expect(await exportKey(k, { secret: true })).toContain("-----BEGIN PGP PRIVATE KEY BLOCK-----")
    })

    it("exports the age recipient, and the secret as an identity file that `age -d` uses", async () => {
        const [k] = await importKeys(readFileSync(join(KEYS, "age2.agekey")), { now: NOW })
        expect(await exportKey(k)).toBe(`${AGE_RECIPIENTS[1]}\n`)
        const dir = tempDir()
        const idFile = join(dir, "id.txt")
        writeFileSync(idFile, await exportKey(k, { secret: true }))
        const enc = execFileSync("age", ["-r", AGE_RECIPIENTS[1]], { input: "hello" })
        expect(execFileSync("age", ["-d", "-i", idFile], { input: enc }).toString()).toBe("hello")
    })
})

describeShared("stored-key JSON", () => {
    it("rejects bad entries without echoing secrets", () => {
        const good = {
            id: AGE_RECIPIENTS[0],
            type: "age",
            name: "n",
            created: "2026-01-02T03:04:05Z",
            recipient: AGE_RECIPIENTS[0],
            secret: "AGE-SECRET-KEY-1SECRETSECRET",
            protected: false,
        }
        expect(parseStoredKey(JSON.stringify(good))).toEqual(good)
        const bad = [
            "nope",
            "[]",
            JSON.stringify({ ...good, type: "rsa" }),
            JSON.stringify({ ...good, id: "age1other" }),
            JSON.stringify({ ...good, created: "yesterday" }),
            JSON.stringify({ ...good, protected: "no" }),
            JSON.stringify({ ...good, protected: true }),
            JSON.stringify({ ...good, type: "pgp" }),
        ]
        for (const b of bad) {
            let msg = ""
            try {
                parseStoredKey(b)
            } catch (e) {
                msg = (e as Error).message
            }
            expect(msg).toMatch(/^invalid stored key: /)
            expect(msg).not.toContain("SECRETSECRET")
        }
    })
})
