/**
 * The OpenPGP key provider (`pgp` metadata entries, `{fp}`).
 *
 * Encrypt: a public key from the armored key files in `KUBECTL_SOPS_PGP_PUBKEYS` (colon-separated paths, e.g. a
 * team's `.sops.pub.asc`) through openpgp.js (SEIPD v1 with MDC, readable by every GnuPG), else the GnuPG
 * binary exactly as sops runs it (`SOPS_GPG_EXEC` or `gpg`, `GNUPGHOME` honoured), else the `.sops.pub.asc` committed
 * beside the `.sops.yaml` in use ({@link KeyContext.pgpPublicKeyFiles}).
 * Decrypt: the armored secret keys in `KUBECTL_SOPS_PGP_KEY_FILE` (colon-separated paths; passphrase from
 * `KUBECTL_SOPS_PGP_PASSPHRASE`), else `gpg -d` as sops does. openpgp.js is imported only when a key file is used.
 * Known limit: GnuPG 2.4 writes LibrePGP OCB packets (tag 20) when every recipient key advertises AEAD (keys made by
 * GnuPG 2.4 do); openpgp.js and the agent's fast path cannot read those yet, the gpg binary can.
 */
import { readFile } from "node:fs/promises"
import { KeyProviderError, UsageError } from "../errors.js"
import type { KeyParams } from "../sops/keys.js"
import { execFile } from "./exec.js"
import { decryptWithKeyFiles, encryptWithKeyFiles } from "./pgp-openpgp.js"
import type { KeyContext, KeyProvider } from "./provider.js"

/** Environment variable: colon-separated armored public key files used for encryption before GnuPG. */
export const PGP_PUBKEYS_ENV = "KUBECTL_SOPS_PGP_PUBKEYS"
/** Environment variable: colon-separated armored secret key files used for decryption before GnuPG. */
export const PGP_KEY_FILE_ENV = "KUBECTL_SOPS_PGP_KEY_FILE"
/** Environment variable: passphrase of passphrase-protected secret keys in {@link PGP_KEY_FILE_ENV}. */
export const PGP_PASSPHRASE_ENV = "KUBECTL_SOPS_PGP_PASSPHRASE"

const FP_RE = /^(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})!?$/

function fingerprintOf(params: KeyParams): string {
    const fp = params.fp
    if (typeof fp !== "string" || fp === "") throw new KeyProviderError("pgp", "pgp key entry has no fingerprint")
    return fp
}

/** The last 16 hex digits (the long key ID), keeping a trailing `!` as sops does. */
function shortenFingerprint(fp: string): string {
    let offset = fp.length - 16
    if (fp.endsWith("!")) offset -= 1
    return offset > 0 ? fp.slice(offset) : fp
}

function gpgBinary(ctx: KeyContext): string {
    const b = ctx.env.SOPS_GPG_EXEC
    return b !== undefined && b !== "" ? b : "gpg"
}

async function runGpg(ctx: KeyContext, args: string[], stdin: Uint8Array | string) {
    try {
        return await execFile(gpgBinary(ctx), args, { env: ctx.env, stdin })
    } catch (e) {
        throw new Error(`could not run ${gpgBinary(ctx)}: ${(e as Error).message}`)
    }
}

async function encryptWithGnuPG(ctx: KeyContext, fp: string, part: Uint8Array): Promise<string> {
    const args = ["--no-default-recipient", "--yes", "--encrypt", "-a", "-r", fp]
    args.push("--trusted-key", shortenFingerprint(fp), "--no-encrypt-to")
    const r = await runGpg(ctx, args, part)
    if (r.code !== 0) throw new Error(`failed to encrypt sops data key with pgp: ${r.stderr.toString().trim()}`)
    return r.stdout.toString("utf8").trim()
}

async function decryptWithGnuPG(ctx: KeyContext, enc: string): Promise<Uint8Array> {
    const r = await runGpg(ctx, ["-d"], enc)
    if (r.code !== 0) throw new Error(`failed to decrypt sops data key with pgp: ${r.stderr.toString().trim()}`)
    if (r.stdout.length === 0) throw new Error("failed to decrypt sops data key with pgp: zero bytes returned")
    return new Uint8Array(r.stdout)
}

function paths(value: string | undefined): string[] {
    return value === undefined ? [] : value.split(":").filter((p) => p !== "")
}

/** Read the armored key files of an env variable once per process. */
function keyFileTexts(ctx: KeyContext, env: string): Promise<{ path: string; text: string }[]> {
    return ctx.memo(`pgp:files:${env}`, () =>
        Promise.all(
            paths(ctx.env[env]).map(async (path) => {
                try {
                    return { path, text: await readFile(path, "utf8") }
                } catch (e) {
                    throw new Error(`cannot read ${env} file ${path}: ${(e as Error).message}`)
                }
            }),
        ),
    )
}

/** The OpenPGP provider. */
export const pgpProvider: KeyProvider = {
    type: "pgp",
    hasCreatedAt: true,

    parseSpec(spec: string): KeyParams {
        const fp = spec.replaceAll(" ", "")
        if (!FP_RE.test(fp)) {
            throw new UsageError(
                `invalid PGP fingerprint "${spec.trim()}": expected 40 hex digits (a v4 fingerprint), 64 (v5/v6) or a 16-digit long key ID, spaces allowed`,
            )
        }
        return { fp }
    },

    keyId(params: KeyParams): string {
        return String(params.fp ?? "")
    },

    async encrypt(params: KeyParams, part: Uint8Array, ctx: KeyContext): Promise<string> {
        const fp = fingerprintOf(params)
        const errors: string[] = []
        if (ctx.env[PGP_PUBKEYS_ENV] !== undefined) {
            try {
                const armored = await encryptWithKeyFiles(await keyFileTexts(ctx, PGP_PUBKEYS_ENV), fp, part)
                if (armored !== null) return armored
                errors.push(`${PGP_PUBKEYS_ENV}: no key with fingerprint ${fp}`)
            } catch (e) {
                errors.push(`${PGP_PUBKEYS_ENV}: ${(e as Error).message}`)
            }
        }
        try {
            return await encryptWithGnuPG(ctx, fp, part)
        } catch (e) {
            errors.push(`GnuPG binary error: ${(e as Error).message}`)
        }
        // the public key committed beside .sops.yaml (.sops.pub.asc): the fingerprint must match
        for (const file of ctx.pgpPublicKeyFiles ?? []) {
            try {
                const texts = await ctx.memo(`pgp:pub:${file}`, async () => [{ path: file, text: await readFile(file, "utf8") }])
                const armored = await encryptWithKeyFiles(texts, fp, part)
                if (armored !== null) return armored
            } catch (e) {
                errors.push(`${file}: ${(e as Error).message}`)
            }
        }
        throw new KeyProviderError("pgp", `could not encrypt data key with PGP key: ${errors.join("; ")}`, {
            hint: `import the public key into GnuPG (gpg --import key.asc) or list its file in ${PGP_PUBKEYS_ENV}`,
        })
    },

    async decrypt(params: KeyParams, enc: string, ctx: KeyContext): Promise<Uint8Array> {
        const fp = fingerprintOf(params)
        const errors: string[] = []
        if (ctx.env[PGP_KEY_FILE_ENV] !== undefined) {
            try {
                const out = await decryptWithKeyFiles(
                    await keyFileTexts(ctx, PGP_KEY_FILE_ENV),
                    enc,
                    ctx.env[PGP_PASSPHRASE_ENV],
                    ctx,
                )
                if (out !== null) return out
                errors.push(`${PGP_KEY_FILE_ENV}: no secret key for this message`)
            } catch (e) {
                errors.push(`${PGP_KEY_FILE_ENV}: ${(e as Error).message}`)
            }
        }
        try {
            return await decryptWithGnuPG(ctx, enc)
        } catch (e) {
            errors.push(`GnuPG binary error: ${(e as Error).message}`)
        }
        throw new KeyProviderError("pgp", `could not decrypt data key with PGP key: ${errors.join("; ")}`, {
            hint: `import the secret key of ${fp} into GnuPG or list its armored file in ${PGP_KEY_FILE_ENV}`,
        })
    },
}
