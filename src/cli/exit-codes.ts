/**
 * The one table from {@link ErrorKind} to process exit status. sops 3.13.2's numbers where sops has one
 * (`cmd/sops/codes/codes.go`); kinds sops reports without a code exit 1, as sops does.
 *
 * Usage errors (unknown flag, missing argument) exit 1: sops' CLI library prints the usage and returns an error,
 * which sops turns into exit status 1. Conflicting options that sops checks itself (`decrypt -i` on stdin,
 * `-i` with `--output`) are {@link ErrorKind.ConflictingParameters} and exit 8.
 *
 * Cluster and Flux failures (bootstrap, create, check, doctor) exit 1, as kubectl and flux do.
 */
import { ErrorKind } from "../errors.js"

/** Exit status per error kind. */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = {
    [ErrorKind.Generic]: 1,
    [ErrorKind.CouldNotReadInputFile]: 2,
    [ErrorKind.CouldNotWriteOutputFile]: 3,
    [ErrorKind.ErrorDumpingTree]: 4,
    [ErrorKind.InvalidEncryptionContext]: 6,
    [ErrorKind.InvalidSetFormat]: 7,
    [ErrorKind.ConflictingParameters]: 8,
    [ErrorKind.EncryptingMac]: 21,
    [ErrorKind.EncryptingTree]: 23,
    [ErrorKind.DecryptingTree]: 25,
    [ErrorKind.CannotChangeKeysFromNonExistentFile]: 49,
    [ErrorKind.MacMismatch]: 51,
    [ErrorKind.InvalidTreePathFormat]: 91,
    [ErrorKind.NeedAtLeastOneDocument]: 92,
    [ErrorKind.NoFileSpecified]: 100,
    [ErrorKind.DuplicateDecryptionKeyType]: 112,
    [ErrorKind.CouldNotRetrieveKey]: 128,
    [ErrorKind.FileHasNotBeenModified]: 200,
    [ErrorKind.NoEditorFound]: 201,
    [ErrorKind.FailedToCompareVersions]: 202,
    [ErrorKind.FileAlreadyEncrypted]: 203,
    [ErrorKind.Usage]: 1,
    [ErrorKind.Format]: 1,
    [ErrorKind.Config]: 1,
    [ErrorKind.NoEncryptionKey]: 1,
    // Cluster and Flux errors: kubectl and flux exit 1 for every failure; so do we (the kinds stay distinct for -o json).
    [ErrorKind.ClusterUnreachable]: 1,
    [ErrorKind.ClusterForbidden]: 1,
    [ErrorKind.ClusterNotFound]: 1,
    [ErrorKind.ClusterConflict]: 1,
    [ErrorKind.ClusterInvalid]: 1,
    [ErrorKind.Timeout]: 1,
    [ErrorKind.ReconcileFailed]: 1,
    [ErrorKind.CheckFailed]: 1,
}

/** Exit status of an unexpected (non-{@link ErrorKind}) error. */
export const EXIT_INTERNAL = 1

/** The exit status for an error kind. */
export function exitCodeFor(kind: ErrorKind): number {
    return EXIT_CODES[kind] ?? EXIT_INTERNAL
}
