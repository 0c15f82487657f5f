/**
 * Decrypting one sops key entry (`enc` of an age or pgp master key) with unlocked key material held by the agent.
 *
 * age: X25519 stanzas natively on node:crypto; hybrid post-quantum stanzas through `age-encryption`.
 * pgp: the message is parsed here (PKESK v3 + SEIPD v1 with MDC, as GnuPG and sops write it): the RSA session
 * key is decrypted by OpenSSL (raw RSA), decoded branch-free with implicit rejection (a bad padding yields a
 * substitute key, so it fails at the MDC like any wrong key, with the same error), the SEIPD with AES-CFB, the MDC
 * (SHA-1) checked in constant time, the literal packet read (inflating ZIP/ZLIB compression, as gpg writes by
 * default). Anything else (ECDH keys, SEIPD v2, BZip2, odd packets) goes through openpgp.js.
 */
import { constants, createDecipheriv, createHash, privateDecrypt, timingSafeEqual } from "node:crypto"
import { inflateRawSync, inflateSync } from "node:zlib"
import { ErrorKind, KsopsError } from "../errors.js"
import type { KeyEntry } from "../sops/keys.js"
import {
    ageDecryptPayload,
    armorDecode,
    b64Decode,
    hkdf,
    parseAgeFile,
    unwrapFileKey,
    x25519,
} from "./age-format.js"
import {
    type HybridMaterial,
    type PgpMaterial,
    type PgpRsaKey,
    type UnlockedKey,
    type X25519Material,
    displayId,
} from "./keystore.js"
import { PGP_DECRYPTION_FAILED, SYMMETRIC, decodeSessionKey } from "./pgp-openpgp.js"

/** Largest data we inflate from a compressed packet (a data key is 32 bytes). */
const MAX_INFLATED = 1024 * 1024

/**
 * Raw RSA decryption (`RSA_NO_PADDING`) of a ciphertext left-padded to the modulus length, returning the encoded
 * message (unpadded by the caller in constant time). The agent passes one that runs on its worker threads.
 */
export type RsaDecrypt = (key: PgpRsaKey, padded: Uint8Array) => Promise<Uint8Array>

/** Options of {@link unwrapWith}. */
export interface UnwrapOptions {
    /** Where the RSA private-key operation runs (default: `privateDecrypt` in the calling thread). */
    rsaDecrypt?: RsaDecrypt
}

function fail(key: UnlockedKey, why: string, cause?: unknown): KsopsError {
    return new KsopsError(ErrorKind.Generic, `cannot decrypt data key with ${key.type} key ${displayId(key.id)}: ${why}`, {
        cause,
    })
}

/**
 * Decrypt one key entry with an unlocked key.
 * @returns the data key (or Shamir share), or null when the entry is not meant for this key.
 * @throws KsopsError when the entry is meant for this key but cannot be decrypted (malformed, tampered, wiped key).
 */
export async function unwrapWith(entry: KeyEntry, key: UnlockedKey, options: UnwrapOptions = {}): Promise<Uint8Array | null> {
    if (key.wiped) throw fail(key, "the key was locked")
    const m = key.material
    if (entry.type === "age" && (m.kind === "x25519" || m.kind === "age-pq")) return unwrapAge(entry.enc, key, m)
    if (entry.type === "pgp" && m.kind === "pgp") return unwrapPgp(entry.enc, key, m, options.rsaDecrypt)
    return null
}

// ---------------------------------------------------------------------------------------------------------
// age

const X25519_LABEL = "age-encryption.org/v1/X25519"

type AgeFile = ReturnType<typeof parseAgeFile>

function x25519FileKey(file: AgeFile, m: X25519Material): Uint8Array | null {
    for (const s of file.stanzas) {
        if (s.args[0] !== "X25519") continue
        const share = s.args.length === 2 ? b64Decode(s.args[1]) : null
        if (share === null || share.length !== 32 || s.body.length !== 32) throw new Error("invalid X25519 recipient stanza")
        const shared = x25519(m.privateKey, share)
        const wrapKey = hkdf(shared, Buffer.concat([share, m.publicKey]), X25519_LABEL)
        shared.fill(0)
        const fileKey = unwrapFileKey(wrapKey, s.body)
        wrapKey.fill(0)
        if (fileKey !== null) return fileKey
    }
    return null
}

const decrypters = new WeakMap<HybridMaterial, { decryptHeader(h: Uint8Array): Promise<Uint8Array> }>()

async function hybridFileKey(file: AgeFile, m: HybridMaterial): Promise<Uint8Array | null> {
    if (!file.stanzas.some((s) => s.args[0] === "mlkem768x25519")) return null
    let d = decrypters.get(m)
    if (d === undefined) {
        const { Decrypter } = await import("age-encryption")
        const dec = new Decrypter()
        dec.addIdentity(Buffer.from(m.identity).toString("utf8"))
        d = dec
        decrypters.set(m, d)
    }
    try {
        return await d.decryptHeader(file.header)
    } catch (e) {
        if (/no identity matched/i.test((e as Error).message)) return null
        throw e
    }
}

async function unwrapAge(enc: string, key: UnlockedKey, m: X25519Material | HybridMaterial): Promise<Uint8Array | null> {
    let file: AgeFile
    try {
        file = parseAgeFile(armorDecode(enc))
    } catch (e) {
        throw fail(key, `malformed age data key: ${(e as Error).message}`)
    }
    let fileKey: Uint8Array | null
    try {
        fileKey = m.kind === "x25519" ? x25519FileKey(file, m) : await hybridFileKey(file, m)
    } catch (e) {
        throw fail(key, (e as Error).message, e)
    }
    if (fileKey === null) return null
    try {
        return ageDecryptPayload(file, fileKey)
    } catch (e) {
        throw fail(key, (e as Error).message)
    } finally {
        fileKey.fill(0)
    }
}

// ---------------------------------------------------------------------------------------------------------
// OpenPGP packets

/** Decode an ASCII-armored OpenPGP message (headers skipped, CRC line ignored). */
export function dearmorPgpMessage(text: string): Uint8Array {
    const lines = text.replaceAll("\r\n", "\n").split("\n")
    const begin = lines.findIndex((l) => l.trim() === "-----BEGIN PGP MESSAGE-----")
    if (begin < 0) throw new Error("not an armored PGP message")
    let i = begin + 1
    // armor headers (Version:, Comment:) up to the blank line
    while (i < lines.length && lines[i].trim() !== "" && /^[A-Za-z-]+: /.test(lines[i])) i++
    if (i < lines.length && lines[i].trim() === "") i++
    let b64 = ""
    for (; i < lines.length; i++) {
        const l = lines[i].trim()
        if (l.startsWith("-----END PGP MESSAGE-----")) {
            if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new Error("malformed armor")
            return new Uint8Array(Buffer.from(b64, "base64"))
        }
        if (l.startsWith("=") && l.length === 5) continue
        b64 += l
    }
    throw new Error("armored PGP message has no end line")
}

interface Packet {
    tag: number
    body: Uint8Array
}

/** Split binary OpenPGP data into packets (old and new headers, partial body lengths). */
export function readPackets(data: Uint8Array): Packet[] {
    const out: Packet[] = []
    let pos = 0
    const need = (n: number) => {
        if (pos + n > data.length) throw new Error("truncated OpenPGP packet")
    }
    while (pos < data.length) {
        const h = data[pos++]
        if ((h & 0x80) === 0) throw new Error("invalid OpenPGP packet header")
        if (h & 0x40) {
            const tag = h & 0x3f
            const chunks: Uint8Array[] = []
            for (;;) {
                need(1)
                const l0 = data[pos++]
                let len: number
                let partial = false
                if (l0 < 192) len = l0
                else if (l0 < 224) {
                    need(1)
                    len = ((l0 - 192) << 8) + data[pos++] + 192
                } else if (l0 === 255) {
                    need(4)
                    len = ((data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3]) >>> 0
                    pos += 4
                } else {
                    len = 1 << (l0 & 0x1f)
                    partial = true
                }
                need(len)
                chunks.push(data.subarray(pos, pos + len))
                pos += len
                if (!partial) break
            }
            out.push({ tag, body: chunks.length === 1 ? chunks[0] : new Uint8Array(Buffer.concat(chunks)) })
        } else {
            const tag = (h >> 2) & 0x0f
            const lt = h & 3
            let len: number
            if (lt === 3) len = data.length - pos
            else {
                const n = 1 << lt
                need(n)
                len = 0
                for (let i = 0; i < n; i++) len = len * 256 + data[pos + i]
                pos += n
            }
            need(len)
            out.push({ tag, body: data.subarray(pos, pos + len) })
            pos += len
        }
    }
    return out
}

interface Pkesk {
    keyId: string
    algorithm: number
    mpi: Uint8Array
}

function parsePkesk(body: Uint8Array): Pkesk | null {
    if (body.length < 12 || body[0] !== 3) return null
    const keyId = Buffer.from(body.subarray(1, 9)).toString("hex").toUpperCase()
    const algorithm = body[9]
    const bits = (body[10] << 8) | body[11]
    const len = (bits + 7) >> 3
    if (body.length < 12 + len) return null
    return { keyId, algorithm, mpi: body.subarray(12, 12 + len) }
}

const WILDCARD = "0000000000000000"

class FastPathUnavailable extends Error {}

/** The literal data of decrypted SEIPD contents (after prefix and MDC removal), inflating compression. */
function literalData(packets: Packet[], depth = 0): Uint8Array {
    for (const p of packets) {
        if (p.tag === 11) {
            const b = p.body
            if (b.length < 6) throw new Error("malformed literal data packet")
            const nameLen = b[1]
            const start = 2 + nameLen + 4
            if (start > b.length) throw new Error("malformed literal data packet")
            return new Uint8Array(b.subarray(start))
        }
        if (p.tag === 8) {
            if (depth > 0) throw new Error("nested compressed packets")
            const algo = p.body[0]
            const raw = p.body.subarray(1)
            let inner: Uint8Array
            if (algo === 0) inner = raw
            else if (algo === 1) inner = inflateRawSync(raw, { maxOutputLength: MAX_INFLATED })
            else if (algo === 2) inner = inflateSync(raw, { maxOutputLength: MAX_INFLATED })
            else throw new FastPathUnavailable(`compression algorithm ${algo}`)
            return literalData(readPackets(inner), depth + 1)
        }
        // marker, one-pass signature, signature: skip
        if (p.tag !== 10 && p.tag !== 4 && p.tag !== 2) throw new FastPathUnavailable(`packet tag ${p.tag}`)
    }
    throw new Error("no literal data packet")
}

const CFB: Record<string, string> = { aes128: "aes-128-cfb", aes192: "aes-192-cfb", aes256: "aes-256-cfb" }

/** Decrypt a SEIPD v1 body with a session key and check its MDC; returns the inner packets' bytes. */
function openSeipd(body: Uint8Array, algorithm: string, sessionKey: Uint8Array): Uint8Array {
    const cipher = CFB[algorithm]
    if (cipher === undefined) throw new FastPathUnavailable(`cipher ${algorithm}`)
    if (body.length < 1 + 18 + 22) throw new Error("SEIPD packet too short")
    const d = createDecipheriv(cipher, sessionKey, Buffer.alloc(16))
    const plain = Buffer.concat([d.update(body.subarray(1)), d.final()])
    const mdcAt = plain.length - 22
    // the MDC packet's header and its SHA-1 are checked together, without an early exit
    const digest = createHash("sha1").update(plain.subarray(0, mdcAt + 2)).digest()
    const header = ((plain[mdcAt] ^ 0xd3) | (plain[mdcAt + 1] ^ 0x14)) === 0
    if (!timingSafeEqual(digest, plain.subarray(mdcAt + 2)) || !header) {
        plain.fill(0)
        throw new Error("modification detected")
    }
    return plain.subarray(18, mdcAt)
}

async function openpgpDecrypt(
    armored: string,
    m: PgpMaterial,
    sessionKey?: { data: Uint8Array; algorithm: string },
): Promise<Uint8Array> {
    const pgp = await import("openpgp")
    const message = await pgp.readMessage({ armoredMessage: armored })
    const result = await pgp.decrypt({
        message,
        format: "binary",
        ...(sessionKey === undefined
            ? { decryptionKeys: m.openpgpKey as import("openpgp").PrivateKey }
            : { sessionKeys: { data: sessionKey.data, algorithm: sessionKey.algorithm as "aes256" } }),
    })
    return result.data as Uint8Array
}

/** `privateDecrypt` with no padding, in this thread. */
function rsaHere(key: PgpRsaKey, padded: Uint8Array): Uint8Array {
    return privateDecrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, padded)
}

async function unwrapPgp(enc: string, key: UnlockedKey, m: PgpMaterial, rsaDecrypt?: RsaDecrypt): Promise<Uint8Array | null> {
    let packets: Packet[]
    try {
        packets = readPackets(dearmorPgpMessage(enc))
    } catch (e) {
        throw fail(key, `malformed PGP message: ${(e as Error).message}`)
    }
    // only v3 PKESKs can name a v4 key; others (v6) are for other keys
    const pkesks = packets.filter((p) => p.tag === 1).map((p) => parsePkesk(p.body))
    const mine = pkesks.filter((p) => p !== null && (m.keyIds.has(p.keyId) || p.keyId === WILDCARD)) as Pkesk[]
    if (mine.length === 0) return null
    const seipd = packets.find((p) => p.tag === 18)

    // every RSA candidate yields a session key (the real one, or with bad padding a substitute): the integrity
    // check (MDC, or openpgp.js for what the fast path does not read) decides, with one error for all failures
    const sessionKeys: { data: Uint8Array; algorithm: string }[] = []
    let slowOnly = seipd === undefined || seipd.body[0] !== 1
    for (const pk of mine) {
        if (pk.algorithm !== 1 && pk.algorithm !== 2) {
            slowOnly = true
            continue
        }
        const candidates = pk.keyId === WILDCARD ? m.rsa : m.rsa.filter((r) => r.keyId === pk.keyId)
        for (const rsa of candidates) {
            if (pk.mpi.length > rsa.modulusBytes) continue
            const padded = Buffer.alloc(rsa.modulusBytes)
            padded.set(pk.mpi, rsa.modulusBytes - pk.mpi.length)
            let em: Uint8Array
            try {
                em = rsaDecrypt === undefined ? rsaHere(rsa, padded) : await rsaDecrypt(rsa, padded)
            } catch {
                if (key.wiped) throw fail(key, "the key was locked")
                continue // the ciphertext is not below the modulus (public knowledge)
            }
            if (key.wiped) {
                em.fill(0)
                throw fail(key, "the key was locked")
            }
            if (em.length !== rsa.modulusBytes) {
                em.fill(0)
                continue
            }
            const sk = decodeSessionKey(em, padded, rsa.rejectionSecret)
            em.fill(0)
            sessionKeys.push({ data: sk.key, algorithm: SYMMETRIC[sk.algorithm] })
        }
        if (candidates.length === 0) slowOnly = true
    }
    const wipeAll = () => {
        for (const sk of sessionKeys) sk.data.fill(0)
    }
    if (sessionKeys.length === 0 && !slowOnly) throw fail(key, PGP_DECRYPTION_FAILED)

    try {
        let fastPath = !slowOnly && seipd !== undefined
        if (fastPath) {
            for (const sk of sessionKeys) {
                let inner: Uint8Array
                try {
                    inner = openSeipd(seipd!.body, sk.algorithm, sk.data)
                } catch (e) {
                    if (e instanceof FastPathUnavailable) {
                        fastPath = false
                        break
                    }
                    continue // the integrity check failed: the next candidate, or the one error below
                }
                try {
                    return literalData(readPackets(inner))
                } catch (e) {
                    if (!(e instanceof FastPathUnavailable)) throw fail(key, (e as Error).message)
                    fastPath = false
                    break
                } finally {
                    inner.fill(0)
                }
            }
            if (fastPath) throw fail(key, PGP_DECRYPTION_FAILED)
        }
        if (sessionKeys.length === 0) {
            try {
                return await openpgpDecrypt(enc, m)
            } catch (e) {
                throw fail(key, (e as Error).message, e)
            }
        }
        for (const sk of sessionKeys) {
            try {
                return await openpgpDecrypt(enc, m, sk)
            } catch {
                // the next candidate, or the one error below
            }
        }
        throw fail(key, PGP_DECRYPTION_FAILED)
    } finally {
        wipeAll()
    }
}
