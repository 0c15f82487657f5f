/**
 * The one error hierarchy of kubectl-sops.
 *
 * Library code throws these; only `src/cli/exit-codes.ts` turns a {@link ErrorKind} into a process exit
 * status (sops' numbers where sops has one). Messages never contain secret values, data keys or private keys.
 */

/** Stable error kinds. Each maps to exactly one exit status in `src/cli/exit-codes.ts`. */
export const ErrorKind = {
    Generic: "generic",
    CouldNotReadInputFile: "could-not-read-input-file",
    CouldNotWriteOutputFile: "could-not-write-output-file",
    ErrorDumpingTree: "error-dumping-tree",
    InvalidEncryptionContext: "invalid-encryption-context",
    InvalidSetFormat: "invalid-set-format",
    ConflictingParameters: "conflicting-parameters",
    EncryptingMac: "encrypting-mac",
    EncryptingTree: "encrypting-tree",
    DecryptingTree: "decrypting-tree",
    CannotChangeKeysFromNonExistentFile: "cannot-change-keys-from-non-existent-file",
    MacMismatch: "mac-mismatch",
    InvalidTreePathFormat: "invalid-tree-path-format",
    NeedAtLeastOneDocument: "need-at-least-one-document",
    NoFileSpecified: "no-file-specified",
    DuplicateDecryptionKeyType: "duplicate-decryption-key-type",
    CouldNotRetrieveKey: "could-not-retrieve-key",
    FileHasNotBeenModified: "file-has-not-been-modified",
    NoEditorFound: "no-editor-found",
    FailedToCompareVersions: "failed-to-compare-versions",
    FileAlreadyEncrypted: "file-already-encrypted",
    /** Bad command line: unknown flag, missing argument, conflicting options. */
    Usage: "usage",
    /** A malformed input file (YAML/JSON/dotenv/INI syntax, not a SOPS file, bad metadata). */
    Format: "format",
    /** A bad `.sops.yaml` or no matching creation rule. */
    Config: "config",
    /** No key could encrypt the data key (a recipient failed) or no key was given. */
    NoEncryptionKey: "no-encryption-key",
    /** The cluster cannot be reached, or the kubeconfig is missing or malformed. */
    ClusterUnreachable: "cluster-unreachable",
    /** The API server refused the request (401/403). */
    ClusterForbidden: "cluster-forbidden",
    /** An object or an API (for example the Flux CRDs) does not exist (404). */
    ClusterNotFound: "cluster-not-found",
    /** A conflict: field-manager conflict on server-side apply, or a concurrent change (409). */
    ClusterConflict: "cluster-conflict",
    /** The API server rejected an object as invalid (422, 400). */
    ClusterInvalid: "cluster-invalid",
    /** A wait ran out of time (`--timeout`). */
    Timeout: "timeout",
    /** A Flux object reports failure (Ready=False, Stalled) while waiting. */
    ReconcileFailed: "reconcile-failed",
    /** `check`/`doctor` found a problem: kustomize-controller would fail. */
    CheckFailed: "check-failed",
} as const

/** One of {@link ErrorKind}'s values. */
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind]

/** Options shared by every {@link KsopsError}. */
export interface KsopsErrorOptions {
    /** The underlying error. */
    cause?: unknown
    /** One short line that tells the user what to do about it. */
    hint?: string
}

/** Base class: a kind (mapped to an exit code by the CLI), a message, an optional hint. */
export class KsopsError extends Error {
    readonly kind: ErrorKind
    readonly hint: string | undefined

    constructor(kind: ErrorKind, message: string, options: KsopsErrorOptions = {}) {
        super(message, options.cause === undefined ? undefined : { cause: options.cause })
        this.name = new.target.name
        this.kind = kind
        this.hint = options.hint
    }
}

/** A position in an input file, 1-based. */
export interface SourcePosition {
    line: number
    column?: number
}

/** A malformed input: where it is (file name filled in by the caller when known, line, column) and what is wrong. */
export class FormatError extends KsopsError {
    file: string | undefined
    readonly position: SourcePosition | undefined
    readonly detail: string

    constructor(detail: string, position?: SourcePosition, options: KsopsErrorOptions & { file?: string } = {}) {
        super(ErrorKind.Format, "", options)
        this.detail = detail
        this.position = position
        this.file = options.file
        this.message = this.render()
    }

    /** Attach the file name (stores are pure and do not know it). */
    withFile(file: string): this {
        this.file = file
        this.message = this.render()
        return this
    }

    private render(): string {
        const where = [this.file, this.position?.line, this.position?.column].filter((p) => p !== undefined)
        return where.length > 0 ? `${where.join(":")}: ${this.detail}` : this.detail
    }
}

/** A mapping key that is not a string (`1:`, `true:`, `null:`, a date): sops loads it, then fails walking the tree. */
export class NonStringKeyError extends FormatError {}

/** The file has no `sops` metadata (not encrypted, or not a SOPS file). */
export class MetadataNotFoundError extends KsopsError {
    constructor(options: KsopsErrorOptions = {}) {
        super(ErrorKind.Generic, "sops metadata not found", {
            hint: "this file is not encrypted; encrypt it with `kubectl sops encrypt`",
            ...options,
        })
    }
}

/** The computed MAC differs from the file's, or the file's MAC cannot be decrypted. */
export class MacMismatchError extends KsopsError {
    constructor(message: string, options: KsopsErrorOptions = {}) {
        super(ErrorKind.MacMismatch, message, {
            hint: "the file was changed outside sops; use --ignore-mac only if you trust the change",
            ...options,
        })
    }
}

/** One key that was tried while recovering a data key, and why it failed. */
export interface KeyAttempt {
    /** Identity string of the key (recipient, fingerprint, URI, …). Never secret material. */
    key: string
    /** Why it did not work. */
    error: string
}

/** One key group's failed attempts. */
export interface GroupAttempts {
    group: number
    ok: boolean
    attempts: KeyAttempt[]
}

/** No master key could recover the data key (sops exit 128). */
export class NoKeyMatchedError extends KsopsError {
    readonly groups: GroupAttempts[]

    constructor(message: string, groups: GroupAttempts[], options: KsopsErrorOptions = {}) {
        super(ErrorKind.CouldNotRetrieveKey, message, options)
        this.groups = groups
    }
}

/** A key provider failed (network, binary, malformed key). Carries the provider type. */
export class KeyProviderError extends KsopsError {
    readonly provider: string

    constructor(provider: string, message: string, options: KsopsErrorOptions = {}) {
        super(ErrorKind.Generic, message, options)
        this.provider = provider
    }
}

/** A bad `.sops.yaml`. */
export class ConfigError extends KsopsError {
    constructor(message: string, options: KsopsErrorOptions = {}) {
        super(ErrorKind.Config, message, options)
    }
}

/** A bad command line. */
export class UsageError extends KsopsError {
    constructor(message: string, options: KsopsErrorOptions & { kind?: ErrorKind } = {}) {
        super(options.kind ?? ErrorKind.Usage, message, options)
    }
}

/**
 * An error from the Kubernetes API or from reaching it. Carries the HTTP status and the API `reason` when the server
 * answered. The message never contains the request or response body (it may echo a Secret).
 */
export class KubeError extends KsopsError {
    /** HTTP status, 0 when the server was not reached. */
    readonly status: number
    /** The API Status `reason` (`NotFound`, `Forbidden`, `Conflict`, `Invalid`, …), when known. */
    readonly reason: string | undefined

    constructor(kind: ErrorKind, message: string, options: KsopsErrorOptions & { status?: number; reason?: string } = {}) {
        super(kind, message, options)
        this.status = options.status ?? 0
        this.reason = options.reason
    }
}
