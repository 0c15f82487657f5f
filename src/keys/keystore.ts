/**
 * The stored-key model (what the agent persists per key in the keychain, as JSON) and the unlocked-key model
 * (usable private material held in agent memory only, wiped on eviction, lock and exit).
 */
import type { KeyObject } from "node:crypto"
import type { PrivateKey } from "openpgp"
import { ErrorKind, KsopsError } from "../errors.js"
import {
    ScryptIdentity,
    ScryptRecipient,
    ageDecryptPayload,
    ageEncrypt,
    armorDecode,
    armorEncode,
    bech32Decode,
    encodeX25519Recipient,
    isArmored,
    parseAgeFile,
    parseX25519Identity,
    x25519PrivateKey,
    x25519RawPublic,
} from "./age-format.js"
import { type RsaMaterial, rejectionSecret, rsaKeyObject } from "./pgp-openpgp.js"

/** The kinds of keys the agent keeps. */
export type StoredKeyType = "age" | "age-pq" | "pgp"

/** The key types, in display order. */
export const STORED_KEY_TYPES: readonly StoredKeyType[] = ["age", "age-pq", "pgp"]

/** What is persisted per key (JSON, one keychain entry per key, account = id). */
export interface StoredKey {
    /** Short stable id: for age the recipient, for pgp the 40-hex fingerprint (upper case). */
    id: string
    type: StoredKeyType
    /** User label (default derived from type and creation time). */
    name: string
    comment?: string
    /** RFC 3339, seconds. */
    created: string
    /** age recipient (`age1…` / `age1pq1…`) or PGP fingerprint. */
    recipient: string
    /** PGP: the armored public key (for `keys export` and `.sops.pub.asc`). */
    publicKey?: string
    /**
     * age: the identity string `AGE-SECRET-KEY-1…` / `AGE-SECRET-KEY-PQ-1…`, or an armored passphrase-encrypted
     * age file holding it; pgp: the armored private key (possibly passphrase-protected).
     */
    secret: string
    /** The secret needs a passphrase to unlock. */
    protected: boolean
}

/** Unlocked native X25519 identity. */
export interface X25519Material {
    readonly kind: "x25519"
    /** The 32-byte scalar (zeroed by wipe). */
    readonly scalar: Uint8Array
    /** The scalar as a node:crypto private key. */
    readonly privateKey: KeyObject
    /** The raw 32-byte public key. */
    readonly publicKey: Uint8Array
}

/** Unlocked hybrid post-quantum identity (handled by `age-encryption`). */
export interface HybridMaterial {
    readonly kind: "age-pq"
    /** UTF-8 of the `AGE-SECRET-KEY-PQ-1…` string (zeroed by wipe). */
    readonly identity: Uint8Array
}

/** One RSA encryption-capable (sub)key of an unlocked PGP key, ready for the fast path. */
export interface PgpRsaKey {
    /** Long key id, 16 upper-case hex digits (what a PKESK v3 names). */
    readonly keyId: string
    /** Fingerprint of this (sub)key, upper-case hex. */
    readonly fingerprint: string
    /** node:crypto RSA private key (OpenSSL does the modular exponentiation). */
    readonly privateKey: KeyObject
    /** Modulus length in bytes. */
    readonly modulusBytes: number
    /** Implicit-rejection secret derived from the private exponent (see `rejectionSecret`; zeroed by wipe). */
    readonly rejectionSecret: Uint8Array
}

/** Unlocked PGP key. */
export interface PgpMaterial {
    readonly kind: "pgp"
    /** Primary fingerprint, 40 upper-case hex digits. */
    readonly fingerprint: string
    /** RSA (sub)keys usable with node:crypto. */
    readonly rsa: readonly PgpRsaKey[]
    /**
     * The decrypted openpgp.js key (an `openpgp.PrivateKey`), for non-RSA subkeys (ECDH) and the slow path.
     * Typed loosely so that importing this module does not load openpgp.js.
     */
    readonly openpgpKey: unknown
    /** Long key ids (16 upper-case hex) of every (sub)key, for quick "is this message for me" checks. */
    readonly keyIds: ReadonlySet<string>
}

/** Usable private material. */
export type KeyMaterial = X25519Material | HybridMaterial | PgpMaterial

/** Usable private material (agent memory only); wipe() zeroes it. */
export interface UnlockedKey {
    readonly id: string
    readonly type: StoredKeyType
    readonly recipient: string
    readonly material: KeyMaterial
    /** Whether {@link wipe} has been called. */
    readonly wiped: boolean
    /** Zero every byte array of the material and drop references; the key is unusable afterwards. */
    wipe(): void
}

/** The error thrown when a passphrase is missing or wrong. */
export class PassphraseError extends KsopsError {
    constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
        super(ErrorKind.Generic, message, options)
    }
}

// ---------------------------------------------------------------------------------------------------------
// JSON

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/
const FINGERPRINT = /^(?:[0-9A-F]{40}|[0-9A-F]{64})$/

/** Serialise a stored key (fixed field order; what a keychain entry holds). */
export function storedKeyToJson(k: StoredKey): string {
    const out: Record<string, unknown> = {
        id: k.id,
        type: k.type,
        name: k.name,
        ...(k.comment === undefined ? {} : { comment: k.comment }),
        created: k.created,
        recipient: k.recipient,
        ...(k.publicKey === undefined ? {} : { publicKey: k.publicKey }),
        secret: k.secret,
        protected: k.protected,
    }
    return JSON.stringify(out)
}

function invalid(why: string): KsopsError {
    return new KsopsError(ErrorKind.Format, `invalid stored key: ${why}`)
}

/**
 * Parse and validate a stored key (a keychain entry).
 * @throws KsopsError (kind format) saying which field is wrong; never echoes the secret.
 */
export function parseStoredKey(json: string): StoredKey {
    let v: unknown
    try {
        v = JSON.parse(json)
    } catch {
        throw invalid("not JSON")
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid("not an object")
    const o = v as Record<string, unknown>
    const str = (name: string, optional = false): string | undefined => {
        const x = o[name]
        if (x === undefined && optional) return undefined
        if (typeof x !== "string") throw invalid(`"${name}" must be a string`)
        return x
    }
    const type = str("type")!
    if (!(STORED_KEY_TYPES as readonly string[]).includes(type)) throw invalid(`unknown type "${type}"`)
    const id = str("id")!
    const name = str("name")!
    const comment = str("comment", true)
    const created = str("created")!
    const recipient = str("recipient")!
    const publicKey = str("publicKey", true)
    const secret = str("secret")!
    if (typeof o.protected !== "boolean") throw invalid(`"protected" must be a boolean`)
    if (!RFC3339.test(created)) throw invalid(`"created" is not an RFC 3339 time`)
    if (secret === "") throw invalid(`"secret" is empty`)
    if (type === "pgp") {
        if (!FINGERPRINT.test(id)) throw invalid(`pgp id "${id}" is not an upper-case fingerprint`)
        if (recipient !== id) throw invalid(`pgp recipient "${recipient}" differs from id "${id}"`)
        if (!secret.includes("-----BEGIN PGP PRIVATE KEY BLOCK-----")) throw invalid("pgp secret is not an armored private key")
        if (publicKey !== undefined && !publicKey.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
            throw invalid("pgp publicKey is not an armored public key")
        }
    } else {
        const hrp = type === "age" ? "age" : "age1pq"
        const d = bech32Decode(recipient)
        if (d === null || d.hrp !== hrp || recipient !== recipient.toLowerCase()) {
            throw invalid(`"${displayId(recipient)}" is not an ${type} recipient`)
        }
        if (id !== recipient) throw invalid(`age id "${displayId(id)}" differs from recipient`)
        const armored = isArmored(secret)
        if (armored !== o.protected) {
            throw invalid(o.protected ? "protected age secret is not an encrypted age file" : "unprotected age secret is encrypted")
        }
        if (!armored) {
            const prefix = type === "age" ? "AGE-SECRET-KEY-1" : "AGE-SECRET-KEY-PQ-1"
            if (!secret.startsWith(prefix)) throw invalid(`${type} secret is not an ${prefix}… identity`)
        }
    }
    const out: StoredKey = { id, type: type as StoredKeyType, name, created, recipient, secret, protected: o.protected }
    if (comment !== undefined) out.comment = comment
    if (publicKey !== undefined) out.publicKey = publicKey
    return out
}

// ---------------------------------------------------------------------------------------------------------
// passphrase-encrypted age files

/** Encrypt bytes to a passphrase as an armored age file (scrypt recipient; `logN` lowers the work factor in tests). */
export function sealWithPassphrase(plaintext: Uint8Array, passphrase: string, logN?: number): string {
    return armorEncode(ageEncrypt(plaintext, [new ScryptRecipient(passphrase, logN)]))
}

/** Whether bytes or text are an age file (binary or armored). */
export function isAgeFile(data: Uint8Array | string): boolean {
    if (typeof data === "string") return isArmored(data) || data.startsWith("age-encryption.org/v1\n")
    const head = Buffer.from(data.subarray(0, 34)).toString("latin1")
    return head.startsWith("age-encryption.org/v1\n") || head.trimStart().startsWith("-----BEGIN AGE ENCRYPTED FILE-----")
}

/**
 * Decrypt a passphrase-encrypted age file (binary or armored).
 * @throws PassphraseError on a wrong passphrase; KsopsError when the file is not scrypt-encrypted or malformed.
 */
export function openWithPassphrase(data: Uint8Array | string, passphrase: string): Uint8Array {
    let file: ReturnType<typeof parseAgeFile>
    try {
        const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : Buffer.from(data)
        const head = bytes.subarray(0, 64).toString("latin1")
        file = parseAgeFile(isArmored(head) ? armorDecode(bytes.toString("latin1")) : new Uint8Array(bytes))
    } catch (e) {
        throw new KsopsError(ErrorKind.Format, `malformed age file: ${(e as Error).message}`)
    }
    let fileKey: Uint8Array | null
    try {
        fileKey = new ScryptIdentity(passphrase).unwrap(file.stanzas)
    } catch (e) {
        const msg = (e as Error).message
        if (msg === "incorrect passphrase") {
            throw new PassphraseError("incorrect passphrase", { hint: "check the passphrase and try again" })
        }
        throw new KsopsError(ErrorKind.Format, `cannot open passphrase-encrypted age file: ${msg}`)
    }
    if (fileKey === null) throw new KsopsError(ErrorKind.Format, "age file is not passphrase-encrypted (no scrypt stanza)")
    try {
        return ageDecryptPayload(file, fileKey)
    } catch (e) {
        throw new KsopsError(ErrorKind.Format, `cannot decrypt age file: ${(e as Error).message}`)
    } finally {
        fileKey.fill(0)
    }
}

/** The identity lines of an identity file (comments and blank lines dropped). */
export function identityLines(text: string): string[] {
    return text
        .split("\n")
        .map((l) => l.replace(/\r$/, "").trim())
        .filter((l) => l !== "" && !l.startsWith("#"))
}

// ---------------------------------------------------------------------------------------------------------
// unlocking

const textEncoder = new TextEncoder()

type OpenPGP = typeof import("openpgp")

/** A key id short enough for messages (hybrid recipients are ~1,900 characters). */
export function displayId(id: string): string {
    return id.length > 64 ? `${id.slice(0, 24)}…${id.slice(-8)}` : id
}

function locked(id: string, why: string, cause?: unknown): PassphraseError {
    return new PassphraseError(`cannot unlock key ${displayId(id)}: ${why}`, {
        cause,
        hint: "give the key's passphrase (kubectl sops agent unlock)",
    })
}

function malformed(id: string, why: string): KsopsError {
    return new KsopsError(ErrorKind.Generic, `cannot unlock key ${displayId(id)}: ${why}`)
}

/** The age recipient of an identity string (X25519 natively, hybrid via age-encryption). */
export async function ageRecipientOf(identity: string): Promise<string> {
    if (identity.startsWith("AGE-SECRET-KEY-PQ-1")) {
        const { identityToRecipient } = await import("age-encryption")
        return identityToRecipient(identity)
    }
    const scalar = parseX25519Identity(identity)
    if (scalar === null) throw new Error("malformed age identity")
    const pub = x25519RawPublic(x25519PrivateKey(scalar))
    scalar.fill(0)
    return encodeX25519Recipient(pub)
}

async function unlockedAge(k: StoredKey, identity: string): Promise<UnlockedKey> {
    let material: X25519Material | HybridMaterial
    if (k.type === "age-pq") {
        const d = bech32Decode(identity)
        if (!identity.startsWith("AGE-SECRET-KEY-PQ-1") || d === null || d.hrp !== "age-secret-key-pq-") {
            throw malformed(k.id, "the secret is not a hybrid age identity")
        }
        if ((await ageRecipientOf(identity)) !== k.recipient) {
            throw malformed(k.id, "the secret does not belong to the recipient")
        }
        material = { kind: "age-pq", identity: textEncoder.encode(identity) }
    } else {
        const scalar = parseX25519Identity(identity)
        if (scalar === null) throw malformed(k.id, "the secret is not an X25519 age identity")
        const privateKey = x25519PrivateKey(scalar)
        const publicKey = x25519RawPublic(privateKey)
        if (encodeX25519Recipient(publicKey) !== k.recipient) {
            scalar.fill(0)
            throw malformed(k.id, "the secret does not belong to the recipient")
        }
        material = { kind: "x25519", scalar, privateKey, publicKey }
    }
    return makeUnlocked(k, material, () => {
        if (material.kind === "x25519") material.scalar.fill(0)
        else material.identity.fill(0)
    })
}

function makeUnlocked(k: StoredKey, material: KeyMaterial, zero: () => void): UnlockedKey {
    let wiped = false
    return {
        id: k.id,
        type: k.type,
        recipient: k.recipient,
        material,
        get wiped() {
            return wiped
        },
        wipe() {
            if (wiped) return
            wiped = true
            zero()
        },
    }
}

/** Long key id of an openpgp.js key or subkey, upper case. */
function keyIdHex(k: { getKeyID(): { toHex(): string } }): string {
    return k.getKeyID().toHex().toUpperCase()
}

/** Build PGP material from a decrypted openpgp.js private key. */
export function pgpMaterial(key: PrivateKey): PgpMaterial {
    const rsa: PgpRsaKey[] = []
    const keyIds = new Set<string>()
    for (const k of [key, ...key.subkeys]) {
        keyIds.add(keyIdHex(k))
        const packet = k.keyPacket as unknown as RsaMaterial & { algorithm: number }
        if (packet.algorithm !== 1 && packet.algorithm !== 2) continue
        const privateKey = rsaKeyObject(packet)
        const d = packet.privateParams?.d
        if (privateKey === null || d === undefined) continue
        rsa.push({
            keyId: keyIdHex(k),
            fingerprint: k.getFingerprint().toUpperCase(),
            privateKey,
            modulusBytes: Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8),
            rejectionSecret: rejectionSecret(d),
        })
    }
    // encryption subkeys first: that is where gpg and openpgp.js encrypt to
    rsa.reverse()
    return { kind: "pgp", fingerprint: key.getFingerprint().toUpperCase(), rsa, openpgpKey: key, keyIds }
}

async function unlockPgp(k: StoredKey, passphrase: string | undefined): Promise<UnlockedKey> {
    const pgp: OpenPGP = await import("openpgp")
    let key: PrivateKey
    try {
        key = await pgp.readPrivateKey({ armoredKey: k.secret })
    } catch (e) {
        throw malformed(k.id, `malformed private key: ${(e as Error).message}`)
    }
    if (key.getFingerprint().toUpperCase() !== k.id) throw malformed(k.id, "the secret key has another fingerprint")
    if (!key.isDecrypted()) {
        if (passphrase === undefined) throw locked(k.id, "the key is passphrase-protected")
        try {
            key = await pgp.decryptKey({ privateKey: key, passphrase })
        } catch (e) {
            throw locked(k.id, "incorrect passphrase", e)
        }
    }
    const material = pgpMaterial(key)
    return makeUnlocked(k, material, () => {
        for (const r of material.rsa) r.rejectionSecret.fill(0)
        ;(key as unknown as { clearPrivateParams(): void }).clearPrivateParams()
    })
}

/**
 * Unlock a stored key: decrypt its secret (with the passphrase when protected) and build usable material.
 * A passphrase given for an unprotected key is ignored.
 * @throws PassphraseError when the passphrase is missing or wrong; KsopsError when the secret is malformed.
 */
export async function unlockKey(k: StoredKey, passphrase?: string): Promise<UnlockedKey> {
    if (k.type === "pgp") return unlockPgp(k, passphrase)
    let identity = k.secret.trim()
    if (k.protected || isArmored(k.secret)) {
        if (passphrase === undefined) throw locked(k.id, "the key is passphrase-protected")
        let plain: Uint8Array
        try {
            plain = openWithPassphrase(k.secret, passphrase)
        } catch (e) {
            if (e instanceof PassphraseError) throw locked(k.id, "incorrect passphrase", e)
            throw e
        }
        const lines = identityLines(Buffer.from(plain).toString("utf8"))
        plain.fill(0)
        if (lines.length !== 1) throw malformed(k.id, `the encrypted secret holds ${lines.length} identities, not 1`)
        identity = lines[0]
    }
    return unlockedAge(k, identity)
}
