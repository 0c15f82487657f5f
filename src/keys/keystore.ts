/**
 * The stored-key model (what the agent persists per key in the keychain, as JSON) and the unlocked-key model
 * (usable private material held in agent memory only, wiped on eviction, lock and exit).
 */
import type { KeyObject } from "node:crypto"
import { ErrorKind, KsopsError } from "../errors.js"

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

/**
 * Unlock a stored key: decrypt its secret (with the passphrase when protected) and build usable material.
 * @throws PassphraseError when the passphrase is missing or wrong; KsopsError when the secret is malformed.
 */
export async function unlockKey(k: StoredKey, passphrase?: string): Promise<UnlockedKey> {
    void k
    void passphrase
    throw new KsopsError(ErrorKind.Generic, "unlockKey: not implemented yet")
}
