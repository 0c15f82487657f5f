/**
 * The openpgp.js side of the PGP provider (imported lazily: openpgp.js costs ~90 ms to load).
 * Writes SEIPD v1 + MDC messages (what GnuPG 2.2/2.4 and sops read) with sops' armor (64 columns, CRC24,
 * no trailing newline). RSA session keys are unwrapped with node:crypto (raw RSA + constant-time PKCS#1 v1.5
 * unpadding), which is much faster than openpgp.js' pure-JS fallback on Node ≥ 20.
 */
import { type KeyObject, constants, createPrivateKey, privateDecrypt, randomBytes } from "node:crypto"
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
 * PKCS#1 v1.5 type 2 unpadding of the raw RSA result, then OpenPGP's session-key framing
 * (algorithm byte, key, 2-byte checksum). Branch-free over the padding; returns null if malformed.
 */
export function unpadSessionKey(em: Uint8Array): { algorithm: number; key: Uint8Array } | null {
    let bad = em[0] | (em[1] ^ 2)
    let sep = 0
    let found = 0
    for (let i = 2; i < em.length; i++) {
        const isZero = ((em[i] - 1) >>> 31) & 1 // 1 iff em[i] === 0
        const first = isZero & (found ^ 1)
        sep = (sep & -(first ^ 1)) | (i & -first)
        found |= isZero
    }
    bad |= found ^ 1
    bad |= ((sep - 10) >>> 31) & 1 // at least 8 padding bytes
    if (bad !== 0) return null
    const m = em.subarray(sep + 1)
    if (m.length < 4) return null
    const key = m.subarray(1, m.length - 2)
    let sum = 0
    for (const b of key) sum = (sum + b) & 0xffff
    const check = (m[m.length - 2] << 8) | m[m.length - 1]
    if (sum !== check) return null
    return { algorithm: m[0], key: new Uint8Array(key) }
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

    // fast path: RSA PKESK unwrapped with node:crypto
    const pkesks = message.packets.filterByTag(pgp.enums.packet.publicKeyEncryptedSessionKey) as unknown as {
        publicKeyID: { equals(o: unknown): boolean }
        publicKeyAlgorithm: number
        version: number
        encrypted?: { c?: Uint8Array }
    }[]
    for (const pk of pkesks) {
        if (pk.version !== 3 || pk.publicKeyAlgorithm !== pgp.enums.publicKey.rsaEncryptSign) continue
        const c = pk.encrypted?.c
        if (c === undefined) continue
        for (const key of candidates) {
            for (const sub of [key, ...key.subkeys]) {
                if (!pk.publicKeyID.equals(sub.getKeyID())) continue
                const rsa = rsaKeyObject(sub.keyPacket as unknown as RsaMaterial)
                if (rsa === null) continue
                const modLen = Math.ceil((rsa.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
                const padded = Buffer.alloc(modLen)
                Buffer.from(c).copy(padded, modLen - c.length)
                let em: Buffer
                try {
                    em = privateDecrypt({ key: rsa, padding: constants.RSA_NO_PADDING }, padded)
                } catch {
                    continue
                }
                const sk = unpadSessionKey(em)
                const algorithm = sk === null ? undefined : SYMMETRIC[sk.algorithm]
                if (sk === null || algorithm === undefined) continue
                const result = await pgp.decrypt({
                    message,
                    sessionKeys: { data: sk.key, algorithm: algorithm as "aes256" },
                    format: "binary",
                })
                return result.data as Uint8Array
            }
        }
    }

    const result = await pgp.decrypt({ message, decryptionKeys: candidates, format: "binary" })
    return result.data as Uint8Array
}
