/**
 * The age key provider (`age` metadata entries, `{recipient}`): X25519, SSH (ed25519, RSA) and passphrase-protected
 * identity files natively on `node:crypto`; hybrid post-quantum (`age1pq1…`) through the `age-encryption`
 * package, loaded only when such a key is used. Plugins (`age1<name>1…`) are recognised but not supported.
 *
 * Decryption reads identities once per process (per recipient when a `*_CMD` variable is set) from every
 * location sops reads; see {@link loadAgeIdentities}. A passphrase-protected identity file takes its passphrase
 * from `KUBECTL_SOPS_AGE_PASSPHRASE` (sops would prompt).
 */
import { KeyProviderError, UsageError } from "../errors.js"
import type { KeyParams } from "../sops/keys.js"
import {
    type AgeRecipient,
    X25519Recipient,
    ageDecryptPayload,
    ageEncrypt,
    armorDecode,
    armorEncode,
    bech32Decode,
    parseAgeFile,
    parseX25519Recipient,
} from "./age-format.js"
import { type LoadedIdentities, formatAgeError, loadAgeIdentities } from "./age-identities.js"
import { parseSshPublicKey, sshRecipient } from "./age-ssh.js"
import type { KeyContext, KeyProvider } from "./provider.js"

const EXPECTED =
    "expected an age1… X25519 recipient, an age1pq1… hybrid recipient, an age plugin recipient (age1<name>1…) " +
    'or an SSH public key ("ssh-ed25519 AAAA…" / "ssh-rsa AAAA…")'

/** ML-KEM-768 encapsulation key (1184 bytes) followed by an X25519 public key (32 bytes). */
const HYBRID_RECIPIENT_BYTES = 1216

type RecipientKind = "x25519" | "hybrid" | "plugin" | "ssh"

function recipientKind(r: string): RecipientKind | null {
    if (r.startsWith("age1pq1")) return "hybrid"
    if (r.startsWith("age1") && r.split("1").length > 2) return "plugin"
    if (r.startsWith("age1")) return "x25519"
    if (r.startsWith("ssh-")) return "ssh"
    return null
}

/** Validate a trimmed recipient; returns the reason it is malformed, or null. */
function checkRecipient(r: string): string | null {
    switch (recipientKind(r)) {
        case "x25519":
            return parseX25519Recipient(r) === null ? "malformed X25519 recipient (bad bech32 or length)" : null
        case "hybrid": {
            const d = bech32Decode(r)
            return d === null || d.hrp !== "age1pq" || d.data.length !== HYBRID_RECIPIENT_BYTES || r !== r.toLowerCase()
                ? "malformed hybrid post-quantum recipient"
                : null
        }
        case "plugin": {
            const d = bech32Decode(r)
            return d === null || r !== r.toLowerCase() ? "malformed plugin recipient" : null
        }
        case "ssh":
            try {
                parseSshPublicKey(r)
                return null
            } catch (e) {
                return `malformed SSH public key: ${(e as Error).message}`
            }
        default:
            return "unknown recipient type"
    }
}

function recipientOf(params: KeyParams): string {
    const r = params.recipient
    if (typeof r !== "string" || r === "") throw new KeyProviderError("age", "age key entry has no recipient")
    return r
}

function identitiesFor(ctx: KeyContext, recipient: string): Promise<LoadedIdentities> {
    const perRecipient =
        ctx.env.SOPS_AGE_KEY_CMD !== undefined || ctx.env.SOPS_AGE_SSH_PRIVATE_KEY_CMD !== undefined
    const key = perRecipient ? `age:identities:${recipient}` : "age:identities"
    return ctx.memo(key, () => loadAgeIdentities(ctx, recipient))
}

async function encryptHybrid(recipient: string, part: Uint8Array): Promise<string> {
    const { Encrypter, armor } = await import("age-encryption")
    const e = new Encrypter()
    e.addRecipient(recipient)
    return armor.encode(await e.encrypt(part))
}

/** The age provider. */
export const ageProvider: KeyProvider = {
    type: "age",
    hasCreatedAt: false,

    parseSpec(spec: string): KeyParams {
        const r = spec.trim()
        if (r === "") throw new UsageError(`empty age recipient; ${EXPECTED}`)
        const why = checkRecipient(r)
        if (why !== null) throw new UsageError(`invalid age recipient "${r}": ${why}; ${EXPECTED}`)
        return { recipient: r }
    },

    keyId(params: KeyParams): string {
        return String(params.recipient ?? "")
    },

    async encrypt(params: KeyParams, part: Uint8Array): Promise<string> {
        const recipient = recipientOf(params).trim()
        const kind = recipientKind(recipient)
        const why = checkRecipient(recipient)
        if (why !== null) {
            throw new KeyProviderError("age", `failed to parse input as age recipient "${recipient}": ${why}`)
        }
        if (kind === "plugin") {
            throw new KeyProviderError("age", `age plugins are not supported: cannot encrypt to ${recipient}`, {
                hint: "use an age1… X25519, age1pq1… hybrid or SSH recipient",
            })
        }
        if (kind === "hybrid") return encryptHybrid(recipient, part)
        let r: AgeRecipient
        if (kind === "ssh") r = sshRecipient(recipient)
        else r = new X25519Recipient(parseX25519Recipient(recipient)!)
        return armorEncode(ageEncrypt(part, [r]))
    },

    async decrypt(params: KeyParams, enc: string, ctx: KeyContext): Promise<Uint8Array> {
        const recipient = recipientOf(params)
        const loaded = await identitiesFor(ctx, recipient)
        if (loaded.identities.length === 0) {
            throw new KeyProviderError("age", formatAgeError("failed to load age identities", undefined, loaded), {
                hint: "set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY) to the age identity of this file's recipient",
            })
        }
        const fail = (cause: string) =>
            new KeyProviderError(
                "age",
                formatAgeError("failed to create reader for decrypting sops data key with age", cause, loaded),
            )
        let file: ReturnType<typeof parseAgeFile>
        try {
            file = parseAgeFile(armorDecode(enc))
        } catch (e) {
            throw fail((e as Error).message)
        }
        const identityErrors: string[] = []
        for (const id of loaded.identities) {
            let fileKey: Uint8Array | null
            try {
                fileKey = await id.unwrap(file.stanzas, file.header)
            } catch (e) {
                identityErrors.push((e as Error).message)
                continue
            }
            if (fileKey === null) continue
            if (fileKey.length !== 16) throw fail("invalid file key length")
            try {
                return ageDecryptPayload(file, fileKey)
            } catch (e) {
                throw fail((e as Error).message)
            }
        }
        const cause = ["no identity matched any of the recipients", ...identityErrors].join("; ")
        throw fail(cause)
    },
}
