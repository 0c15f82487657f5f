/**
 * kustomize-controller's `ImportKeys`, emulated (flux-decryption.md §4): which entries of a decryption Secret are
 * read, how `.agekey` lines and `.asc` blocks are parsed, and the exact error text of the first bad entry.
 *
 * The result lists public facts only (recipients, key ids, which credentials are present). The private material
 * stays in {@link ImportedKeys.secretMaterial} (for `check --verify`) and is never printed.
 */
import { bech32Decode, encodeX25519Recipient, parseX25519Identity, x25519PrivateKey, x25519RawPublic } from "../keys/age-format.js"

/** The entries of a decryption Secret: name → decoded bytes (`data` after base64, `stringData` merged in). */
export type SecretEntries = Record<string, Uint8Array>

/** Where the entries come from, for messages (`'<namespace>/<name>'`). */
export interface KeySourceRef {
    namespace: string
    name: string
    /** The controller's global `--sops-age-secret`: only `.agekey` entries are read, the message differs. */
    globalAge?: boolean
}

/** One age identity that the controller would load. */
export interface AgeKeyInfo {
    entry: string
    /** `x25519`, `hybrid` (post-quantum) or `plugin` (parses, cannot decrypt in the controller image). */
    type: "x25519" | "hybrid" | "plugin"
    /** The recipient (`age1…`, `age1pq1…`); empty for plugin identities. */
    recipient: string
}

/** One PGP key (primary key with its subkeys) found in an `.asc` entry. */
export interface PgpKeyInfo {
    entry: string
    /** Primary fingerprint, upper-case hex. */
    fingerprint: string
    /** A user id, for display. */
    userId: string
    /** Long key ids (16 upper-case hex) of the primary key and subkeys that carry secret material. */
    secretKeyIds: string[]
    /** Every long key id (primary and subkeys), public ones included. */
    keyIds: string[]
    /** Secret material is passphrase-protected: gpg imports it, but `gpg -d` without pinentry fails. */
    protected: boolean
    /** Only a public key: imports fine, decrypts nothing. */
    publicOnly: boolean
}

/** Static credentials found (presence only, never the values). */
export interface StaticCredentials {
    vaultToken: boolean
    awsKms: boolean
    azureKv: boolean
    gcpKms: boolean
}

/** Private material for real decryption (`--verify`); never printed. */
export interface SecretMaterial {
    /** age identity strings (X25519 and hybrid). */
    ageIdentities: string[]
    /** Armored private keys that gpg could use (secret material present, not passphrase-protected). */
    pgpKeys: { fingerprint: string; armored: string }[]
}

/** The outcome of the emulated `ImportKeys`. */
export interface ImportedKeys {
    source: KeySourceRef
    age: AgeKeyInfo[]
    pgp: PgpKeyInfo[]
    credentials: StaticCredentials
    /** Entries that are read, by kind. */
    used: { entry: string; kind: "pgp" | "age" | "vault-token" | "aws-kms" | "azure-kv" | "gcp-kms" }[]
    /** Entries the controller ignores (any name that is not one of the recognised ones). */
    ignored: string[]
    /** Warnings: ignored entries that look like keys, unusable keys. */
    warnings: string[]
    /** The controller's import error (first failing entry): the reconcile fails before anything is decrypted. */
    error?: string
    secretMaterial: SecretMaterial
}

/** `filepath.Ext`: the suffix from the last dot of the last path element. */
export function goExt(name: string): string {
    for (let i = name.length - 1; i >= 0 && name[i] !== "/"; i--) if (name[i] === ".") return name.slice(i)
    return ""
}

const decoder = new TextDecoder()

/** Names that people use for keys but the controller ignores. */
function looksLikeKey(name: string, value: Uint8Array): string | undefined {
    const text = decoder.decode(value.subarray(0, 4096))
    if (text.includes("AGE-SECRET-KEY-")) return "an age identity"
    if (text.includes("-----BEGIN PGP PRIVATE KEY BLOCK-----")) return "a PGP private key"
    if (text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----")) return "a PGP public key"
    if (/\.(agekey|asc)$/i.test(name) || /(^|[._-])(age|gpg|pgp|sops|key|keys)([._-]|$)/i.test(name)) return "a key"
    return undefined
}

function suggestion(name: string, what: string): string {
    if (what === "an age identity") return `${name.replace(/\.[^.]*$/, "") || "age"}.agekey`
    if (what.startsWith("a PGP")) return `${name.replace(/\.[^.]*$/, "") || "sops"}.asc`
    return /\.asc$/i.test(name) ? name.replace(/\.asc$/i, ".asc") : "age.agekey or sops.asc"
}

/** Parse an `.agekey` value exactly as sops' `parseIdentities(r, false)` in the controller. */
function parseAgeEntry(text: string, entry: string): { keys: AgeKeyInfo[]; identities: string[]; error?: string } {
    const keys: AgeKeyInfo[] = []
    const identities: string[] = []
    for (const raw of text.split("\n")) {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
        if (line === "" || line.startsWith("#")) continue
        const twoWords = /\S\s+\S/.test(line)
        if (line.startsWith("AGE-PLUGIN-") && !twoWords) {
            if (bech32Decode(line) === null) return { keys, identities, error: "malformed plugin identity" }
            keys.push({ entry, type: "plugin", recipient: "" })
        } else if (line.startsWith("AGE-SECRET-KEY-PQ-1") && !twoWords) {
            const d = bech32Decode(line)
            if (d === null || d.hrp !== "age-secret-key-pq-" || line !== line.toUpperCase()) {
                return { keys, identities, error: "malformed secret key: invalid hybrid identity encoding" }
            }
            keys.push({ entry, type: "hybrid", recipient: "" })
            identities.push(line)
        } else if (line.startsWith("AGE-SECRET-KEY-1") && !twoWords) {
            const scalar = parseX25519Identity(line)
            if (scalar === null) {
                const why = /\s$/.test(line) ? "invalid character not part of charset" : "invalid checksum or length"
                return { keys, identities, error: `malformed secret key: ${why}` }
            }
            const recipient = encodeX25519Recipient(x25519RawPublic(x25519PrivateKey(scalar)))
            scalar.fill(0)
            keys.push({ entry, type: "x25519", recipient })
            identities.push(line)
        } else return { keys, identities, error: "unknown identity type" }
    }
    return { keys, identities }
}

const ARMOR_BLOCK = /-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP \1 KEY BLOCK-----/g
const NO_PGP_DATA = "failed to import armored key data into GnuPG keyring (exit status 2): gpg: no valid OpenPGP data found.\ngpg: Total number processed: 0"

type OpenPgpKey = Awaited<ReturnType<typeof import("openpgp")["readKeys"]>>[number]

/** What gpg --import would make of an `.asc` value: the keys, or the import error. */
async function parsePgpEntry(
    value: Uint8Array,
    entry: string,
): Promise<{ keys: PgpKeyInfo[]; usable: { fingerprint: string; armored: string }[]; error?: string }> {
    const pgp = await import("openpgp")
    const text = decoder.decode(value)
    const found: OpenPgpKey[] = []
    const blocks = text.match(ARMOR_BLOCK)
    if (blocks !== null) {
        for (const armoredKeys of blocks) {
            try {
                found.push(...(await pgp.readKeys({ armoredKeys })))
            } catch {
                // gpg skips a damaged block and imports the others
            }
        }
    } else if (value.length > 0 && (value[0] & 0x80) !== 0) {
        try {
            found.push(...(await pgp.readKeys({ binaryKeys: value })))
        } catch {
            // not OpenPGP data
        }
    }
    if (found.length === 0) return { keys: [], usable: [], error: NO_PGP_DATA }
    const keys: PgpKeyInfo[] = []
    const usable: { fingerprint: string; armored: string }[] = []
    for (const key of found) {
        const all = [key, ...key.subkeys]
        const secretKeyIds: string[] = []
        let isProtected = false
        for (const k of all) {
            const packet = k.keyPacket as unknown as { isDecrypted?: () => boolean | null; isDummy?: () => boolean }
            // secret (sub)key packets have isDummy (gpg's stubs for keys kept elsewhere are dummies)
            const isSecret = key.isPrivate() && typeof packet.isDummy === "function" && !packet.isDummy()
            if (!isSecret) continue
            secretKeyIds.push(k.getKeyID().toHex().toUpperCase())
            if (packet.isDecrypted?.() === false) isProtected = true
        }
        keys.push({
            entry,
            fingerprint: key.getFingerprint().toUpperCase(),
            userId: key.users[0]?.userID?.userID ?? "",
            secretKeyIds,
            keyIds: all.map((k) => k.getKeyID().toHex().toUpperCase()),
            protected: isProtected,
            publicOnly: secretKeyIds.length === 0,
        })
        if (secretKeyIds.length > 0 && !isProtected) usable.push({ fingerprint: key.getFingerprint().toUpperCase(), armored: key.armor() })
    }
    return { keys, usable }
}

function parseYamlOrJson(text: string): unknown {
    try {
        return JSON.parse(text)
    } catch {
        // YAML below
    }
    return undefined
}

async function loadYaml(text: string): Promise<unknown> {
    const json = parseYamlOrJson(text)
    if (json !== undefined) return json
    const { parse } = await import("yaml")
    return parse(text)
}

function stripBom(value: Uint8Array): string {
    if (value[0] === 0xff && value[1] === 0xfe) return new TextDecoder("utf-16le").decode(value.subarray(2))
    if (value[0] === 0xfe && value[1] === 0xff) return new TextDecoder("utf-16be").decode(value.subarray(2))
    return decoder.decode(value)
}

/**
 * Emulate `ImportKeys` over the entries of a decryption Secret: every entry in turn (sorted by name; the
 * controller's map order is random, and any failing entry fails the reconcile).
 */
export async function importKeys(entries: SecretEntries, source: KeySourceRef): Promise<ImportedKeys> {
    const where = `'${source.namespace}/${source.name}'`
    const prefix = (entry: string) =>
        source.globalAge
            ? `failed to import '${entry}' data from sops SOPS age decryption Secret ${where}: `
            : `failed to import '${entry}' data from sops decryption Secret ${where}: `
    const out: ImportedKeys = {
        source,
        age: [],
        pgp: [],
        credentials: { vaultToken: false, awsKms: false, azureKv: false, gcpKms: false },
        used: [],
        ignored: [],
        warnings: [],
        secretMaterial: { ageIdentities: [], pgpKeys: [] },
    }
    const fail = (entry: string, cause: string) => {
        if (out.error === undefined) out.error = prefix(entry) + cause
    }
    for (const name of Object.keys(entries).sort()) {
        const value = entries[name]
        const ext = goExt(name)
        if (source.globalAge && ext !== ".agekey") {
            out.ignored.push(name)
            continue
        }
        if (ext === ".asc") {
            out.used.push({ entry: name, kind: "pgp" })
            const r = await parsePgpEntry(value, name)
            if (r.error !== undefined) fail(name, r.error)
            out.pgp.push(...r.keys)
            out.secretMaterial.pgpKeys.push(...r.usable)
            for (const k of r.keys) {
                if (k.publicOnly) out.warnings.push(`'${name}' holds only the public key ${k.fingerprint}: it imports, but decrypts nothing`)
                else if (k.protected) {
                    out.warnings.push(
                        `'${name}': the secret key ${k.fingerprint} is passphrase-protected; the controller runs gpg without a pinentry, so decryption with it fails`,
                    )
                }
            }
        } else if (ext === ".agekey") {
            out.used.push({ entry: name, kind: "age" })
            const r = parseAgeEntry(decoder.decode(value), name)
            if (r.error !== undefined) fail(name, `failed to parse and add to age identities: ${r.error}`)
            else {
                out.age.push(...r.keys)
                out.secretMaterial.ageIdentities.push(...r.identities)
                if (r.keys.some((k) => k.type === "plugin")) {
                    out.warnings.push(`'${name}' holds an age plugin identity: the controller image has no age-plugin binaries, so it cannot decrypt`)
                }
                if (r.keys.length === 0) out.warnings.push(`'${name}' holds no age identity (empty or only comments)`)
            }
        } else if (name === "sops.vault-token") {
            out.used.push({ entry: name, kind: "vault-token" })
            out.credentials.vaultToken = decoder.decode(value).trim() !== ""
        } else if (name === "sops.aws-kms") {
            out.used.push({ entry: name, kind: "aws-kms" })
            try {
                const v = await loadYaml(decoder.decode(value))
                if (v !== null && typeof v !== "object") throw new Error("cannot unmarshal into credentials")
                out.credentials.awsKms = true
            } catch (e) {
                fail(name, `error unmarshalling AWS credentials: ${(e as Error).message.split("\n")[0]}`)
            }
        } else if (name === "sops.azure-kv") {
            out.used.push({ entry: name, kind: "azure-kv" })
            let conf: Record<string, unknown> | undefined
            try {
                const v = await loadYaml(stripBom(value))
                if (v !== null && typeof v === "object" && !Array.isArray(v)) conf = v as Record<string, unknown>
            } catch (e) {
                fail(name, `error unmarshalling Azure config: ${(e as Error).message.split("\n")[0]}`)
                continue
            }
            const has = (k: string) => typeof conf?.[k] === "string" && conf[k] !== ""
            const ok =
                (has("tenantId") && has("clientId") && (has("clientSecret") || has("clientCertificate"))) ||
                (has("tenant") && has("appId") && has("password")) ||
                has("clientId")
            if (!ok) {
                fail(
                    name,
                    "invalid data: requires a 'clientId' field, a combination of 'tenantId', 'clientId' and 'clientSecret', or 'tenantId', 'clientId' and 'clientCertificate'",
                )
            } else out.credentials.azureKv = true
        } else if (name === "sops.gcp-kms") {
            out.used.push({ entry: name, kind: "gcp-kms" })
            try {
                const v = JSON.parse(decoder.decode(value).replace(/^\n+|\n+$/g, ""))
                if (v === null || typeof v !== "object") throw new Error("not a JSON object")
                out.credentials.gcpKms = true
            } catch (e) {
                fail(name, `failed to parse GCP credentials JSON: ${(e as Error).message}`)
            }
        } else {
            out.ignored.push(name)
            const what = looksLikeKey(name, value)
            if (what !== undefined) {
                out.warnings.push(
                    `entry '${name}' looks like ${what} but is ignored by kustomize-controller (it reads *.agekey, *.asc, sops.vault-token, sops.aws-kms, sops.azure-kv, sops.gcp-kms); rename it to ${suggestion(name, what)}`,
                )
            }
        }
    }
    // hybrid recipients (age-encryption is loaded only when such a key is present)
    const hybrids = out.age.filter((k) => k.type === "hybrid")
    if (hybrids.length > 0) {
        const { identityToRecipient } = await import("age-encryption")
        const ids = out.secretMaterial.ageIdentities.filter((i) => i.startsWith("AGE-SECRET-KEY-PQ-1"))
        for (let i = 0; i < hybrids.length && i < ids.length; i++) hybrids[i].recipient = await identityToRecipient(ids[i])
    }
    return out
}

/** The public summary of imported keys (what `-o json` prints). */
export function describeKeys(k: ImportedKeys): { type: string; id: string; entry: string; note?: string }[] {
    const out: { type: string; id: string; entry: string; note?: string }[] = []
    for (const a of k.age) out.push({ type: a.type === "x25519" ? "age" : `age-${a.type}`, id: a.recipient, entry: a.entry })
    for (const p of k.pgp) {
        const note = p.publicOnly ? "public key only" : p.protected ? "passphrase-protected" : undefined
        out.push({ type: "pgp", id: p.fingerprint, entry: p.entry, ...(note === undefined ? {} : { note }) })
    }
    for (const u of k.used) if (u.kind !== "age" && u.kind !== "pgp") out.push({ type: u.kind, id: u.entry, entry: u.entry })
    return out
}
