/**
 * Key generation for the agent: age X25519 (native), age hybrid post-quantum (`age-encryption`, loaded lazily)
 * and OpenPGP with the Flux guide's parameters (RSA 4096 primary + RSA 4096 encryption subkey, no expiry,
 * user id "<name> (flux secrets)"), through openpgp.js (loaded lazily). With a passphrase, an age secret is
 * stored as a passphrase-encrypted (scrypt) armored age file and a PGP key is encrypted by openpgp.js.
 */
import { randomBytes } from "node:crypto"
import { UsageError } from "../errors.js"
import { encodeX25519Identity, encodeX25519Recipient, x25519PrivateKey, x25519RawPublic } from "./age-format.js"
import { STORED_KEY_TYPES, type StoredKey, type StoredKeyType, sealWithPassphrase } from "./keystore.js"

/** The PGP user id name when none is given. */
export const DEFAULT_PGP_NAME = "kubectl-sops"
/** The PGP user id comment when none is given (the Flux guide's `Name-Comment`). */
export const DEFAULT_PGP_COMMENT = "flux secrets"
/** RSA modulus size of generated PGP keys (primary and subkey). */
export const PGP_RSA_BITS = 4096

/** What to generate. */
export interface GenerateOptions {
    type: StoredKeyType
    /** User label; for PGP also the user id name (default "kubectl-sops"). */
    name?: string
    /** Comment; for PGP also the user id comment (default "flux secrets"). */
    comment?: string
    /** Protect the stored secret with this passphrase. */
    passphrase?: string
    /** Creation time. */
    now: Date
    /** scrypt work factor (log2 N) for passphrase-protected age secrets; age's default (18) when absent. */
    scryptLogN?: number
}

/** RFC 3339 with whole seconds, UTC. */
export function rfc3339Seconds(d: Date): string {
    return d.toISOString().replace(/\.\d{3}Z$/, "Z")
}

/** The text of an age identity file as age-keygen writes it. */
export function ageIdentityFile(identity: string, recipient: string, created: string): string {
    return `# created: ${created}\n# public key: ${recipient}\n${identity}\n`
}

/**
 * Generate a key.
 * @throws UsageError for an unknown type or an empty passphrase.
 */
export async function generateKey(options: GenerateOptions): Promise<StoredKey> {
    const { type, passphrase, now } = options
    if (!STORED_KEY_TYPES.includes(type)) {
        throw new UsageError(`unknown key type "${String(type)}": expected ${STORED_KEY_TYPES.join(", ")}`)
    }
    if (passphrase === "") throw new UsageError("empty passphrase: give a passphrase or none")
    const created = rfc3339Seconds(now)
    if (type === "pgp") return generatePgp(options, created)

    let identity: string
    let recipient: string
    if (type === "age") {
        const scalar = randomBytes(32)
        identity = encodeX25519Identity(scalar)
        recipient = encodeX25519Recipient(x25519RawPublic(x25519PrivateKey(scalar)))
        scalar.fill(0)
    } else {
        const age = await import("age-encryption")
        identity = await age.generateHybridIdentity()
        recipient = await age.identityToRecipient(identity)
    }
    let secret = identity
    if (passphrase !== undefined) {
        const plain = Buffer.from(ageIdentityFile(identity, recipient, created), "utf8")
        secret = sealWithPassphrase(plain, passphrase, options.scryptLogN)
        plain.fill(0)
    }
    const key: StoredKey = {
        id: recipient,
        type,
        name: options.name ?? `${type} ${created}`,
        created,
        recipient,
        secret,
        protected: passphrase !== undefined,
    }
    if (options.comment !== undefined) key.comment = options.comment
    return key
}

async function generatePgp(options: GenerateOptions, created: string): Promise<StoredKey> {
    const pgp = await import("openpgp")
    const name = options.name ?? DEFAULT_PGP_NAME
    const comment = options.comment ?? DEFAULT_PGP_COMMENT
    if (name.trim() === "") throw new UsageError("empty PGP key name")
    const { privateKey, publicKey } = await pgp.generateKey({
        type: "rsa",
        rsaBits: PGP_RSA_BITS,
        userIDs: [{ name, comment }],
        keyExpirationTime: 0,
        date: options.now,
        subkeys: [{ type: "rsa", rsaBits: PGP_RSA_BITS, sign: false }],
        ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
        format: "object",
        config: { v6Keys: false, aeadProtect: false },
    })
    const fingerprint = privateKey.getFingerprint().toUpperCase()
    return {
        id: fingerprint,
        type: "pgp",
        name,
        comment,
        created,
        recipient: fingerprint,
        publicKey: publicKey.armor(),
        secret: privateKey.armor(),
        protected: options.passphrase !== undefined,
    }
}
