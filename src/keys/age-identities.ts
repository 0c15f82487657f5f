/**
 * Loading age identities from every location sops reads, combined, with sops' error reporting
 * ("Errors while loading age identities: …. Did not find keys in locations …").
 */
import { readFile, stat } from "node:fs/promises"
import { platform } from "node:os"
import { join } from "node:path"
import type { KeyContext } from "./provider.js"
import {
    type AgeIdentity,
    type Stanza,
    ScryptIdentity,
    X25519Identity,
    ageDecryptPayload,
    armorDecode,
    bech32Decode,
    parseAgeFile,
    parseX25519Identity,
} from "./age-format.js"
import { parseSshIdentity } from "./age-ssh.js"
import { execFile, shellSplit } from "./exec.js"

/** Environment variable holding the passphrase of passphrase-protected age identity files (sops prompts). */
export const AGE_PASSPHRASE_ENV = "KUBECTL_SOPS_AGE_PASSPHRASE"

/** The result of loading identities: what was found, what failed, and the locations that held nothing. */
export interface LoadedIdentities {
    /** Native identities first, then those that need a library or a passphrase. */
    readonly identities: readonly AgeIdentity[]
    readonly errors: readonly string[]
    readonly unused: readonly string[]
}

const NATIVE_TYPES = new Set(["X25519", "ssh-ed25519", "ssh-rsa", "scrypt", "mlkem768x25519"])

/** A hybrid post-quantum identity, delegated to the `age-encryption` package (loaded only when needed). */
class HybridIdentity implements AgeIdentity {
    readonly #identity: string

    constructor(identity: string) {
        this.#identity = identity
    }

    async unwrap(stanzas: readonly Stanza[], header: Uint8Array): Promise<Uint8Array | null> {
        if (!stanzas.some((s) => s.args[0] === "mlkem768x25519")) return null
        const { Decrypter } = await import("age-encryption")
        const d = new Decrypter()
        d.addIdentity(this.#identity)
        try {
            return await d.decryptHeader(header)
        } catch (e) {
            if (/no identity matched/.test((e as Error).message)) return null
            throw e
        }
    }
}

/** An `AGE-PLUGIN-…` identity: recognised, but plugins are not supported. */
class PluginIdentity implements AgeIdentity {
    readonly #name: string

    constructor(identity: string) {
        this.#name = identity.slice(0, identity.lastIndexOf("1"))
    }

    unwrap(stanzas: readonly Stanza[]): Uint8Array | null {
        if (stanzas.some((s) => !NATIVE_TYPES.has(s.args[0]))) {
            throw new Error(`age plugins are not supported (identity ${this.#name}-…)`)
        }
        return null
    }
}

/** A passphrase-protected identity file, decrypted on first use with {@link AGE_PASSPHRASE_ENV}. */
class EncryptedIdentityFile implements AgeIdentity {
    readonly #location: string
    readonly #contents: Uint8Array
    readonly #passphrase: string | undefined
    #inner: AgeIdentity[] | undefined

    constructor(location: string, contents: Uint8Array, passphrase: string | undefined) {
        this.#location = location
        this.#contents = contents
        this.#passphrase = passphrase
    }

    async unwrap(stanzas: readonly Stanza[], header: Uint8Array): Promise<Uint8Array | null> {
        if (this.#inner === undefined) {
            if (this.#passphrase === undefined) {
                throw new Error(
                    `identity file '${this.#location}' is passphrase-protected: set ${AGE_PASSPHRASE_ENV} to its passphrase`,
                )
            }
            const file = parseAgeFile(this.#contents)
            const fileKey = new ScryptIdentity(this.#passphrase).unwrap(file.stanzas)
            if (fileKey === null) throw new Error(`identity file '${this.#location}' is not passphrase-encrypted`)
            const text = new TextDecoder().decode(ageDecryptPayload(file, fileKey))
            this.#inner = parseIdentityText(text, false)
        }
        for (const id of this.#inner) {
            const fileKey = await id.unwrap(stanzas, header)
            if (fileKey !== null) return fileKey
        }
        return null
    }
}

/** Parse one identity string. */
function parseIdentity(s: string): AgeIdentity {
    if (s.startsWith("AGE-PLUGIN-")) {
        if (bech32Decode(s) === null) throw new Error("malformed plugin identity")
        return new PluginIdentity(s)
    }
    if (s.startsWith("AGE-SECRET-KEY-PQ-1")) {
        const d = bech32Decode(s)
        if (d === null || d.hrp !== "age-secret-key-pq-" || s !== s.toUpperCase()) {
            throw new Error("malformed secret key: invalid hybrid identity encoding")
        }
        return new HybridIdentity(s)
    }
    if (s.startsWith("AGE-SECRET-KEY-1")) {
        const scalar = parseX25519Identity(s)
        if (scalar === null) throw new Error("malformed secret key")
        return new X25519Identity(scalar)
    }
    throw new Error("unknown identity type")
}

/**
 * Parse an identity list: one identity per line (or, with `multiplePerLine`, whitespace-separated words);
 * empty lines and lines starting with `#` are skipped.
 * @throws Error on the first malformed identity (the caller names the location).
 */
export function parseIdentityText(text: string, multiplePerLine: boolean): AgeIdentity[] {
    const out: AgeIdentity[] = []
    for (const raw of text.split("\n")) {
        const line = raw.replace(/\r$/, "")
        if (line === "" || line.startsWith("#")) continue
        const words = multiplePerLine ? line.split(/\s+/).filter((w) => w !== "") : [line.trim()]
        for (const w of words) out.push(parseIdentity(w))
    }
    return out
}

function describeFsError(op: string, path: string, e: unknown): string {
    const code = (e as NodeJS.ErrnoException).code
    const why: Record<string, string> = {
        ENOENT: "no such file or directory",
        EACCES: "permission denied",
        EISDIR: "is a directory",
        ENOTDIR: "not a directory",
    }
    return `${op} ${path}: ${(code !== undefined && why[code]) || (e as Error).message}`
}

/** Content of an identity source, with sops' peek for age-encrypted (passphrase-protected) identity files. */
function unwrapIdentities(location: string, content: Buffer, multiple: boolean, ctx: KeyContext): AgeIdentity[] {
    const peek = content.subarray(0, 14).toString("latin1")
    if (peek === "age-encryption" || peek === "-----BEGIN AGE") {
        let binary: Uint8Array
        try {
            binary = peek === "age-encryption" ? content : armorDecode(content.toString("utf8"))
        } catch (e) {
            throw new Error(`failed to read '${location}': ${(e as Error).message}`)
        }
        return [new EncryptedIdentityFile(location, binary, ctx.env[AGE_PASSPHRASE_ENV])]
    }
    try {
        return parseIdentityText(content.toString("utf8"), multiple)
    } catch (e) {
        throw new Error(`failed to parse '${location}' age identities: ${(e as Error).message}`)
    }
}

async function runCommand(command: string, ctx: KeyContext, recipient: string): Promise<Buffer> {
    let words: string[]
    try {
        words = shellSplit(command)
    } catch (e) {
        throw new Error(`failed to parse command ${command}: ${(e as Error).message}`)
    }
    if (words.length === 0) throw new Error(`failed to parse command ${command}: empty command`)
    let result: Awaited<ReturnType<typeof execFile>>
    try {
        result = await execFile(words[0], words.slice(1), { env: { ...ctx.env, SOPS_AGE_RECIPIENT: recipient } })
    } catch (e) {
        throw new Error(`failed to execute command ${command}: ${(e as Error).message}`)
    }
    if (result.code !== 0) {
        throw new Error(`failed to execute command ${command}: exit status ${result.code ?? "signal"}`)
    }
    return result.stdout
}

async function exists(path: string): Promise<boolean> {
    try {
        await stat(path)
        return true
    } catch {
        return false
    }
}

function userConfigDir(ctx: KeyContext): string {
    const xdg = ctx.env.XDG_CONFIG_HOME
    if (platform() === "darwin") {
        return xdg !== undefined && xdg !== "" ? xdg : join(ctx.homeDir, "Library", "Application Support")
    }
    return xdg !== undefined && xdg !== "" ? xdg : join(ctx.homeDir, ".config")
}

/**
 * Load and combine age identities from (in sops' order) SOPS_AGE_SSH_PRIVATE_KEY_FILE,
 * SOPS_AGE_SSH_PRIVATE_KEY_CMD, ~/.ssh/id_ed25519, ~/.ssh/id_rsa, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
 * SOPS_AGE_KEY_CMD and `<user config dir>/sops/age/keys.txt`. Never throws: failures are collected.
 */
export async function loadAgeIdentities(ctx: KeyContext, recipient: string): Promise<LoadedIdentities> {
    const env = ctx.env
    const identities: AgeIdentity[] = []
    const errors: string[] = []
    const unused: string[] = []

    const sshFile = env.SOPS_AGE_SSH_PRIVATE_KEY_FILE
    if (sshFile !== undefined) {
        try {
            identities.push(await loadSshFile(sshFile))
        } catch (e) {
            errors.push((e as Error).message)
        }
    } else {
        unused.push("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    }

    const sshCmd = env.SOPS_AGE_SSH_PRIVATE_KEY_CMD
    if (sshCmd !== undefined) {
        try {
            const out = await runCommand(sshCmd, ctx, recipient)
            try {
                identities.push(parseSshIdentity(out.toString("utf8"), "returned by SOPS_AGE_SSH_PRIVATE_KEY_CMD"))
            } catch (e) {
                throw new Error(
                    `malformed SSH identity returned by running SOPS_AGE_SSH_PRIVATE_KEY_CMD: ${(e as Error).message}`,
                )
            }
        } catch (e) {
            errors.push((e as Error).message)
        }
    } else {
        unused.push("SOPS_AGE_SSH_PRIVATE_KEY_CMD")
    }

    if (ctx.homeDir !== "") {
        for (const name of ["id_ed25519", "id_rsa"]) {
            const path = join(ctx.homeDir, ".ssh", name)
            if (await exists(path)) {
                try {
                    identities.push(await loadSshFile(path))
                } catch (e) {
                    errors.push((e as Error).message)
                }
            } else {
                unused.push(tilde(path, ctx.homeDir))
            }
        }
    }

    const readers: { location: string; content: Buffer; multiple: boolean }[] = []
    if (env.SOPS_AGE_KEY !== undefined) {
        readers.push({ location: "SOPS_AGE_KEY", content: Buffer.from(env.SOPS_AGE_KEY), multiple: true })
    } else {
        unused.push("SOPS_AGE_KEY")
    }
    const keyFile = env.SOPS_AGE_KEY_FILE
    if (keyFile !== undefined) {
        try {
            readers.push({ location: "SOPS_AGE_KEY_FILE", content: await readFile(keyFile), multiple: false })
        } catch (e) {
            errors.push(`failed to open SOPS_AGE_KEY_FILE file: ${describeFsError("open", keyFile, e)}`)
        }
    } else {
        unused.push("SOPS_AGE_KEY_FILE")
    }
    const keyCmd = env.SOPS_AGE_KEY_CMD
    if (keyCmd !== undefined) {
        try {
            readers.push({ location: "SOPS_AGE_KEY_CMD", content: await runCommand(keyCmd, ctx, recipient), multiple: false })
        } catch (e) {
            errors.push((e as Error).message)
        }
    } else {
        unused.push("SOPS_AGE_KEY_CMD")
    }
    const configPath = join(userConfigDir(ctx), "sops", "age", "keys.txt")
    try {
        readers.push({ location: configPath, content: await readFile(configPath), multiple: false })
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
            errors.push(`failed to open file: ${describeFsError("open", configPath, e)}`)
        } else if (readers.length === 0 && identities.length === 0) {
            unused.push(tilde(configPath, ctx.homeDir))
        }
    }

    for (const r of readers) {
        try {
            const ids = unwrapIdentities(r.location, r.content, r.multiple, ctx)
            identities.push(...ids)
            if (ids.length === 0) unused.push(r.location)
        } catch (e) {
            errors.push((e as Error).message)
        }
    }

    // identities that need a library, a passphrase or a plugin go last, so the common case stays native
    const lazy = (i: AgeIdentity) =>
        i instanceof HybridIdentity || i instanceof EncryptedIdentityFile || i instanceof PluginIdentity
    return { identities: [...identities.filter((i) => !lazy(i)), ...identities.filter(lazy)], errors, unused }
}

async function loadSshFile(path: string): Promise<AgeIdentity> {
    let text: string
    try {
        text = await readFile(path, "utf8")
    } catch (e) {
        throw new Error(`failed to open file: ${describeFsError("open", path, e)}`)
    }
    try {
        return parseSshIdentity(text, `'${path}'`)
    } catch (e) {
        throw new Error(`malformed SSH identity in "${path}": ${(e as Error).message}`)
    }
}

/** A path under the home directory written as `~/…`, as sops names its default locations. */
function tilde(path: string, home: string): string {
    return home !== "" && path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path
}

/** sops' error text: message, loading errors, and the locations that held no keys. */
export function formatAgeError(message: string, cause: string | undefined, loaded: LoadedIdentities): string {
    let out = cause === undefined ? message : `${message}: ${cause}`
    if (loaded.errors.length > 0) out += `. Errors while loading age identities: ${loaded.errors.join("; ")}`
    const u = loaded.unused
    if (u.length === 1) out += `. Did not find keys in location '${u[0]}'.`
    else if (u.length === 2) out += `. Did not find keys in locations '${u[0]}' and '${u[1]}'.`
    else if (u.length > 2) {
        out += `. Did not find keys in locations '${u.slice(0, -1).join("', '")}', and '${u[u.length - 1]}'.`
    }
    return out
}
