/**
 * The openpgp.js side of the PGP provider (imported lazily: openpgp.js costs ~90 ms to load).
 * Writes SEIPD v1 + MDC messages (what GnuPG 2.2/2.4 and sops read) with sops' armor (64 columns, CRC24,
 * no trailing newline). RSA session keys are unwrapped with node:crypto (raw RSA, then a branch-free PKCS#1 v1.5
 * decoding with implicit rejection: {@link decodeSessionKey}), which is much faster than openpgp.js' pure-JS
 * fallback on Node ≥ 20. Node 20 refuses RSA_PKCS1_PADDING decryption (the Marvin attack); raw RSA plus implicit
 * rejection is the remedy OpenSSL 3.2 and the IETF draft on RSA guidance describe.
 */
import {
    type KeyObject,
    constants,
    createHash,
    createHmac,
    createPrivateKey,
    privateDecrypt,
    randomBytes,
} from "node:crypto"
import type { Key, PrivateKey } from "openpgp"
import type { KeyContext } from "./provider.js"

type OpenPGP = typeof import("openpgp")

function openpgp(): Promise<OpenPGP> {
    return import("openpgp")
}

const BLOCK_RE = /-----BEGIN PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----/g

async function readAllKeys(pgp: OpenPGP, texts: readonly { path: string; text: string }[]): Promise<Key[]> {
    const out: Key[] = []
    for (const { path, text } of texts) {
        const blocks = text.match(BLOCK_RE) ?? []
        if (blocks.length === 0) throw new Error(`${path}: no armored OpenPGP key found`)
        for (const armoredKeys of blocks) {
            try {
                out.push(...(await pgp.readKeys({ armoredKeys })))
            } catch (e) {
                throw new Error(`${path}: ${(e as Error).message}`)
            }
        }
    }
    return out
}

function matchesFingerprint(key: Key, fp: string): boolean {
    const want = fp.replace(/!$/, "").toLowerCase()
    for (const k of [key, ...key.subkeys]) {
        if (k.getFingerprint().toLowerCase() === want || k.getKeyID().toHex().toLowerCase() === want) return true
    }
    return false
}

// ---------------------------------------------------------------------------------------------------------
// armor (as sops / Go's armor.Encode writes it)

function crc24(data: Uint8Array): number {
    let crc = 0xb704ce
    for (const b of data) {
        crc ^= b << 16
        for (let i = 0; i < 8; i++) {
            crc <<= 1
            if (crc & 0x1000000) crc ^= 0x1864cfb
        }
    }
    return crc & 0xffffff
}

/** Armor a binary OpenPGP message: 64-column base64, `=CRC24`, no trailing newline. */
export function armorMessage(binary: Uint8Array): string {
    const b64 = Buffer.from(binary).toString("base64")
    const lines: string[] = ["-----BEGIN PGP MESSAGE-----", ""]
    for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64))
    const crc = crc24(binary)
    lines.push(`=${Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString("base64")}`)
    lines.push("-----END PGP MESSAGE-----")
    return lines.join("\n")
}

/**
 * Encrypt `part` to the key with fingerprint `fp` found in the given armored key files.
 * @returns the armored message, or null when no key in the files has that fingerprint.
 */
export async function encryptWithKeyFiles(
    files: readonly { path: string; text: string }[],
    fp: string,
    part: Uint8Array,
): Promise<string | null> {
    const pgp = await openpgp()
    const keys = await readAllKeys(pgp, files)
    const key = keys.find((k) => matchesFingerprint(k, fp))
    if (key === undefined) return null
    const publicKey = key.isPrivate() ? key.toPublic() : key
    const message = await pgp.createMessage({ binary: part, format: "binary", date: new Date(0) })
    // An explicit session key without an AEAD algorithm forces SEIPD v1 + MDC (never RFC 9580 SEIPDv2).
    const binary = await pgp.encrypt({
        message,
        encryptionKeys: publicKey,
        sessionKey: { data: randomBytes(32), algorithm: "aes256" },
        format: "binary",
        config: { aeadProtect: false },
    })
    return armorMessage(binary as Uint8Array)
}

// ---------------------------------------------------------------------------------------------------------
// decryption

/** Parsed, unlocked secret keys of the key files (once per process). */
function secretKeys(
    ctx: KeyContext,
    files: readonly { path: string; text: string }[],
    passphrase: string | undefined,
): Promise<PrivateKey[]> {
    return ctx.memo("pgp:secret-keys", async () => {
        const pgp = await openpgp()
        const out: PrivateKey[] = []
        for (const key of await readAllKeys(pgp, files)) {
            if (!key.isPrivate()) continue
            if (key.isDecrypted()) {
                out.push(key)
                continue
            }
            if (passphrase === undefined) {
                throw new Error(
                    `secret key ${key.getFingerprint().toUpperCase()} is passphrase-protected: set KUBECTL_SOPS_PGP_PASSPHRASE`,
                )
            }
            try {
                out.push(await pgp.decryptKey({ privateKey: key, passphrase }))
            } catch (e) {
                throw new Error(`cannot unlock secret key ${key.getFingerprint().toUpperCase()}: ${(e as Error).message}`)
            }
        }
        return out
    })
}

/** The RSA parameters of an openpgp.js key packet (public `n`, `e`; private `d`, `p`, `q`, `u`). */
export interface RsaMaterial {
    publicParams?: { n?: Uint8Array; e?: Uint8Array }
    privateParams?: { d?: Uint8Array; p?: Uint8Array; q?: Uint8Array; u?: Uint8Array }
}

function big(b: Uint8Array): bigint {
    return BigInt(`0x${Buffer.from(b).toString("hex") || "0"}`)
}

function b64u(v: Uint8Array | bigint): string {
    let bytes: Buffer
    if (typeof v === "bigint") {
        let hex = v.toString(16)
        if (hex.length % 2) hex = `0${hex}`
        bytes = Buffer.from(hex, "hex")
    } else {
        bytes = Buffer.from(v)
    }
    let i = 0
    while (i < bytes.length - 1 && bytes[i] === 0) i++
    return bytes.subarray(i).toString("base64url")
}

/**
 * A node:crypto RSA private key from OpenPGP key material (OpenPGP's u = p⁻¹ mod q, so p and q swap).
 * @returns null when the material is incomplete (public key, not decrypted).
 */
export function rsaKeyObject(m: RsaMaterial): KeyObject | null {
    const { n, e } = m.publicParams ?? {}
    const { d, p, q, u } = m.privateParams ?? {}
    if (!n || !e || !d || !p || !q || !u) return null
    const dBig = big(d)
    return createPrivateKey({
        key: {
            kty: "RSA",
            n: b64u(n),
            e: b64u(e),
            d: b64u(d),
            p: b64u(q),
            q: b64u(p),
            dp: b64u(dBig % (big(q) - 1n)),
            dq: b64u(dBig % (big(p) - 1n)),
            qi: b64u(u),
        },
        format: "jwk",
    })
}

/**
 * The one error text for every failure after the RSA private-key operation of a PGP session key: bad PKCS#1
 * padding, bad session-key checksum, unknown algorithm and a bad MDC are indistinguishable (implicit rejection).
 */
export const PGP_DECRYPTION_FAILED = "decryption failed (wrong key, or the message was modified)"

/**
 * The implicit-rejection secret of an RSA private key: SHA-256 over the private exponent d (big-endian, as
 * stored). Keyed with it, {@link decodeSessionKey} derives a substitute session key from the ciphertext.
 */
export function rejectionSecret(d: Uint8Array): Uint8Array {
    return new Uint8Array(createHash("sha256").update("kubectl-sops pkcs1 implicit rejection\0").update(d).digest())
}

/** Session-key framings an OpenPGP v3 PKESK may carry: algorithm id and key length (bytes). */
const FRAMINGS: readonly { algorithm: number; length: number }[] = [
    { algorithm: 9, length: 32 }, // AES-256
    { algorithm: 8, length: 24 }, // AES-192
    { algorithm: 7, length: 16 }, // AES-128
    { algorithm: 2, length: 24 }, // TripleDES
    { algorithm: 3, length: 16 }, // CAST5
]
/** What a substitute session key uses (the ciphers the fast path decrypts itself). */
const SYNTHETIC: readonly { algorithm: number; length: number }[] = FRAMINGS.slice(0, 3)

/** 1 when a === b, else 0, without a branch (a, b small non-negative integers). */
function ctEq(a: number, b: number): number {
    return (((a ^ b) - 1) >>> 31) & 1
}

/** 1 when a < b, else 0, without a branch (a, b small non-negative integers). */
function ctLt(a: number, b: number): number {
    return ((a - b) >>> 31) & 1
}

/**
 * PKCS#1 v1.5 type 2 decoding of the raw RSA result `em`, then OpenPGP's session-key framing (algorithm byte, key,
 * 2-byte checksum), with implicit rejection: when anything is wrong, a substitute session key derived from
 * `secret` (see {@link rejectionSecret}) and the ciphertext is returned instead, so that the failure shows only
 * at the integrity check (MDC) with {@link PGP_DECRYPTION_FAILED}, as with any wrong key. Never throws, never
 * returns early: the work over `em` is branch-free (fixed loops, masks), whatever the padding holds.
 * @param ciphertext the RSA ciphertext, left-padded to the modulus length (what was decrypted)
 */
export function decodeSessionKey(
    em: Uint8Array,
    ciphertext: Uint8Array,
    secret: Uint8Array,
): { algorithm: number; key: Uint8Array } {
    const n = em.length
    // the substitute: HMAC-SHA256(HMAC-SHA256(secret, ciphertext), label ‖ i)
    const kdk = createHmac("sha256", secret).update(ciphertext).digest()
    const stream = Buffer.concat([
        createHmac("sha256", kdk).update("session key\0\x01").digest(),
        createHmac("sha256", kdk).update("session key\0\x02").digest(),
    ])
    kdk.fill(0)
    const pick = SYNTHETIC[stream[32] % SYNTHETIC.length]

    // padding: 0x00 0x02, at least 8 non-zero bytes, the first zero separator
    let bad = em[0] | (em[1] ^ 2)
    let sep = 0
    let found = 0
    for (let i = 2; i < n; i++) {
        const isZero = ctEq(em[i], 0)
        const first = isZero & (found ^ 1)
        sep = (sep & -(first ^ 1)) | (i & -first)
        found |= isZero
    }
    const padOk = ctEq(bad, 0) & found & (ctLt(sep, 10) ^ 1)
    bad = 0

    // each framing fixes where the separator must be; positions depend on n only
    const received = (em[n - 2] << 8) | em[n - 1]
    const masks: number[] = []
    let valid = 0
    for (const f of FRAMINGS) {
        const at = n - (f.length + 3) // index of the algorithm byte
        if (at - 1 < 10) {
            masks.push(0)
            continue
        }
        let sum = 0
        for (let j = 0; j < f.length; j++) sum = (sum + em[at + 1 + j]) & 0xffff
        const ok = padOk & ctEq(sep, at - 1) & ctEq(em[at], f.algorithm) & ctEq(sum, received)
        masks.push(-ok & 0xff)
        valid |= ok
    }
    const synth = -(valid ^ 1) & 0xff

    const key = Buffer.alloc(32)
    let algorithm = synth & pick.algorithm
    let length = synth & pick.length
    for (let j = 0; j < 32; j++) key[j] = synth & stream[j]
    FRAMINGS.forEach((f, c) => {
        const m = masks[c]
        const at = n - (f.length + 3)
        algorithm |= m & f.algorithm
        length |= m & f.length
        if (at - 1 < 10) return
        for (let j = 0; j < f.length; j++) key[j] |= m & em[at + 1 + j]
    })
    stream.fill(0)
    const out = new Uint8Array(key.subarray(0, length))
    key.fill(0)
    return { algorithm, key: out }
}

/** OpenPGP symmetric algorithm ids → openpgp.js / node:crypto names. */
export const SYMMETRIC: Record<number, string> = { 7: "aes128", 8: "aes192", 9: "aes256", 2: "tripledes", 3: "cast5" }

/**
 * Decrypt an armored message with the secret keys of the key files.
 * @returns the plaintext, or null when none of the files' keys is a recipient of the message.
 */
export async function decryptWithKeyFiles(
    files: readonly { path: string; text: string }[],
    enc: string,
    passphrase: string | undefined,
    ctx: KeyContext,
): Promise<Uint8Array | null> {
    const pgp = await openpgp()
    const keys = await secretKeys(ctx, files, passphrase)
    const message = await pgp.readMessage({ armoredMessage: enc })
    const recipients = message.getEncryptionKeyIDs()
    const candidates: PrivateKey[] = keys.filter((k) =>
        [k, ...k.subkeys].some((s) => recipients.some((id) => id.equals(s.getKeyID()))),
    )
    if (candidates.length === 0) return null

    // fast path: RSA PKESK unwrapped with node:crypto, with implicit rejection (decodeSessionKey): a bad padding
    // and a bad MDC end in the same error
    const pkesks = message.packets.filterByTag(pgp.enums.packet.publicKeyEncryptedSessionKey) as unknown as {
        publicKeyID: { equals(o: unknown): boolean }
        publicKeyAlgorithm: number
        version: number
        encrypted?: { c?: Uint8Array }
    }[]
    const sessionKeys: { data: Uint8Array; algorithm: string }[] = []
    for (const pk of pkesks) {
        if (pk.version !== 3 || pk.publicKeyAlgorithm !== pgp.enums.publicKey.rsaEncryptSign) continue
        const c = pk.encrypted?.c
        if (c === undefined) continue
        for (const key of candidates) {
            for (const sub of [key, ...key.subkeys]) {
                if (!pk.publicKeyID.equals(sub.getKeyID())) continue
                const material = sub.keyPacket as unknown as RsaMaterial
                const rsa = rsaKeyObject(material)
                const d = material.privateParams?.d
                if (rsa === null || d === undefined) continue
                const modLen = Math.ceil((rsa.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
                if (c.length > modLen) continue
                const padded = Buffer.alloc(modLen)
                Buffer.from(c).copy(padded, modLen - c.length)
                let em: Buffer
                try {
                    em = privateDecrypt({ key: rsa, padding: constants.RSA_NO_PADDING }, padded)
                } catch {
                    continue // the ciphertext is not below the modulus (public knowledge)
                }
                const secret = rejectionSecret(d)
                const sk = decodeSessionKey(em, padded, secret)
                em.fill(0)
                secret.fill(0)
                sessionKeys.push({ data: sk.key, algorithm: SYMMETRIC[sk.algorithm] })
            }
        }
    }
    if (sessionKeys.length > 0) {
        try {
            for (const sk of sessionKeys) {
                try {
                    const result = await pgp.decrypt({
                        message: await pgp.readMessage({ armoredMessage: enc }),
                        sessionKeys: { data: sk.data, algorithm: sk.algorithm as "aes256" },
                        format: "binary",
                    })
                    return result.data as Uint8Array
                } catch {
                    // the next candidate, or the one error below
                }
            }
        } finally {
            for (const sk of sessionKeys) sk.data.fill(0)
        }
        throw new Error(PGP_DECRYPTION_FAILED)
    }

    const result = await pgp.decrypt({ message, decryptionKeys: candidates, format: "binary" })
    return result.data as Uint8Array
}
