/**
 * The age v1 file format (age-encryption.org/v1) on `node:crypto` only: bech32 key encoding, the X25519 and
 * scrypt recipient types, the header with its HMAC, the STREAM payload and the ASCII armor. Written from the
 * age specification so that the common path (X25519) needs no third-party import at start-up.
 */
import {
    type KeyObject,
    createCipheriv,
    createDecipheriv,
    createHmac,
    createPrivateKey,
    createPublicKey,
    diffieHellman,
    generateKeyPair,
    generateKeyPairSync,
    hkdfSync,
    randomBytes,
    scryptSync,
    timingSafeEqual,
} from "node:crypto"

/** One recipient stanza of an age header: its arguments (the first is the type) and its raw body. */
export interface Stanza {
    readonly args: readonly string[]
    readonly body: Uint8Array
}

/** Something that turns a file key into header stanzas. */
export interface AgeRecipient {
    wrap(fileKey: Uint8Array): Stanza[]
}

/**
 * Something that may recover the file key from a header's stanzas.
 * Returns null when no stanza is meant for it; throws when a stanza is meant for it but cannot be used.
 */
export interface AgeIdentity {
    unwrap(stanzas: readonly Stanza[], header: Uint8Array): Uint8Array | null | Promise<Uint8Array | null>
}

const enc = new TextEncoder()
const dec = new TextDecoder()

// ---------------------------------------------------------------------------------------------------------
// bech32 (BIP 173 checksum, no length limit, as age uses it)

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
const GENERATORS = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]

function polymod(values: readonly number[]): number {
    let chk = 1
    for (const v of values) {
        const top = chk >>> 25
        chk = ((chk & 0x1ffffff) << 5) ^ v
        for (let i = 0; i < 5; i++) {
            if ((top >>> i) & 1) chk ^= GENERATORS[i]
        }
    }
    return chk >>> 0
}

function hrpExpand(hrp: string): number[] {
    const out: number[] = []
    for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5)
    out.push(0)
    for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31)
    return out
}

function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | null {
    let acc = 0
    let bits = 0
    const out: number[] = []
    const max = (1 << to) - 1
    for (let i = 0; i < data.length; i++) {
        acc = (acc << from) | data[i]
        bits += from
        while (bits >= to) {
            bits -= to
            out.push((acc >> bits) & max)
        }
        acc &= (1 << bits) - 1
    }
    if (pad) {
        if (bits > 0) out.push((acc << (to - bits)) & max)
    } else if (bits >= from || acc !== 0) {
        return null
    }
    return out
}

/** Encode bytes as bech32 with the given human-readable part (lowercase). */
export function bech32Encode(hrp: string, data: Uint8Array): string {
    const words = convertBits(data, 8, 5, true)!
    const check = polymod([...hrpExpand(hrp), ...words, 0, 0, 0, 0, 0, 0]) ^ 1
    let out = `${hrp}1`
    for (const w of words) out += CHARSET[w]
    for (let i = 0; i < 6; i++) out += CHARSET[(check >>> (5 * (5 - i))) & 31]
    return out
}

/** Decode a bech32 string (all lowercase or all uppercase). Returns null if malformed. */
export function bech32Decode(s: string): { hrp: string; data: Uint8Array } | null {
    if (s !== s.toLowerCase() && s !== s.toUpperCase()) return null
    const lower = s.toLowerCase()
    const sep = lower.lastIndexOf("1")
    if (sep < 1 || sep + 7 > lower.length) return null
    const hrp = lower.slice(0, sep)
    for (let i = 0; i < hrp.length; i++) {
        const c = hrp.charCodeAt(i)
        if (c < 33 || c > 126) return null
    }
    const words: number[] = []
    for (const ch of lower.slice(sep + 1)) {
        const v = CHARSET.indexOf(ch)
        if (v < 0) return null
        words.push(v)
    }
    if (polymod([...hrpExpand(hrp), ...words]) !== 1) return null
    const bytes = convertBits(words.slice(0, -6), 5, 8, false)
    if (bytes === null) return null
    return { hrp, data: Uint8Array.from(bytes) }
}

// ---------------------------------------------------------------------------------------------------------
// primitives

/** Strict unpadded standard base64, as age uses in headers. */
export function b64Encode(data: Uint8Array): string {
    return Buffer.from(data).toString("base64").replace(/=+$/, "")
}

/** Decode strict unpadded base64; null if not canonical. */
export function b64Decode(s: string): Uint8Array | null {
    if (!/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) return null
    const out = Buffer.from(s, "base64")
    if (b64Encode(out) !== s) return null
    return new Uint8Array(out)
}

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length = 32): Uint8Array {
    return new Uint8Array(hkdfSync("sha256", ikm, salt, enc.encode(info), length))
}

const ZERO_NONCE = new Uint8Array(12)

function aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 })
    const out = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()])
    return new Uint8Array(out)
}

/** ChaCha20-Poly1305 open; null on authentication failure. */
function aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < 16) return null
    const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 })
    d.setAuthTag(sealed.subarray(sealed.length - 16))
    try {
        const out = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()])
        return new Uint8Array(out)
    } catch {
        return null
    }
}

const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex")
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex")

/** An X25519 private KeyObject from 32 raw scalar bytes (clamping happens inside the operation). */
export function x25519PrivateKey(scalar: Uint8Array): KeyObject {
    return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: "der", type: "pkcs8" })
}

const publicKeys = new Map<string, KeyObject>()

/** An X25519 public KeyObject from 32 raw bytes (cached: a bulk run wraps for the same recipients again and again). */
export function x25519PublicKey(point: Uint8Array): KeyObject {
    const id = Buffer.from(point).toString("hex")
    let key = publicKeys.get(id)
    if (!key) {
        key = createPublicKey({ key: Buffer.concat([SPKI_X25519, point]), format: "der", type: "spki" })
        if (publicKeys.size > 256) publicKeys.clear()
        publicKeys.set(id, key)
    }
    return key
}



/** Raw 32 public bytes of an X25519 KeyObject (private or public). */
export function x25519RawPublic(key: KeyObject): Uint8Array {
    const pub = key.type === "private" ? createPublicKey(key) : key
    const der = pub.export({ format: "der", type: "spki" })
    return new Uint8Array(der.subarray(der.length - 32))
}

/** X25519(scalar, point); throws on an all-zero result (low-order point). */
export function x25519(priv: KeyObject, point: Uint8Array): Uint8Array {
    let shared: Buffer
    try {
        shared = diffieHellman({ privateKey: priv, publicKey: x25519PublicKey(point) })
    } catch {
        throw new Error("invalid X25519 share")
    }
    if (shared.every((b) => b === 0)) throw new Error("invalid X25519 share")
    return new Uint8Array(shared)
}

/** A fresh ephemeral X25519 key pair: the private KeyObject and the raw public share. */
export function x25519Ephemeral(): { priv: KeyObject; share: Uint8Array } {
    ephemeralCalls++
    const spare = spareEphemerals.pop()
    if (ephemeralCalls > 1) refillEphemerals()
    return spare ?? makeEphemeral()
}

function makeEphemeral(): { priv: KeyObject; share: Uint8Array } {
    // one OpenSSL call gives the private KeyObject and the public key's DER (its last 32 bytes are the share)
    const { privateKey, publicKey } = generateKeyPairSync("x25519", {
        publicKeyEncoding: { type: "spki", format: "der" },
    } as object) as unknown as { privateKey: KeyObject; publicKey: Buffer }
    return { priv: privateKey, share: new Uint8Array(publicKey.subarray(publicKey.length - 32)) }
}

/**
 * Bulk runs wrap a data key per file: from the second wrap on, a few ephemeral key pairs are generated ahead in
 * the thread pool (another core) while this thread does the rest. Each pair is used once.
 */
const spareEphemerals: { priv: KeyObject; share: Uint8Array }[] = []
let ephemeralCalls = 0
let ephemeralsPending = 0

function refillEphemerals(): void {
    while (spareEphemerals.length + ephemeralsPending < 32) {
        ephemeralsPending++
        generateKeyPair("x25519", { publicKeyEncoding: { type: "spki", format: "der" } } as object as never, (error: Error | null, publicKey: unknown, privateKey: unknown) => {
            ephemeralsPending--
            if (error) return
            const der = publicKey as Buffer
            spareEphemerals.push({ priv: privateKey as KeyObject, share: new Uint8Array(der.subarray(der.length - 32)) })
        })
    }
}

/** Wrap a 16-byte file key under a 32-byte key with ChaCha20-Poly1305 and the zero nonce. */
export function wrapFileKey(key: Uint8Array, fileKey: Uint8Array): Uint8Array {
    return aeadSeal(key, ZERO_NONCE, fileKey)
}

/** Unwrap a file key; null if authentication fails. */
export function unwrapFileKey(key: Uint8Array, body: Uint8Array): Uint8Array | null {
    if (body.length !== 32) return null
    return aeadOpen(key, ZERO_NONCE, body)
}

export { hkdf }

// ---------------------------------------------------------------------------------------------------------
// X25519 recipients and identities

const X25519_LABEL = "age-encryption.org/v1/X25519"

/** Parse an `age1…` X25519 recipient into its 32-byte public key; null if malformed. */
const parsedRecipients = new Map<string, Uint8Array | null>()

export function parseX25519Recipient(s: string): Uint8Array | null {
    // a bulk run wraps for the same few recipients a thousand times
    const hit = parsedRecipients.get(s)
    if (hit !== undefined) return hit
    const key = parseX25519RecipientUncached(s)
    if (parsedRecipients.size < 256) parsedRecipients.set(s, key)
    return key
}

function parseX25519RecipientUncached(s: string): Uint8Array | null {
    const d = bech32Decode(s)
    if (d === null || d.hrp !== "age" || d.data.length !== 32 || s !== s.toLowerCase()) return null
    return d.data
}

/** Parse an `AGE-SECRET-KEY-1…` identity into its 32-byte scalar; null if malformed. */
export function parseX25519Identity(s: string): Uint8Array | null {
    const d = bech32Decode(s)
    if (d === null || d.hrp !== "age-secret-key-" || d.data.length !== 32 || s !== s.toUpperCase()) return null
    return d.data
}

/** Encode a 32-byte X25519 public key as an `age1…` recipient. */
export function encodeX25519Recipient(pub: Uint8Array): string {
    return bech32Encode("age", pub)
}

/** Encode a 32-byte X25519 scalar as an `AGE-SECRET-KEY-1…` identity. */
export function encodeX25519Identity(scalar: Uint8Array): string {
    return bech32Encode("age-secret-key-", scalar).toUpperCase()
}

/** The native X25519 recipient. */
export class X25519Recipient implements AgeRecipient {
    readonly #pub: Uint8Array

    constructor(pub: Uint8Array) {
        this.#pub = pub
    }

    wrap(fileKey: Uint8Array): Stanza[] {
        const eph = x25519Ephemeral()
        const shared = x25519(eph.priv, this.#pub)
        const key = hkdf(shared, Buffer.concat([eph.share, this.#pub]), X25519_LABEL)
        return [{ args: ["X25519", b64Encode(eph.share)], body: wrapFileKey(key, fileKey) }]
    }
}

/** The native X25519 identity. */
export class X25519Identity implements AgeIdentity {
    readonly #priv: KeyObject
    readonly #pub: Uint8Array

    constructor(scalar: Uint8Array) {
        this.#priv = x25519PrivateKey(scalar)
        this.#pub = x25519RawPublic(this.#priv)
    }

    /** The `age1…` recipient of this identity. */
    get recipient(): string {
        return encodeX25519Recipient(this.#pub)
    }

    unwrap(stanzas: readonly Stanza[]): Uint8Array | null {
        for (const s of stanzas) {
            if (s.args[0] !== "X25519") continue
            const share = s.args.length === 2 ? b64Decode(s.args[1]) : null
            if (share === null || share.length !== 32 || s.body.length !== 32) {
                throw new Error("invalid X25519 recipient stanza")
            }
            const shared = x25519(this.#priv, share)
            const key = hkdf(shared, Buffer.concat([share, this.#pub]), X25519_LABEL)
            const fileKey = unwrapFileKey(key, s.body)
            if (fileKey !== null) return fileKey
        }
        return null
    }
}

/** The scrypt work factor age uses by default (log2 N). */
export const SCRYPT_DEFAULT_LOG_N = 18

/** The native scrypt (passphrase) recipient: must be the only recipient of a file. */
export class ScryptRecipient implements AgeRecipient {
    readonly #passphrase: string
    readonly #logN: number

    constructor(passphrase: string, logN = SCRYPT_DEFAULT_LOG_N) {
        if (!Number.isInteger(logN) || logN < 1 || logN > 22) throw new Error(`invalid scrypt work factor: ${logN}`)
        this.#passphrase = passphrase
        this.#logN = logN
    }

    wrap(fileKey: Uint8Array): Stanza[] {
        const salt = randomBytes(16)
        const N = 2 ** this.#logN
        const key = scryptSync(
            this.#passphrase,
            Buffer.concat([enc.encode("age-encryption.org/v1/scrypt"), salt]),
            32,
            { N, r: 8, p: 1, maxmem: 128 * 8 * N + 4 * 1024 * 1024 },
        )
        return [{ args: ["scrypt", b64Encode(salt), String(this.#logN)], body: wrapFileKey(key, fileKey) }]
    }
}

/** The native scrypt (passphrase) identity, used for passphrase-protected identity files. */
export class ScryptIdentity implements AgeIdentity {
    readonly #passphrase: string

    constructor(passphrase: string) {
        this.#passphrase = passphrase
    }

    unwrap(stanzas: readonly Stanza[]): Uint8Array | null {
        const scrypt = stanzas.filter((s) => s.args[0] === "scrypt")
        if (scrypt.length === 0) return null
        if (stanzas.length !== 1) throw new Error("an scrypt recipient must be the only one")
        const s = scrypt[0]
        const salt = s.args.length === 3 ? b64Decode(s.args[1]) : null
        if (salt === null || salt.length !== 16 || !/^[1-9][0-9]?$/.test(s.args[2])) {
            throw new Error("invalid scrypt recipient stanza")
        }
        const logN = Number(s.args[2])
        if (logN > 22) throw new Error(`scrypt work factor too high: ${logN}`)
        const N = 2 ** logN
        const key = scryptSync(
            this.#passphrase,
            Buffer.concat([enc.encode("age-encryption.org/v1/scrypt"), salt]),
            32,
            { N, r: 8, p: 1, maxmem: 128 * 8 * N + 4 * 1024 * 1024 },
        )
        const fileKey = unwrapFileKey(key, s.body)
        if (fileKey === null) throw new Error("incorrect passphrase")
        return fileKey
    }
}

// ---------------------------------------------------------------------------------------------------------
// file format

const VERSION_LINE = "age-encryption.org/v1"
const CHUNK = 64 * 1024

/** A parsed binary age file. */
export interface ParsedAgeFile {
    readonly stanzas: Stanza[]
    /** The header up to and including `---` (the HMAC input). */
    readonly headerNoMac: Uint8Array
    /** The whole header including the MAC line (what `decryptHeader` of other implementations takes). */
    readonly header: Uint8Array
    readonly mac: Uint8Array
    readonly payload: Uint8Array
}

/** Parse a binary age v1 file. */
export function parseAgeFile(file: Uint8Array): ParsedAgeFile {
    let pos = 0
    const readLine = (): string => {
        const nl = file.indexOf(0x0a, pos)
        if (nl < 0) throw new Error("invalid age header: unexpected end of header")
        const line = dec.decode(file.subarray(pos, nl))
        pos = nl + 1
        return line
    }
    if (readLine() !== VERSION_LINE) throw new Error("invalid age header: unknown version")
    const stanzas: Stanza[] = []
    for (;;) {
        const lineStart = pos
        const line = readLine()
        if (line.startsWith("--- ")) {
            const mac = b64Decode(line.slice(4))
            if (mac === null || mac.length !== 32) throw new Error("invalid age header: malformed MAC")
            return {
                stanzas,
                headerNoMac: file.subarray(0, lineStart + 3),
                header: file.subarray(0, pos),
                mac,
                payload: file.subarray(pos),
            }
        }
        const args = line.split(" ")
        if (args.length < 2 || args[0] !== "->" || args.slice(1).some((a) => a.length === 0)) {
            throw new Error("invalid age header: malformed stanza")
        }
        const parts: Uint8Array[] = []
        for (;;) {
            const bodyLine = readLine()
            const chunk = b64Decode(bodyLine)
            if (chunk === null || bodyLine.length > 64) throw new Error("invalid age header: malformed stanza body")
            parts.push(chunk)
            if (bodyLine.length < 64) break
        }
        stanzas.push({ args: args.slice(1), body: new Uint8Array(Buffer.concat(parts)) })
    }
}

function encodeHeaderNoMac(stanzas: readonly Stanza[]): Uint8Array {
    let out = `${VERSION_LINE}\n`
    for (const s of stanzas) {
        out += `-> ${s.args.join(" ")}\n`
        const body = b64Encode(s.body)
        for (let i = 0; i < body.length; i += 64) out += `${body.slice(i, i + 64)}\n`
        if (body.length % 64 === 0) out += "\n"
    }
    out += "---"
    return enc.encode(out)
}

function headerMac(fileKey: Uint8Array, headerNoMac: Uint8Array): Uint8Array {
    const key = hkdf(fileKey, new Uint8Array(0), "header")
    return new Uint8Array(createHmac("sha256", key).update(headerNoMac).digest())
}

function streamNonce(counter: number, last: boolean): Uint8Array {
    const n = new Uint8Array(12)
    let c = counter
    for (let i = 10; i >= 0 && c > 0; i--) {
        n[i] = c & 0xff
        c = Math.floor(c / 256)
    }
    n[11] = last ? 1 : 0
    return n
}

/** CSPRNG bytes for small values from a pool refilled 4 KiB at a time; each value is copied out and zeroed. */
let randomPool = Buffer.alloc(0)
let randomOffset = 0
function smallRandom(n: number): Buffer {
    if (randomOffset + n > randomPool.length) {
        randomPool.fill(0)
        randomPool = randomBytes(4096)
        randomOffset = 0
    }
    const out = Buffer.from(randomPool.subarray(randomOffset, randomOffset + n))
    randomPool.fill(0, randomOffset, randomOffset + n)
    randomOffset += n
    return out
}

/** Encrypt `plaintext` to the recipients: the binary age file. */
export function ageEncrypt(plaintext: Uint8Array, recipients: readonly AgeRecipient[]): Uint8Array {
    const fileKey = smallRandom(16)
    const stanzas = recipients.flatMap((r) => r.wrap(fileKey))
    const headerNoMac = encodeHeaderNoMac(stanzas)
    const mac = headerMac(fileKey, headerNoMac)
    const nonce = smallRandom(16)
    const key = hkdf(fileKey, nonce, "payload")
    const parts: Uint8Array[] = [headerNoMac, enc.encode(` ${b64Encode(mac)}\n`), nonce]
    let counter = 0
    for (let off = 0; ; off += CHUNK) {
        const last = off + CHUNK >= plaintext.length
        parts.push(aeadSeal(key, streamNonce(counter++, last), plaintext.subarray(off, off + CHUNK)))
        if (last) break
    }
    return new Uint8Array(Buffer.concat(parts))
}

/** Decrypt a parsed file's payload with a recovered file key, after checking the header MAC. */
export function ageDecryptPayload(file: ParsedAgeFile, fileKey: Uint8Array): Uint8Array {
    const mac = headerMac(fileKey, file.headerNoMac)
    if (!timingSafeEqual(mac, file.mac)) throw new Error("bad header MAC")
    const payload = file.payload
    if (payload.length < 16) throw new Error("failed to read nonce: payload too short")
    const key = hkdf(fileKey, payload.subarray(0, 16), "payload")
    const body = payload.subarray(16)
    const out: Uint8Array[] = []
    let counter = 0
    let off = 0
    for (;;) {
        const remaining = body.length - off
        const last = remaining <= CHUNK + 16
        const size = last ? remaining : CHUNK + 16
        const plain = aeadOpen(key, streamNonce(counter, last), body.subarray(off, off + size))
        if (plain === null) throw new Error("failed to decrypt and authenticate payload chunk")
        if (last && plain.length === 0 && counter > 0) throw new Error("failed to decrypt payload: last chunk is empty")
        out.push(plain)
        if (last) break
        off += size
        counter++
    }
    return new Uint8Array(Buffer.concat(out))
}

// ---------------------------------------------------------------------------------------------------------
// armor

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
const ARMOR_END = "-----END AGE ENCRYPTED FILE-----"

/** ASCII-armor a binary age file: 64-column padded base64, with a final newline (as sops stores `enc`). */
export function armorEncode(file: Uint8Array): string {
    const b64 = Buffer.from(file).toString("base64")
    let out = `${ARMOR_BEGIN}\n`
    for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`
    return `${out}${ARMOR_END}\n`
}

/** Whether a text looks like an armored age file. */
export function isArmored(text: string): boolean {
    return text.trimStart().startsWith(ARMOR_BEGIN)
}

/** Decode an armored age file (surrounding whitespace and CRLF tolerated). */
export function armorDecode(text: string): Uint8Array {
    const lines = text.trim().replaceAll("\r\n", "\n").split("\n")
    if (lines[0].trim() !== ARMOR_BEGIN) throw new Error("invalid armor: missing header")
    if (lines.length < 2 || lines[lines.length - 1].trim() !== ARMOR_END) {
        throw new Error("invalid armor: missing footer")
    }
    const body = lines
        .slice(1, -1)
        .map((l) => l.trim())
        .join("")
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw new Error("invalid armor: bad base64")
    return new Uint8Array(Buffer.from(body, "base64"))
}
