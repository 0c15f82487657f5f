import { execFileSync } from "node:child_process"
import { chmodSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { UsageError } from "../../src/errors.js"
import { armorMessage, decodeSessionKey } from "../../src/keys/pgp-openpgp.js"
import { pgpProvider } from "../../src/keys/pgp.js"
import { extractEncBlocks, isolatedContext, killGpgAgents, tempDir, VECTORS } from "./helpers.js"
import { describeShared, sharedData } from "../conformance-data.js"

const KEYS = join(VECTORS, "sops-3.13.2/keys")
const FUNC_KEY = join(VECTORS, "sops-repo/pgp/sops_functional_tests_key.asc")
const CLUSTER0_FP = sharedData ? readFileSync(join(KEYS, "cluster0.fpr"), "utf8").trim() : ""
const FBC7 = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
const FORMAT_ENC = sharedData ? readFileSync(join(VECTORS, "sops-repo/functional-tests/res/format.enc.yaml"), "utf8") : ""
const FORMAT_KEY = (sharedData ? JSON.parse(readFileSync(join(VECTORS, "sops-repo/EXPECTED.json"), "utf8"))[
    "functional-tests/res/format.enc.yaml"
].data_key_hex : "") as string

let gnupghome: string
const gpg = (args: string[], input?: string | Uint8Array) =>
    execFileSync("gpg", ["--batch", ...args], { env: { ...process.env, GNUPGHOME: gnupghome }, input, stdio: ["pipe", "pipe", "pipe"] })

afterAll(killGpgAgents)

beforeAll(() => {
    gnupghome = tempDir("ksops-gnupg-")
    chmodSync(gnupghome, 0o700)
    if (!sharedData) return
    gpg(["--import", join(KEYS, "cluster0.sec.asc")], "")
    gpg(["--import", FUNC_KEY], "")
})

const gpgCtx = () => isolatedContext({ GNUPGHOME: gnupghome })
const part = () => new Uint8Array(Buffer.from("0123456789abcdef0123456789abcdef"))

describe("pgp parseSpec", () => {
    it("removes spaces and keeps case", () => {
        expect(pgpProvider.parseSpec("FBC7 B9E2 A4F9 289A C0C1  D484 3D16 CEE4 A273 81B4")).toEqual({ fp: FBC7 })
        expect(pgpProvider.parseSpec(FBC7.toLowerCase())).toEqual({ fp: FBC7.toLowerCase() })
        expect(pgpProvider.parseSpec("3D16CEE4A27381B4")).toEqual({ fp: "3D16CEE4A27381B4" })
    })
    it("rejects non-hex or wrong lengths with a UsageError", () => {
        expect(() => pgpProvider.parseSpec("not-a-fingerprint")).toThrow(UsageError)
        expect(() => pgpProvider.parseSpec("FBC7B9E2A4F9")).toThrow(/expected 40 hex digits/)
    })
})

describeShared("pgp via the gpg binary", () => {
    it("encrypts like sops (gpg -d reads it) and decrypts it back", async () => {
        const enc = await pgpProvider.encrypt({ fp: CLUSTER0_FP }, part(), gpgCtx())
        expect(enc.startsWith("-----BEGIN PGP MESSAGE-----")).toBe(true)
        expect(enc.endsWith("-----END PGP MESSAGE-----")).toBe(true)
        expect(gpg(["--decrypt"], enc).toString()).toBe("0123456789abcdef0123456789abcdef")
        const back = await pgpProvider.decrypt({ fp: CLUSTER0_FP }, enc, gpgCtx())
        expect(Buffer.from(back).toString()).toBe("0123456789abcdef0123456789abcdef")
    })

    it("decrypts the sops functional-test vector (Go OpenPGP packets)", async () => {
        const enc = extractEncBlocks(FORMAT_ENC, "PGP MESSAGE")[0]
        const key = await pgpProvider.decrypt({ fp: FBC7 }, enc, gpgCtx())
        expect(Buffer.from(key).toString("hex")).toBe(FORMAT_KEY)
    })

    it("fails with gpg's reason when the key is missing", async () => {
        await expect(pgpProvider.encrypt({ fp: "B611A2F9F11D0FF82568805119F9B5DAEA91FF86" }, part(), isolatedContext({ GNUPGHOME: tempDir() }))).rejects.toThrow(
            /could not encrypt data key with PGP key: GnuPG binary error: failed to encrypt sops data key with pgp/,
        )
        const enc = extractEncBlocks(FORMAT_ENC, "PGP MESSAGE")[0]
        const empty = tempDir()
        chmodSync(empty, 0o700)
        await expect(pgpProvider.decrypt({ fp: FBC7 }, enc, isolatedContext({ GNUPGHOME: empty }))).rejects.toThrow(
            /could not decrypt data key with PGP key: GnuPG binary error: failed to decrypt sops data key with pgp: [\s\S]*No secret key/,
        )
    })

    it("honours SOPS_GPG_EXEC", async () => {
        await expect(
            pgpProvider.encrypt({ fp: CLUSTER0_FP }, part(), isolatedContext({ GNUPGHOME: gnupghome, SOPS_GPG_EXEC: "/nonexistent-gpg" })),
        ).rejects.toThrow(/could not run \/nonexistent-gpg/)
    })
})

describeShared("pgp via key files (openpgp.js)", () => {
    it("writes SEIPD v1 + MDC with sops' armor, readable by gpg", async () => {
        const ctx = isolatedContext({ KUBECTL_SOPS_PGP_PUBKEYS: join(KEYS, "cluster0.pub.asc"), SOPS_GPG_EXEC: "/nonexistent" })
        const enc = await pgpProvider.encrypt({ fp: CLUSTER0_FP }, part(), ctx)
        expect(enc.endsWith("-----END PGP MESSAGE-----")).toBe(true)
        const lines = enc.split("\n")
        expect(lines[1]).toBe("")
        expect(lines.slice(2, -3).every((l) => l.length === 64)).toBe(true)
        expect(lines[lines.length - 2]).toMatch(/^=[A-Za-z0-9+/]{4}$/)
        expect(gpg(["--decrypt"], enc).toString()).toBe("0123456789abcdef0123456789abcdef")
        const packets = execFileSync("gpg", ["--batch", "--list-packets"], {
            env: { ...process.env, GNUPGHOME: gnupghome },
            input: enc,
        }).toString()
        expect(packets).toMatch(/encrypted data packet:[\s\S]*mdc_method: 2/)
        expect(packets).not.toMatch(/aead/i)
    })

    it("decrypts gpg-written and sops-written messages with the secret key file (no gpg)", async () => {
        const gpgEnc = gpg(["--encrypt", "-a", "--trust-model", "always", "-r", CLUSTER0_FP], part()).toString()
        const ctx = isolatedContext({ KUBECTL_SOPS_PGP_KEY_FILE: join(KEYS, "cluster0.sec.asc"), SOPS_GPG_EXEC: "/nonexistent" })
        const out = await pgpProvider.decrypt({ fp: CLUSTER0_FP }, gpgEnc, ctx)
        expect(Buffer.from(out).toString()).toBe("0123456789abcdef0123456789abcdef")
        for (const name of ["secret-pgp", "secret-age-pgp"]) {
            const text = readFileSync(join(VECTORS, "sops-3.13.2", name, "out.stdout"), "utf8")
            const enc = extractEncBlocks(text, "PGP MESSAGE")[0]
            expect((await pgpProvider.decrypt({ fp: CLUSTER0_FP }, enc, ctx)).length).toBe(32)
        }
        const fctx = isolatedContext({ KUBECTL_SOPS_PGP_KEY_FILE: FUNC_KEY, SOPS_GPG_EXEC: "/nonexistent" })
        const key = await pgpProvider.decrypt({ fp: FBC7 }, extractEncBlocks(FORMAT_ENC, "PGP MESSAGE")[0], fctx)
        expect(Buffer.from(key).toString("hex")).toBe(FORMAT_KEY)
    })

    it("passphrase-protected key files need KUBECTL_SOPS_PGP_PASSPHRASE", async () => {
        const home = tempDir()
        chmodSync(home, 0o700)
        const g = (args: string[], input?: string | Uint8Array) =>
            execFileSync("gpg", ["--batch", "--pinentry-mode", "loopback", ...args], { env: { ...process.env, GNUPGHOME: home }, input, stdio: ["pipe", "pipe", "pipe"] })
        g(["--passphrase", "s3cret", "--quick-generate-key", "pp@example.com", "rsa2048", "default", "never"])
        const fpr = g(["--with-colons", "--list-keys", "pp@example.com"]).toString().match(/^fpr:+([0-9A-F]{40}):/m)![1]
        g(["--quick-add-key", "--passphrase", "s3cret", fpr, "rsa2048", "encr", "never"])
        const secFile = join(home, "sec.asc")
        writeFileSync(secFile, g(["--passphrase", "s3cret", "--export-secret-keys", "-a", fpr]))
        // --rfc4880: gpg 2.4 would otherwise write a LibrePGP OCB packet for a key it made itself (see the note in
        // src/keys/pgp.ts: such messages need the gpg binary)
        const enc = g(["--encrypt", "-a", "--rfc4880", "--trust-model", "always", "-r", fpr], part()).toString()
        const noPass = isolatedContext({ KUBECTL_SOPS_PGP_KEY_FILE: secFile, SOPS_GPG_EXEC: "/nonexistent" })
        await expect(pgpProvider.decrypt({ fp: fpr }, enc, noPass)).rejects.toThrow(/passphrase-protected: set KUBECTL_SOPS_PGP_PASSPHRASE/)
        const withPass = isolatedContext({
            KUBECTL_SOPS_PGP_KEY_FILE: secFile,
            KUBECTL_SOPS_PGP_PASSPHRASE: "s3cret",
            SOPS_GPG_EXEC: "/nonexistent",
        })
        expect(Buffer.from(await pgpProvider.decrypt({ fp: fpr }, enc, withPass)).toString()).toBe(
            "0123456789abcdef0123456789abcdef",
        )
    })
})

describe("pgp helpers", () => {
    it("armors with a correct CRC24 (gpg --dearmor accepts it)", () => {
        const data = new Uint8Array(Buffer.from("hello world, this is not a real message but armor does not care"))
        const armored = armorMessage(data).replace("PGP MESSAGE", "PGP ARMORED FILE").replace("PGP MESSAGE", "PGP ARMORED FILE")
        expect(gpg(["--dearmor"], armored).equals(Buffer.from(data))).toBe(true)
    })
    it("decodes PKCS#1 v1.5 session keys; bad padding/checksums give a deterministic substitute key", () => {
        const key = Buffer.alloc(32, 7)
        const sum = (32 * 7) & 0xffff
        const m = Buffer.concat([Buffer.from([9]), key, Buffer.from([sum >> 8, sum & 0xff])])
        const em = Buffer.concat([Buffer.from([0, 2]), Buffer.alloc(20, 0x55), Buffer.from([0]), m])
        const ct = Buffer.alloc(em.length, 0x33)
        const secret = Buffer.alloc(32, 1)
        expect(decodeSessionKey(em, ct, secret)).toEqual({ algorithm: 9, key: new Uint8Array(key) })
        const badChecksum = Buffer.from(em)
        badChecksum[badChecksum.length - 1] ^= 1
        const shortPad = Buffer.concat([Buffer.from([0, 2]), Buffer.alloc(5, 0x55), Buffer.from([0]), m])
        const badType = Buffer.from(em)
        badType[1] = 1
        for (const bad of [badChecksum, shortPad, badType]) {
            const c = Buffer.alloc(bad.length, 0x33)
            const sk = decodeSessionKey(bad, c, secret)
            expect([7, 8, 9]).toContain(sk.algorithm)
            expect(Buffer.from(sk.key).equals(key)).toBe(false)
            expect(decodeSessionKey(bad, c, secret)).toEqual(sk) // deterministic per key and ciphertext
        }
    })
})
