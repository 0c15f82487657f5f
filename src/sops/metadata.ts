/**
 * The `sops` metadata block: typed {@link Metadata} ↔ the plain tree a store reads and writes.
 */
import type { KeyGroup } from "./keys.js"

/** Which leaves are encrypted. At most one field may be set (sops' rule); none means `_unencrypted` suffix. */
export interface Selection {
    unencryptedSuffix?: string
    encryptedSuffix?: string
    unencryptedRegex?: string
    encryptedRegex?: string
    unencryptedCommentRegex?: string
    encryptedCommentRegex?: string
}

/** Typed metadata of an encrypted file. */
export interface Metadata {
    keyGroups: KeyGroup[]
    /** 0 when unset (single group). */
    shamirThreshold: number
    /** `lastmodified` exactly as stored. */
    lastModified: string
    /** The encrypted MAC (`ENC[…]`), or "" when absent. */
    mac: string
    selection: Selection
    macOnlyEncrypted: boolean
    version: string
}

/** The version string kubectl-sops writes (the sops release whose format it follows). */
export const SOPS_VERSION = "3.13.2"
