import { execFileSync } from "node:child_process"
import { constants, createPublicKey, publicEncrypt, randomBytes } from "node:crypto"
import { chmodSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { Agent } from "../../src/agent/agent.js"
import type { Keychain } from "../../src/agent/keychain.js"
import { KsopsError } from "../../src/errors.js"
import { importKeys } from "../../src/keys/keyfile.js"
import { type StoredKey, type UnlockedKey, storedKeyToJson, unlockKey } from "../../src/keys/keystore.js"
import { LocalKeyService } from "../../src/keys/local.js"
import { PGP_DECRYPTION_FAILED, decryptWithKeyFiles, encryptWithKeyFiles } from "../../src/keys/pgp-openpgp.js"
import { dearmorPgpMessage, readPackets, unwrapWith } from "../../src/keys/unwrap.js"
import { metadataFromTree } from "../../src/sops/metadata.js"
import type { KeyEntry } from "../../src/sops/keys.js"
import { storeFor } from "../../src/stores/index.js"
import { VECTORS, isolatedContext, tempDir } from "./helpers.js"
import { describeShared, sharedData } from "../conformance-data.js"

const KEYS = join(VECTORS, "sops-3.13.2/keys")
const NOW = new Date("2026-01-02T03:04:05Z")
const FUNC_KEY = join(VECTORS, "sops-repo/pgp/sops_functional_tests_key.asc")
const EXPECTED = sharedData ? JSON.parse(readFileSync(join(VECTORS, "sops-repo/EXPECTED.json"), "utf8")) : {}

function entriesOf(path: string): KeyEntry[][] {
    const file = storeFor("yaml").loadEncrypted(readFileSync(path))
    return metadataFromTree(file.metadata).keyGroups.map((g) => [...g])
}

/** An in-memory keychain holding these keys. */
function memoryKeychain(keys: StoredKey[]): Keychain {
    const m = new Map(keys.map((k) => [k.id, storedKeyToJson(k)]))
    return {
        description: "memory",
        list: async () => [...m.keys()],
        get: async (id) => m.get(id),
        set: async (id, v) => void m.set(id, v),
        delete: async (id) => m.delete(id),
    }
}

let stored: StoredKey[]
let unlocked: UnlockedKey[]
let gnupghome: string
const gpg = (args: string[], input?: string | Uint8Array) =>
    execFileSync("gpg", ["--batch", ...args], {
        env: { ...process.env, GNUPGHOME: gnupghome },
        input,
        stdio: ["pipe", "pipe", "pipe"],
    })

async function unwrapAny(entry: KeyEntry): Promise<Uint8Array | null> {
    for (const k of unlocked) {
        const out = await unwrapWith(entry, k)
        if (out !== null) return out
    }
    return null
}

beforeAll(async () => {
    stored = [
        ...(await importKeys(readFileSync(join(KEYS, "cluster0.sec.asc")), { now: NOW })),
        ...(await importKeys(readFileSync(join(KEYS, "all.agekey")), { now: NOW })),
        ...(await importKeys(readFileSync(FUNC_KEY), { now: NOW })),
    ]
    unlocked = await Promise.all(stored.map((k) => unlockKey(k)))
    gnupghome = tempDir("ksops-gnupg-")
    chmodSync(gnupghome, 0o700)
    gpg(["--import", join(KEYS, "cluster0.pub.asc")], "")
})

afterAll(() => {
    execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: gnupghome } })
})

describeShared("unwrapWith on the sops 3.13.2 vectors", () => {
    it("recovers the same data key from every age and pgp entry of secret-age-pgp, equal to the local providers'", async () => {
        const groups = entriesOf(join(VECTORS, "sops-3.13.2/secret-age-pgp/out.stdout"))
        expect(groups).toHaveLength(1)
        const types = groups[0].map((e) => e.type).sort()
        expect(types).toEqual(["age", "age", "pgp"])
        const keys = await Promise.all(groups[0].map((e) => unwrapAny(e)))
        for (const k of keys) {
            expect(k).not.toBeNull()
            expect(k!.length).toBe(32)
            expect(Buffer.from(k!).equals(Buffer.from(keys[0]!))).toBe(true)
        }
        const ctx = isolatedContext({ SOPS_AGE_KEY_FILE: join(KEYS, "all.agekey") })
        const local = await new LocalKeyService(ctx).decrypt(groups[0].find((e) => e.type === "age")!)
        expect(Buffer.from(local).equals(Buffer.from(keys[0]!))).toBe(true)
    })

    it("recovers each Shamir share of key-groups (pgp + age) like the local providers", async () => {
        const groups = entriesOf(join(VECTORS, "sops-3.13.2/key-groups/out.stdout"))
        const ctx = isolatedContext({
            SOPS_AGE_KEY_FILE: join(KEYS, "all.agekey"),
            KUBECTL_SOPS_PGP_KEY_FILE: join(KEYS, "cluster0.sec.asc"),
        })
        const local = new LocalKeyService(ctx)
        let n = 0
        for (const g of groups) {
            for (const e of g) {
                const mine = await unwrapAny(e)
                if (mine === null) continue // a recipient of all.agekey's keys only
                n++
                expect(Buffer.from(mine).equals(Buffer.from(await local.decrypt(e)))).toBe(true)
            }
        }
        expect(n).toBeGreaterThanOrEqual(3)
    })

    it("recovers the data key of the sops functional-test file (Go OpenPGP packets)", async () => {
        const groups = entriesOf(join(VECTORS, "sops-repo/functional-tests/res/format.enc.yaml"))
        const pgpEntry = groups.flat().find((e) => e.type === "pgp")!
        const key = await unwrapAny(pgpEntry)
        expect(Buffer.from(key!).toString("hex")).toBe(EXPECTED["functional-tests/res/format.enc.yaml"].data_key_hex)
    })

    it("returns null for an entry of another key and for another key type", async () => {
        const groups = entriesOf(join(VECTORS, "sops-3.13.2/secret-age-pgp/out.stdout"))
        const pgpEntry = groups[0].find((e) => e.type === "pgp")!
        const ageEntry = groups[0].find((e) => e.type === "age")!
        const funcKey = unlocked.find((k) => k.type === "pgp" && k.id !== "EE1E8CF37CFC50776EF383589CC3EF7A23419576")!
        expect(await unwrapWith(pgpEntry, funcKey)).toBeNull()
        const age4 = unlocked.find((k) => k.type === "age" && k.recipient !== ageEntry.params.recipient)!
        expect(await unwrapWith({ ...ageEntry }, age4)).toBeNull()
        expect(await unwrapWith(ageEntry, funcKey)).toBeNull()
        expect(await unwrapWith(pgpEntry, age4)).toBeNull()
    })
})

describeShared("unwrapWith on GnuPG output", () => {
    const cluster0 = () => unlocked.find((k) => k.id === "EE1E8CF37CFC50776EF383589CC3EF7A23419576")!
    const part = Buffer.from("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "hex")

    for (const algo of ["none", "zip", "zlib", "bzip2"]) {
        it(`decrypts a gpg message with compression ${algo}`, async () => {
            const enc = gpg(
                ["--trust-model", "always", "--compress-algo", algo, "-e", "-a", "-r", cluster0().id],
                part,
            ).toString()
            const out = await unwrapWith({ type: "pgp", params: { fp: cluster0().id }, enc }, cluster0())
            expect(Buffer.from(out!).equals(part)).toBe(true)
        })
    }

    it("decrypts gpg's partial-length (streamed) packets", async () => {
        const enc = execFileSync(
            "sh",
            ["-c", `cat | gpg --batch --trust-model always --compress-algo none -e -a -r ${cluster0().id}`],
            { env: { ...process.env, GNUPGHOME: gnupghome }, input: Buffer.alloc(9000, 7) },
        ).toString()
        const packets = readPackets(dearmorPgpMessage(enc))
        expect(packets.map((p) => p.tag)).toEqual([1, 18])
        const out = await unwrapWith({ type: "pgp", params: { fp: cluster0().id }, enc }, cluster0())
        expect(Buffer.from(out!).equals(Buffer.alloc(9000, 7))).toBe(true)
    })

    it("refuses a tampered message (MDC) with a KsopsError", async () => {
        const enc = gpg(["--trust-model", "always", "--compress-algo", "none", "-e", "-r", cluster0().id], part)
        const bin = Buffer.from(enc)
        bin[bin.length - 30] ^= 1
        const armored = `-----BEGIN PGP MESSAGE-----\n\n${bin.toString("base64")}\n-----END PGP MESSAGE-----\n`
        await expect(unwrapWith({ type: "pgp", params: { fp: cluster0().id }, enc: armored }, cluster0())).rejects.toThrow(
            KsopsError,
        )
    })

    it("refuses a wiped key", async () => {
        const k = await unlockKey(stored.find((s) => s.id === cluster0().id)!)
        k.wipe()
        expect(k.wiped).toBe(true)
        const enc = gpg(["--trust-model", "always", "-e", "-a", "-r", cluster0().id], part).toString()
        await expect(unwrapWith({ type: "pgp", params: { fp: k.id }, enc }, k)).rejects.toThrow(/locked/)
    })

    it("unwraps openpgp.js-written RSA-4096 data keys (as kubectl-sops writes them; speed: npm run bench -- --only P5)", async () => {
        const k = cluster0()
        const files = [{ path: "cluster0.pub.asc", text: readFileSync(join(KEYS, "cluster0.pub.asc"), "utf8") }]
        for (let i = 0; i < 5; i++) {
            const enc = (await encryptWithKeyFiles(files, k.id, part))!
            const out = await unwrapWith({ type: "pgp", params: { fp: k.id }, enc }, k)
            expect(Buffer.from(out!).equals(part)).toBe(true)
        }
    })
})

describeShared("PKCS#1 v1.5 implicit rejection (PGP session keys)", () => {
    const cluster0 = () => unlocked.find((k) => k.id === "EE1E8CF37CFC50776EF383589CC3EF7A23419576")!
    const part = Buffer.from("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "hex")

    /** A new-format OpenPGP packet with a 5-byte length. */
    function packet(tag: number, body: Uint8Array): Buffer {
        const len = Buffer.alloc(4)
        len.writeUInt32BE(body.length)
        return Buffer.concat([Buffer.from([0xc0 | tag, 0xff]), len, body])
    }

    function armor(bin: Uint8Array): string {
        return `-----BEGIN PGP MESSAGE-----\n\n${Buffer.from(bin).toString("base64")}\n-----END PGP MESSAGE-----\n`
    }

    /** A gpg message to cluster0 whose PKESK is replaced by raw RSA over `em` (a chosen encoded message). */
    function withEncodedMessage(em: Buffer): string {
        const k = cluster0()
        if (k.material.kind !== "pgp") throw new Error("not pgp")
        const rsa = k.material.rsa[0]
        const bin = gpg(["--trust-model", "always", "--compress-algo", "none", "-e", "-r", k.id], part)
        const [pkesk, seipd] = readPackets(new Uint8Array(bin))
        expect([pkesk.tag, seipd.tag]).toEqual([1, 18])
        expect(Buffer.from(pkesk.body.subarray(1, 9)).toString("hex").toUpperCase()).toBe(rsa.keyId)
        const c = publicEncrypt({ key: createPublicKey(rsa.privateKey), padding: constants.RSA_NO_PADDING }, em)
        const body = Buffer.concat([Buffer.from(pkesk.body.subarray(0, 10)), Buffer.from([(c.length * 8) >> 8, 0]), c])
        return armor(Buffer.concat([packet(1, body), packet(18, seipd.body)]))
    }

    function encoded(modulusBytes: number, sessionKey: Buffer, damage?: (em: Buffer) => void): Buffer {
        let sum = 0
        for (const b of sessionKey) sum = (sum + b) & 0xffff
        const m = Buffer.concat([Buffer.from([9]), sessionKey, Buffer.from([sum >> 8, sum & 0xff])])
        const ps = Buffer.alloc(modulusBytes - 3 - m.length, 0x5a)
        const em = Buffer.concat([Buffer.from([0, 2]), ps, Buffer.from([0]), m])
        damage?.(em)
        return em
    }

    async function errorOf(enc: string): Promise<string> {
        const k = cluster0()
        try {
            await unwrapWith({ type: "pgp", params: { fp: k.id }, enc }, k)
        } catch (e) {
            expect(e).toBeInstanceOf(KsopsError)
            return (e as Error).message
        }
        throw new Error("the message decrypted")
    }

    it("gives one error text for a corrupted padding, a wrong session key with valid padding and a corrupted body", async () => {
        const k = cluster0()
        if (k.material.kind !== "pgp") throw new Error("not pgp")
        const n = k.material.rsa[0].modulusBytes
        const badPadding = await errorOf(withEncodedMessage(encoded(n, randomBytes(32), (em) => (em[1] = 3))))
        const noSeparator = await errorOf(withEncodedMessage(encoded(n, randomBytes(32), (em) => em.fill(0x5a, 2, n - 35))))
        const badChecksum = await errorOf(withEncodedMessage(encoded(n, randomBytes(32), (em) => (em[n - 1] ^= 1))))
        // padding and checksum valid, but not the message's session key: only the MDC can tell
        const wrongKey = await errorOf(withEncodedMessage(encoded(n, randomBytes(32))))
        const bin = Buffer.from(gpg(["--trust-model", "always", "--compress-algo", "none", "-e", "-r", k.id], part))
        bin[bin.length - 30] ^= 1
        const badBody = await errorOf(armor(bin))
        expect([badPadding, noSeparator, badChecksum, wrongKey]).toEqual([badBody, badBody, badBody, badBody])
        expect(badBody).toBe(`cannot decrypt data key with pgp key ${k.id}: ${PGP_DECRYPTION_FAILED}`)
    })

    it("the same through the agent's answers", async () => {
        const k = cluster0()
        if (k.material.kind !== "pgp") throw new Error("not pgp")
        const n = k.material.rsa[0].modulusBytes
        const stored0 = stored.find((s) => s.id === k.id)!
        const agent = new Agent({ keychain: memoryKeychain([stored0]) })
        try {
            const bin = Buffer.from(gpg(["--trust-model", "always", "--compress-algo", "none", "-e", "-r", k.id], part))
            bin[bin.length - 30] ^= 1
            const entries: KeyEntry[] = [withEncodedMessage(encoded(n, randomBytes(32), (em) => (em[0] = 1))), armor(bin)].map(
                (enc) => ({ type: "pgp", params: { fp: k.id }, enc }),
            )
            const out = await agent.unwrap(entries)
            const messages = out.map((o) => ("error" in o ? o.error.message : "decrypted"))
            expect(messages[1]).toBe(messages[0])
            expect(messages[0]).toContain(PGP_DECRYPTION_FAILED)
        } finally {
            agent.close()
        }
    })

    it("the same with the local key files (KUBECTL_SOPS_PGP_KEY_FILE's decryption)", async () => {
        const k = cluster0()
        if (k.material.kind !== "pgp") throw new Error("not pgp")
        const n = k.material.rsa[0].modulusBytes
        const files = [{ path: "cluster0.sec.asc", text: readFileSync(join(KEYS, "cluster0.sec.asc"), "utf8") }]
        const ctx = isolatedContext({})
        const bin = Buffer.from(gpg(["--trust-model", "always", "--compress-algo", "none", "-e", "-r", k.id], part))
        expect(Buffer.from((await decryptWithKeyFiles(files, armor(bin), undefined, ctx))!).equals(part)).toBe(true)
        bin[bin.length - 30] ^= 1
        const messages: string[] = []
        for (const enc of [withEncodedMessage(encoded(n, randomBytes(32), (em) => (em[1] = 0))), armor(bin)]) {
            await decryptWithKeyFiles(files, enc, undefined, ctx).then(
                () => messages.push("decrypted"),
                (e: Error) => messages.push(e.message),
            )
        }
        expect(messages[0]).toBe(messages[1])
        expect(messages).toEqual([PGP_DECRYPTION_FAILED, PGP_DECRYPTION_FAILED])
    })
})
