/**
 * Master-key entries as the core sees them, and the key-service contract through which the core wraps and
 * unwraps data keys. The core never loads a provider itself: the CLI passes a {@link KeyService} (local
 * providers, later the agent), so `src/sops` stays pure.
 */

/** Identifying parameters of a master key: the metadata fields other than `enc` and `created_at`. */
export type KeyParams = Readonly<Record<string, string | Readonly<Record<string, string>>>>

/** One master key of a key group, as stored in (or about to be stored in) the `sops` metadata. */
export interface KeyEntry {
    /** Metadata list name: `age`, `pgp`, `kms`, `gcp_kms`, `azure_kv`, `hc_vault`, `hckms`. */
    readonly type: string
    /** Identifying fields (`recipient`, `fp`, `arn`/`role`/`context`/`aws_profile`, …). */
    readonly params: KeyParams
    /** The encrypted data key (or Shamir share); empty before wrapping. */
    readonly enc: string
    /** RFC 3339 creation time of this entry (every type but age). */
    readonly createdAt?: string
}

/** A key group: every key in it wraps the same data key (or the same Shamir share). */
export type KeyGroup = readonly KeyEntry[]

/** Wraps and unwraps data keys for master-key entries. */
export interface KeyService {
    /**
     * The identity string of a key, as sops prints it and dedupes by (recipient, fingerprint, URI, …).
     */
    keyId(entry: KeyEntry): string
    /**
     * Encrypt `part` (the data key or a Shamir share) for the entry's key.
     * @returns the entry's new `enc`.
     * @throws KsopsError naming the key and why it failed.
     */
    encrypt(entry: KeyEntry, part: Uint8Array): Promise<string>
    /**
     * Decrypt the entry's `enc`.
     * @returns the raw data key or share.
     * @throws KsopsError naming why this key could not be used (no identity, wrong key, I/O failure).
     */
    decrypt(entry: KeyEntry): Promise<Uint8Array>
}

/** Order of key types within a group when reading metadata (sops §6.3). */
export const METADATA_KEY_TYPES = ["kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age"] as const
