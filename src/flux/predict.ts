/**
 * Per encrypted document: will kustomize-controller recover the data key with the imported keys (§5.4, §8.4),
 * and are the values shaped so that the tree walk succeeds (§8.5)? Optionally, the real decryption (`--verify`).
 */
import { formatAgeError } from "../keys/age-identities.js"
import { providerDescriptor } from "../keys/registry.js"
import { dearmorPgpMessage, readPackets } from "../keys/unwrap.js"
import { isEncryptedValue } from "../sops/cipher.js"
import type { KeyEntry } from "../sops/keys.js"
import type { Metadata, Selection } from "../sops/metadata.js"
import { Branch, Comment, type TreeValue } from "../sops/tree.js"
import { recoveryReport } from "../sops/document.js"
import { compileRule } from "../sops/walk.js"
import type { ImportedKeys } from "./keys.js"

/** How the controller would fare with one document's data key. */
export interface KeyPrediction {
    ok: boolean
    /** Only predicted through a cloud identity or a token the check cannot try (kms, gcp_kms, azure_kv, hc_vault). */
    likely?: boolean
    /** The key that would work (recipient, fingerprint, ARN, …). */
    key?: string
    /** What the identity-based key needs (for warnings and doctor). */
    needs?: string[]
    /** The key types that decrypt only through the controller's identity or a token (`kms`, `gcp_kms`, …). */
    identityTypes?: string[]
    /** The controller's error (`cannot get sops data key: …`), when it fails. */
    error?: string
}

/** The sops default location list when no age identity was imported (the controller falls back to its environment). */
const NO_AGE_IDENTITIES = formatAgeError("failed to load age identities", undefined, {
    identities: [],
    errors: [],
    unused: [
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
        "~/.ssh/id_ed25519",
        "~/.ssh/id_rsa",
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "~/.config/sops/age/keys.txt",
    ],
})
const AGE_NO_MATCH = "failed to create reader for decrypting sops data key with age: no identity matched any of the recipients"
const PGP_NO_KEY = "could not decrypt data key with PGP key: GnuPG binary error: failed to decrypt sops data key with pgp: gpg: decryption failed: No secret key"
const PGP_PROTECTED =
    "could not decrypt data key with PGP key: GnuPG binary error: failed to decrypt sops data key with pgp: gpg: public key decryption failed: Inappropriate ioctl for device gpg: decryption failed: No secret key"

/** Index of the imported keys for fast lookups (built once per run). */
export interface KeyIndex {
    keys: ImportedKeys
    ageRecipients: Set<string>
    /** key id → fingerprint, usable secret (sub)keys. */
    pgpUsable: Map<string, string>
    /** key id → fingerprint, protected secret (sub)keys. */
    pgpProtected: Map<string, string>
    /** PKESK key ids per `enc` text. */
    pkeskCache: Map<string, string[] | null>
}

/** Build the lookup index of imported keys. */
export function indexKeys(keys: ImportedKeys): KeyIndex {
    const pgpUsable = new Map<string, string>()
    const pgpProtected = new Map<string, string>()
    for (const k of keys.pgp) {
        for (const id of k.secretKeyIds) (k.protected ? pgpProtected : pgpUsable).set(id, k.fingerprint)
    }
    return {
        keys,
        ageRecipients: new Set(keys.age.filter((a) => a.recipient !== "").map((a) => a.recipient)),
        pgpUsable,
        pgpProtected,
        pkeskCache: new Map(),
    }
}

/** The recipient key ids of an armored PGP message (PKESK v3 packets), or null when it does not parse. */
export function pkeskKeyIds(enc: string): string[] | null {
    try {
        const ids: string[] = []
        for (const p of readPackets(dearmorPgpMessage(enc))) {
            if (p.tag === 1 && p.body.length >= 9 && p.body[0] === 3) ids.push(Buffer.from(p.body.subarray(1, 9)).toString("hex").toUpperCase())
        }
        return ids
    } catch {
        return null
    }
}

/** The id sops prints for a key in its report. */
export function keyLabel(e: KeyEntry): string {
    return providerDescriptor(e.type)?.keyId(e.params) ?? e.type
}

type Attempt = { ok: true; likely: boolean; needs?: string } | { ok: false; error: string }

function tryEntry(e: KeyEntry, ix: KeyIndex): Attempt {
    const creds = ix.keys.credentials
    switch (e.type) {
        case "age": {
            const r = String(e.params.recipient ?? "").trim()
            if (ix.keys.age.length === 0) return { ok: false, error: NO_AGE_IDENTITIES }
            return ix.ageRecipients.has(r) ? { ok: true, likely: false } : { ok: false, error: AGE_NO_MATCH }
        }
        case "pgp": {
            let ids = ix.pkeskCache.get(e.enc)
            if (ids === undefined) {
                ids = pkeskKeyIds(e.enc)
                ix.pkeskCache.set(e.enc, ids)
            }
            if (ids === null) return { ok: false, error: "could not decrypt data key with PGP key: GnuPG binary error: failed to decrypt sops data key with pgp: gpg: no valid OpenPGP data found." }
            if (ids.some((id) => ix.pgpUsable.has(id) || (id === "0000000000000000" && ix.pgpUsable.size > 0))) return { ok: true, likely: false }
            if (ids.some((id) => ix.pgpProtected.has(id))) return { ok: false, error: PGP_PROTECTED }
            return { ok: false, error: PGP_NO_KEY }
        }
        case "kms":
            return creds.awsKms
                ? { ok: true, likely: true, needs: "static AWS credentials (sops.aws-kms)" }
                : { ok: true, likely: true, needs: "aws: IRSA role (eks.amazonaws.com/role-arn) or AWS credentials on kustomize-controller" }
        case "gcp_kms":
            return creds.gcpKms
                ? { ok: true, likely: true, needs: "static GCP credentials (sops.gcp-kms)" }
                : { ok: true, likely: true, needs: "gcp: workload identity (iam.gke.io/gcp-service-account) on kustomize-controller" }
        case "azure_kv":
            return creds.azureKv
                ? { ok: true, likely: true, needs: "static Azure credentials (sops.azure-kv)" }
                : { ok: true, likely: true, needs: "azure: workload identity (azure.workload.identity/client-id) on kustomize-controller" }
        case "hc_vault":
            return creds.vaultToken
                ? { ok: true, likely: true, needs: "Vault token (sops.vault-token)" }
                : { ok: true, likely: true, needs: "vault: VAULT_TOKEN or --sops-vault-configmap on kustomize-controller" }
        default:
            return { ok: true, likely: true, needs: `${e.type}: credentials in kustomize-controller's environment` }
    }
}

/** Order within a group: age, then pgp, then the rest in file order (`DefaultDecryptionOrder`). */
function ordered(group: readonly KeyEntry[]): KeyEntry[] {
    return [...group.filter((e) => e.type === "age"), ...group.filter((e) => e.type === "pgp"), ...group.filter((e) => e.type !== "age" && e.type !== "pgp")]
}

/** Predict the data-key recovery of one document. */
export function predictDataKey(md: Metadata, ix: KeyIndex): KeyPrediction {
    const groups = md.keyGroups.map((group) => {
        const attempts: { key: string; error: string }[] = []
        for (const e of ordered(group)) {
            const a = tryEntry(e, ix)
            if (a.ok) return { ok: true, likely: a.likely, key: keyLabel(e), needs: a.needs, type: e.type, attempts }
            attempts.push({ key: keyLabel(e), error: a.error })
        }
        return { ok: false, likely: false, key: undefined, needs: undefined, type: undefined, attempts }
    })
    const threshold = md.keyGroups.length > 1 ? md.shamirThreshold || md.keyGroups.length : 1
    const good = groups.filter((g) => g.ok)
    if (good.length >= threshold && good.length > 0) {
        // the certain groups first: a likely one is needed only when the certain ones are too few
        const certain = good.filter((g) => !g.likely)
        const used = certain.length >= threshold ? certain.slice(0, threshold) : [...certain, ...good.filter((g) => g.likely)].slice(0, threshold)
        const needs = used.flatMap((g) => (g.likely && g.needs !== undefined ? [g.needs] : []))
        const identityTypes = [...new Set(used.flatMap((g) => (g.likely && g.type !== undefined ? [g.type] : [])))]
        return {
            ok: true,
            ...(needs.length > 0 ? { likely: true, needs, identityTypes } : {}),
            key: used.map((g) => g.key).join(" + "),
        }
    }
    const report = recoveryReport(
        groups.map((g, group) => ({ group, ok: g.ok, attempts: g.attempts })),
        threshold,
        good.length,
    )
    return { ok: false, error: `cannot get sops data key: ${report}` }
}

// ---------------------------------------------------------------------------------------------------------
// value shape (the tree walk without a key)

function typeName(v: TreeValue): string {
    if (typeof v === "bigint") return "int"
    if (typeof v === "number") return Number.isInteger(v) ? "float64" : "float64"
    if (typeof v === "boolean") return "bool"
    return "time.Time"
}

/**
 * Check that every leaf under an encrypted path is an `ENC[…]` string or empty, as the controller's tree walk
 * needs. Comment-based selections are not checked (which leaves they cover depends on comments the JSON
 * round trip drops).
 * @returns the controller's error (`error decrypting sops tree: …`, values redacted), or undefined
 */
export function checkValueShape(docs: readonly Branch[], selection: Selection): string | undefined {
    const rule = compileRule(selection)
    if (rule.commentRegex !== undefined) return undefined
    const walk = (v: TreeValue, matched: boolean): string | undefined => {
        if (v === null || v instanceof Comment) return undefined
        if (v instanceof Branch) {
            for (const item of v.items) {
                if (item.key instanceof Comment) continue
                const m = matched || rule.keyMatches?.(item.key) === true
                const err = walk(item.value, m)
                if (err !== undefined) return err
            }
            return undefined
        }
        if (Array.isArray(v)) {
            for (const e of v) {
                const err = walk(e, matched)
                if (err !== undefined) return err
            }
            return undefined
        }
        const encrypted = rule.matchMeans ? matched : !matched
        if (!encrypted) return undefined
        if (typeof v === "string") {
            if (v === "" || isEncryptedValue(v)) return undefined
            return "Input string <redacted> does not match sops' data format"
        }
        if (v instanceof Uint8Array) return undefined
        return `Expected encrypted value as string, but got ${typeName(v)}`
    }
    for (const d of docs) {
        const err = walk(d, false)
        if (err !== undefined) return `error decrypting sops tree: Error walking tree: Could not decrypt value: ${err}`
    }
    return undefined
}
