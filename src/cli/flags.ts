/**
 * Flag tables shared by several commands, named as sops names them. Each command spreads the groups it takes.
 */
import type { FlagSpec } from "./spec.js"

const FORMAT_OPTIONS = ["yaml", "json", "dotenv", "ini", "binary"] as const

/** `--config`, `--indent`: where sops has them as global flags. */
export const configFlags = {
    config: { type: "string", env: "SOPS_CONFIG", summary: "Path to the .sops.yaml to use (default: nearest one, see README)" },
    indent: { type: "integer", summary: "Indentation of YAML/JSON output (overrides .sops.yaml stores)" },
} as const satisfies Record<string, FlagSpec>

/** `--input-type`, `--output-type`, `--filename-override`. */
export const formatFlags = {
    "input-type": { type: "string", options: FORMAT_OPTIONS, summary: "Format of the input (default: from the file name)" },
    "output-type": { type: "string", options: FORMAT_OPTIONS, summary: "Format of the output (default: the input format)" },
    "filename-override": {
        type: "string",
        summary: "Use this file name to pick the format and the .sops.yaml creation rule (required for stdin on encrypt)",
    },
} as const satisfies Record<string, FlagSpec>

/** `-i/--in-place`, `--output`. */
export const outputFlags = {
    "in-place": { type: "boolean", char: "i", summary: "Write the result back to the file instead of stdout" },
    output: { type: "string", summary: "Write the result to this file instead of stdout" },
} as const satisfies Record<string, FlagSpec>

/** Decryption options. */
export const decryptionFlags = {
    "ignore-mac": { type: "boolean", summary: "Do not check the MAC (use only if you trust the file)" },
    "decryption-order": {
        type: "string",
        env: "SOPS_DECRYPTION_ORDER",
        summary: "Comma-separated key types to try first when decrypting (e.g. age,pgp)",
    },
    /** Decrypt with the local keys only (the agent policy: src/cli/actions/agent-runtime.ts). */
    "no-agent": {
        type: "boolean",
        env: "KUBECTL_SOPS_NO_AGENT",
        summary: "Do not use or start the key agent; only local keys (age identities, GnuPG, …) decrypt",
    },
} as const satisfies Record<string, FlagSpec>

function keyFlag(summary: string, char?: string): FlagSpec {
    return { type: "string", multiple: true, summary, ...(char === undefined ? {} : { char }), helpGroup: "KEY" }
}

/** Master-key flags (each repeatable and comma-separated; the `SOPS_*` variables apply when no key flag is given). */
export const keyFlags = {
    age: keyFlag("age recipients to encrypt for (env SOPS_AGE_RECIPIENTS)", "a"),
    pgp: keyFlag("PGP fingerprints to encrypt for (env SOPS_PGP_FP)", "p"),
    kms: keyFlag("AWS KMS ARNs (env SOPS_KMS_ARN)", "k"),
    "gcp-kms": keyFlag("GCP KMS resource IDs (env SOPS_GCP_KMS_IDS)"),
    "azure-kv": keyFlag("Azure Key Vault key URLs (env SOPS_AZURE_KEYVAULT_URLS)"),
    "hc-vault-transit": keyFlag("HashiCorp Vault transit key URIs (env SOPS_VAULT_URIS)"),
    hckms: keyFlag("HuaweiCloud KMS key IDs region:key-uuid (env SOPS_HUAWEICLOUD_KMS_IDS)"),
} as const satisfies Record<string, FlagSpec>

/** Options of the AWS KMS keys given by flags, environment or a rule's `kms` strings (sops' names). */
export const kmsOptionFlags = {
    "encryption-context": {
        type: "string",
        summary: "AWS KMS encryption context for the kms keys: key:value pairs separated by commas",
        helpGroup: "KEY",
    },
    "aws-profile": { type: "string", summary: "AWS profile (shared config) for the kms keys", helpGroup: "KEY" },
} as const satisfies Record<string, FlagSpec>

/** Flag name → key type (metadata list name). */
export const KEY_FLAG_TYPES: Readonly<Record<keyof typeof keyFlags, string>> = {
    age: "age",
    pgp: "pgp",
    kms: "kms",
    "gcp-kms": "gcp_kms",
    "azure-kv": "azure_kv",
    "hc-vault-transit": "hc_vault",
    hckms: "hckms",
}

/** What to encrypt (override the creation rule's fields). */
export const selectionFlags = {
    "unencrypted-suffix": { type: "string", summary: "Leave values whose key ends with this suffix in clear", helpGroup: "SELECTION" },
    "encrypted-suffix": { type: "string", summary: "Encrypt only values whose key ends with this suffix", helpGroup: "SELECTION" },
    "unencrypted-regex": { type: "string", summary: "Leave values whose key matches this regex in clear", helpGroup: "SELECTION" },
    "encrypted-regex": { type: "string", summary: "Encrypt only values whose key matches this regex", helpGroup: "SELECTION" },
    "unencrypted-comment-regex": {
        type: "string",
        summary: "Leave values preceded by a comment matching this regex in clear",
        helpGroup: "SELECTION",
    },
    "encrypted-comment-regex": {
        type: "string",
        summary: "Encrypt only values preceded by a comment matching this regex",
        helpGroup: "SELECTION",
    },
    "mac-only-encrypted": { type: "boolean", summary: "Compute the MAC over encrypted values only", helpGroup: "SELECTION" },
    "shamir-secret-sharing-threshold": {
        type: "integer",
        summary: "Number of key groups needed to decrypt (Shamir secret sharing)",
        helpGroup: "KEY",
    },
} as const satisfies Record<string, FlagSpec>
