/**
 * Importing and exporting keys as files: armored PGP secret keys (several blocks per file, several keys per
 * block), age identity files (several identities, `#` comments, hybrid identities) and passphrase-protected age
 * identity files (armored or binary). Protected keys stay protected: the secret is stored as given (a protected
 * age file holding several identities is split, each identity sealed again with the same passphrase).
 */
import { ErrorKind, KsopsError } from "../errors.js"
import { armorEncode, bech32Decode, isArmored, parseX25519Identity } from "./age-format.js"
import { ageIdentityFile, rfc3339Seconds } from "./generate.js"
import {
    PassphraseError,
    type StoredKey,
    ageRecipientOf,
    displayId,
    identityLines,
    isAgeFile,
    openWithPassphrase,
    sealWithPassphrase,
} from "./keystore.js"

/** Options of {@link importKeys}. */
export interface ImportOptions {
    /** Passphrase of protected keys: verified for PGP keys, needed to read protected age identity files. */
    passphrase?: string
    /** Creation time of keys that carry none. */
    now: Date
    /** Label of imported keys (default: the PGP user id name, the age file's comment, or type + created). */
    name?: string
    /** scrypt work factor (log2 N) when a protected age file is split and sealed again. */
    scryptLogN?: number
}

const PGP_SECRET_BLOCK = /-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]*?-----END PGP PRIVATE KEY BLOCK-----/g
const CREATED_RE = /^#\s*created:\s*(\S+)\s*$/

function importError(message: string, hint?: string): KsopsError {
    return new KsopsError(ErrorKind.Format, message, hint === undefined ? {} : { hint })
}

/**
 * Parse keys out of a file's content.
 * @returns the keys found, deduplicated by id, in file order.
 * @throws KsopsError (kind format) for unreadable content; PassphraseError for a missing or wrong passphrase.
 */
export async function importKeys(input: string | Uint8Array, options: ImportOptions): Promise<StoredKey[]> {
    const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : Buffer.from(input)
    let keys: StoredKey[]
    if (isAgeFile(bytes)) {
        keys = await importProtectedAge(bytes, options)
    } else {
        const text = bytes.toString("utf8")
        if (text.includes("-----BEGIN PGP PRIVATE KEY BLOCK-----")) keys = await importPgp(text, options)
        else if (text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
            throw importError(
                "the file holds only PGP public keys; the agent needs secret keys",
                "export the secret key with `gpg --export-secret-keys --armor FPR`",
            )
        } else keys = await importAgeText(text, options, undefined)
    }
    if (keys.length === 0) throw importError("no keys found: expected armored PGP secret keys or age identities")
    const seen = new Set<string>()
    return keys.filter((k) => !seen.has(k.id) && seen.add(k.id) !== undefined)
}

// ---------------------------------------------------------------------------------------------------------
// age

async function importAgeText(text: string, options: ImportOptions, sealWith: string | undefined): Promise<StoredKey[]> {
    const out: StoredKey[] = []
    let created: string | undefined
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i].replace(/\r$/, "").trim()
        if (line === "") continue
        if (line.startsWith("#")) {
            const m = CREATED_RE.exec(line)
            if (m !== null && !Number.isNaN(Date.parse(m[1]))) created = rfc3339Seconds(new Date(m[1]))
            continue
        }
        const where = `line ${i + 1}`
        let type: "age" | "age-pq"
        if (line.startsWith("AGE-SECRET-KEY-PQ-1")) {
            const d = bech32Decode(line)
            if (d === null || d.hrp !== "age-secret-key-pq-" || line !== line.toUpperCase()) {
                throw importError(`${where}: malformed hybrid age identity`)
            }
            type = "age-pq"
        } else if (line.startsWith("AGE-SECRET-KEY-1")) {
            if (parseX25519Identity(line) === null) throw importError(`${where}: malformed age identity`)
            type = "age"
        } else if (line.startsWith("AGE-PLUGIN-")) {
            throw importError(`${where}: age plugin identities are not supported`)
        } else {
            throw importError(
                `${where}: not an age identity or a PGP key`,
                "import an age identity file (AGE-SECRET-KEY-1…) or an armored PGP secret key",
            )
        }
        const recipient = await ageRecipientOf(line)
        const when = created ?? rfc3339Seconds(options.now)
        created = undefined
        const secret =
            sealWith === undefined
                ? line
                : sealWithPassphrase(Buffer.from(ageIdentityFile(line, recipient, when)), sealWith, options.scryptLogN)
        out.push({
            id: recipient,
            type,
            name: options.name ?? `${type} ${when}`,
            created: when,
            recipient,
            secret,
            protected: sealWith !== undefined,
        })
    }
    return out
}

async function importProtectedAge(bytes: Buffer, options: ImportOptions): Promise<StoredKey[]> {
    const passphrase = options.passphrase
    if (passphrase === undefined) {
        throw new PassphraseError("the age identity file is passphrase-protected: give its passphrase", {
            hint: "pass --passphrase-file or --passphrase-stdin",
        })
    }
    const plain = openWithPassphrase(bytes, passphrase)
    const text = Buffer.from(plain).toString("utf8")
    plain.fill(0)
    const count = identityLines(text).length
    if (count !== 1) return importAgeText(text, options, passphrase)
    // one identity: keep the file as given (armored)
    const [key] = await importAgeText(text, options, undefined)
    const head = bytes.subarray(0, 64).toString("latin1")
    key.secret = isArmored(head) ? bytes.toString("latin1").trim().concat("\n") : armorEncode(new Uint8Array(bytes))
    key.protected = true
    return [key]
}

// ---------------------------------------------------------------------------------------------------------
// PGP

async function importPgp(text: string, options: ImportOptions): Promise<StoredKey[]> {
    const pgp = await import("openpgp")
    const out: StoredKey[] = []
    const blocks = text.match(PGP_SECRET_BLOCK) ?? []
    for (const [i, armoredKeys] of blocks.entries()) {
        let keys: Awaited<ReturnType<typeof pgp.readPrivateKeys>>
        try {
            keys = await pgp.readPrivateKeys({ armoredKeys })
        } catch (e) {
            throw importError(`PGP key block ${i + 1}: ${(e as Error).message}`)
        }
        for (const key of keys) {
            const fp = key.getFingerprint().toUpperCase()
            const isProtected = !key.isDecrypted()
            if (isProtected && options.passphrase !== undefined) {
                try {
                    const d = await pgp.decryptKey({ privateKey: key, passphrase: options.passphrase })
                    ;(d as unknown as { clearPrivateParams(): void }).clearPrivateParams()
                } catch (e) {
                    throw new PassphraseError(`cannot unlock PGP key ${fp}: incorrect passphrase`, { cause: e })
                }
            }
            let userID = key.users[0]?.userID?.userID ?? ""
            try {
                userID = (await key.getPrimaryUser()).user.userID?.userID ?? userID
            } catch {
                // no valid self-signature: keep the first user id
            }
            const user = parseUserId(userID)
            const stored: StoredKey = {
                id: fp,
                type: "pgp",
                name: options.name ?? (user.name !== undefined && user.name !== "" ? user.name : `pgp ${displayId(fp)}`),
                created: rfc3339Seconds(key.getCreationTime()),
                recipient: fp,
                publicKey: key.toPublic().armor(),
                secret: key.armor(),
                protected: isProtected,
            }
            if (user.comment !== undefined && user.comment !== "") stored.comment = user.comment
            out.push(stored)
        }
    }
    return out
}

/** Split an OpenPGP user id "Name (comment) <email>" (each part optional). */
export function parseUserId(userID: string): { name?: string; comment?: string; email?: string } {
    const m = /^\s*([^(<]*?)\s*(?:\(([^)]*)\))?\s*(?:<([^>]*)>)?\s*$/.exec(userID)
    if (m === null) return { name: userID }
    const out: { name?: string; comment?: string; email?: string } = {}
    if (m[1] !== "") out.name = m[1]
    if (m[2] !== undefined && m[2] !== "") out.comment = m[2]
    if (m[3] !== undefined && m[3] !== "") out.email = m[3]
    return out
}

// ---------------------------------------------------------------------------------------------------------
// export

/**
 * Export a key. Public (default): the armored PGP public key (what a team commits as `.sops.pub.asc`) or the age
 * recipient line. Secret: for PGP the stored armored private key, for age an identity file (or the stored
 * passphrase-encrypted age file).
 */
export async function exportKey(stored: StoredKey, options: { secret?: boolean } = {}): Promise<string> {
    if (options.secret === true) {
        if (stored.type === "pgp" || stored.protected) return stored.secret.endsWith("\n") ? stored.secret : `${stored.secret}\n`
        return ageIdentityFile(stored.secret.trim(), stored.recipient, stored.created)
    }
    if (stored.type !== "pgp") return `${stored.recipient}\n`
    let armored = stored.publicKey
    if (armored === undefined) {
        const pgp = await import("openpgp")
        armored = (await pgp.readPrivateKey({ armoredKey: stored.secret })).toPublic().armor()
    }
    return armored.endsWith("\n") ? armored : `${armored}\n`
}
