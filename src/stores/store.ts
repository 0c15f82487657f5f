/**
 * The store contract: one implementation per file format (YAML, JSON, dotenv, INI, binary). Stores are pure:
 * text or bytes in, trees out, and back. They never touch the file system, the environment or the clock.
 */
import type { Branch, Branches, TreeValue } from "../sops/tree.js"

/** The formats sops knows, by their `--input-type`/`--output-type` names. */
export const FORMATS = ["yaml", "json", "dotenv", "ini", "binary"] as const

/** One of {@link FORMATS}. */
export type Format = (typeof FORMATS)[number]

/** Per-format output options (`.sops.yaml` `stores:` and `--indent`). */
export interface StoreOptions {
    /** YAML indent (default 4; values outside 2..9 behave as 2). */
    yamlIndent?: number
    /** JSON indent: -1 = tab (default), 0 = newlines without indent, n = n spaces. */
    jsonIndent?: number
    /** JSON indent of the binary store's envelope. */
    binaryIndent?: number
}

/** An encrypted file as read: its documents and the raw metadata tree (the value of the `sops` key). */
export interface EncryptedFile {
    branches: Branches
    /** The metadata as a plain tree, not yet validated (see `src/sops/metadata.ts`). */
    metadata: Branch
}

/** A file format. */
export interface Store {
    readonly format: Format
    /**
     * Parse a plaintext file.
     * @throws FormatError with a line (and column where known) on malformed input.
     */
    loadPlain(input: Uint8Array): Branches
    /**
     * Parse an encrypted file and split off the metadata (removed from the branches).
     * @throws MetadataNotFoundError when there is no metadata; FormatError on malformed input.
     */
    loadEncrypted(input: Uint8Array): EncryptedFile
    /** Write a plaintext file. */
    emitPlain(branches: Branches): Uint8Array
    /** Write an encrypted file: the branches with the metadata tree appended as the `sops` key (or flattened). */
    emitEncrypted(branches: Branches, metadata: Branch): Uint8Array
    /** Write a single value (for `decrypt --extract`): strings raw, maps as a document, other values in the format. */
    emitValue(value: TreeValue): Uint8Array
    /** True when the plaintext tree already holds the metadata key (`sops`, or `sops_*` for dotenv). */
    hasMetadataKey(branches: Branches): boolean
}
