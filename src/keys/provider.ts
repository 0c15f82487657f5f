/**
 * The one key-provider interface. age and OpenPGP live in `src/keys/`; heavy providers (Vault, AWS, GCP, Azure)
 * live in `plugins/<name>/index.ts`, each exporting `const provider: KeyProvider`, and are registered with one
 * line in `src/keys/registry.ts`. Providers are loaded only when a key of their type is used.
 */
import type { KeyParams } from "../sops/keys.js"

/** What a provider may use from the outside world. Passed in; providers never read globals. */
export interface KeyContext {
    /** Environment snapshot (SOPS_AGE_KEY_FILE, GNUPGHOME, SOPS_GPG_EXEC, …). */
    readonly env: Readonly<Record<string, string | undefined>>
    /** The user's home directory (for `~/.config/sops/age/keys.txt`, `~/.ssh/id_ed25519`, …). */
    readonly homeDir: string
    /**
     * Per-process memo: loads identities, keyrings or clients once for a whole bulk run.
     * The key is namespaced by the caller (e.g. `age:identities`).
     */
    memo<T>(key: string, make: () => Promise<T>): Promise<T>
    /** A warning for the user (stderr). Never pass secret material. */
    warn(message: string): void
    /** Current time (for `created_at`). */
    now(): Date
    /**
     * Armored public key files committed beside the `.sops.yaml` files in use (`.sops.pub.asc`, as the Flux guide
     * does). PGP encryption tries them, by fingerprint, when GnuPG does not have the key. Filled by the caller.
     */
    readonly pgpPublicKeyFiles?: Set<string>
}

/** A master-key provider: parses user key specs and wraps/unwraps data keys. */
export interface KeyProvider {
    /** Metadata list name (`age`, `pgp`, `hc_vault`, `kms`, `gcp_kms`, `azure_kv`, `hckms`). */
    readonly type: string
    /** Whether metadata entries of this type carry `created_at` (all but age). */
    readonly hasCreatedAt: boolean
    /**
     * Parse one user-given key spec (a recipient, fingerprint, URI, ARN, …) into metadata parameters.
     * @throws UsageError with what is wrong and the expected form.
     */
    parseSpec(spec: string): KeyParams
    /**
     * Parse one object entry of a `.sops.yaml` `key_groups` list (kms `{arn, role, context, aws_profile}`,
     * gcp_kms `{resource_id}`, …). Types whose group entries are plain strings use {@link parseSpec}.
     */
    parseConfigEntry?(entry: unknown): KeyParams
    /** The identity string sops prints and dedupes by (recipient, fingerprint, URI, ARN+role|ctx|profile). */
    keyId(params: KeyParams): string
    /**
     * Encrypt a data key (or Shamir share).
     * @returns the `enc` string exactly as sops stores it.
     */
    encrypt(params: KeyParams, part: Uint8Array, ctx: KeyContext): Promise<string>
    /**
     * Decrypt an `enc` string.
     * @throws KsopsError (or Error) saying why this key could not be used; never includes secret material.
     */
    decrypt(params: KeyParams, enc: string, ctx: KeyContext): Promise<Uint8Array>
}
