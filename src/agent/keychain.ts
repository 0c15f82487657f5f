/**
 * Where the agent persists private keys: one entry per key (account = key id, value = the StoredKey JSON).
 *
 * - {@link SecretServiceKeychain}: the OS keychain through `@napi-rs/keyring`, PINNED to the Secret Service on
 *   Linux (gnome-keyring, KWallet, KeePassXC…), service `kubectl-sops`. No silent fallback to the kernel keyring
 *   (which does not survive a reboot) or to a plaintext file: when no Secret Service answers, it says so.
 * - {@link FileKeychain}: an explicit `file:PATH` for headless servers: one file holding the whole map, encrypted
 *   as an age file to a passphrase (scrypt), replaced atomically (0600 temp file, fsync, rename).
 */
import { randomBytes } from "node:crypto"
import { constants as fsConstants } from "node:fs"
import { mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises"
import { dirname, isAbsolute, resolve } from "node:path"
import { ErrorKind, KsopsError } from "../errors.js"
import { PassphraseError, openWithPassphrase, sealWithPassphrase } from "../keys/keystore.js"

/** The Secret Service "service" (and the file keychain's format tag). */
export const KEYCHAIN_SERVICE = "kubectl-sops"
/** Environment variable with the passphrase of a `file:` keychain. */
export const KEYCHAIN_PASSPHRASE_ENV = "KUBECTL_SOPS_KEYCHAIN_PASSPHRASE"

/** A key-value store of StoredKey JSON by key id. */
export interface Keychain {
    /** "Secret Service (kubectl-sops)" / "file:/path". */
    readonly description: string
    /** The ids of the stored keys. */
    list(): Promise<string[]>
    /** The StoredKey JSON of a key, undefined when absent. */
    get(id: string): Promise<string | undefined>
    /** Store (or replace) a key's JSON. */
    set(id: string, value: string): Promise<void>
    /** Remove a key; false when it was not there. */
    delete(id: string): Promise<boolean>
    /**
     * Drop what is held in memory between calls (a file keychain's passphrase and decrypted contents); the next
     * call reads the keychain again (asking for the passphrase again when it came from the prompt).
     */
    forget?(): void
}

/** Options of {@link openKeychain} and {@link FileKeychain}. */
export interface KeychainOptions {
    /** Environment snapshot (for {@link KEYCHAIN_PASSPHRASE_ENV}); process.env is never read. */
    env?: Readonly<Record<string, string | undefined>>
    /** Asks the user for the file keychain's passphrase when the environment has none. */
    passphrase?: () => Promise<string>
    /** Working directory for a relative `file:` path. */
    cwd?: string
    /** scrypt work factor (log2 N) when writing a file keychain; age's default (18) when absent. */
    scryptLogN?: number
}

const NO_SECRET_SERVICE_HINT =
    "start gnome-keyring (or another Secret Service) in a D-Bus session, or use --keychain file:PATH"

function keychainError(message: string, cause?: unknown, hint?: string): KsopsError {
    return new KsopsError(ErrorKind.Generic, message, { cause, ...(hint === undefined ? {} : { hint }) })
}

function firstLine(e: unknown): string {
    return String((e as Error)?.message ?? e)
        .split("\n")[0]
        .trim()
}

// ---------------------------------------------------------------------------------------------------------
// Secret Service

type Keyring = typeof import("@napi-rs/keyring")

const PINNED = { linux: { store: "secret-service" as const } }

/** The OS keychain (Secret Service on Linux, pinned; the platform keychain elsewhere). */
export class SecretServiceKeychain implements Keychain {
    readonly description = `Secret Service (${KEYCHAIN_SERVICE})`
    readonly #keyring: Keyring
    readonly #service: string

    private constructor(keyring: Keyring, service: string) {
        this.#keyring = keyring
        this.#service = service
    }

    /**
     * Connect to the Secret Service.
     * @param service the service name (tests use their own; default `kubectl-sops`).
     * @throws KsopsError with a hint when no Secret Service is reachable.
     */
    static async open(service: string = KEYCHAIN_SERVICE): Promise<SecretServiceKeychain> {
        let keyring: Keyring
        try {
            keyring = await import("@napi-rs/keyring")
        } catch (e) {
            throw keychainError(`cannot load the OS keychain binding: ${firstLine(e)}`, e, NO_SECRET_SERVICE_HINT)
        }
        const kc = new SecretServiceKeychain(keyring, service)
        // a pinned entry throws when the Secret Service is unreachable; reading it checks that it answers
        try {
            await kc.#entry("kubectl-sops-probe").getPassword()
        } catch (e) {
            throw kc.#unavailable(e)
        }
        return kc
    }

    #unavailable(e: unknown): KsopsError {
        return keychainError(`no Secret Service keychain reachable: ${firstLine(e)}`, e, NO_SECRET_SERVICE_HINT)
    }

    #entry(id: string) {
        try {
            return new this.#keyring.AsyncEntry(this.#service, id, PINNED)
        } catch (e) {
            throw this.#unavailable(e)
        }
    }

    async list(): Promise<string[]> {
        // make sure the pinned store answers before searching (the search itself takes no store option)
        await this.#call(() => this.#entry("kubectl-sops-probe").getPassword())
        const found = await this.#call(() => this.#keyring.findCredentialsAsync(this.#service))
        return [...new Set(found.map((c) => c.account))].filter((a) => a !== "kubectl-sops-probe").sort()
    }

    async get(id: string): Promise<string | undefined> {
        const v = await this.#call(() => this.#entry(id).getPassword())
        return v ?? undefined
    }

    async set(id: string, value: string): Promise<void> {
        await this.#call(() => this.#entry(id).setPassword(value))
    }

    async delete(id: string): Promise<boolean> {
        return this.#call(() => this.#entry(id).deleteCredential())
    }

    async #call<T>(run: () => Promise<T>): Promise<T> {
        try {
            return await run()
        } catch (e) {
            if (e instanceof KsopsError) throw e
            throw keychainError(`Secret Service keychain: ${firstLine(e)}`, e, NO_SECRET_SERVICE_HINT)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// file

interface FileContents {
    format: string
    version: 1
    entries: Record<string, string>
}

/** A keychain in one passphrase-encrypted age file (for headless servers). */
export class FileKeychain implements Keychain {
    readonly description: string
    readonly path: string
    readonly #options: KeychainOptions
    #passphrase: string | undefined
    #cache: { entries: Map<string, string>; mtimeMs: number; size: number } | undefined
    #queue: Promise<unknown> = Promise.resolve()

    constructor(path: string, options: KeychainOptions = {}) {
        this.path = isAbsolute(path) ? path : resolve(options.cwd ?? "/", path)
        this.description = `file:${this.path}`
        this.#options = options
    }

    async #getPassphrase(): Promise<string> {
        if (this.#passphrase !== undefined) return this.#passphrase
        let p = this.#options.env?.[KEYCHAIN_PASSPHRASE_ENV]
        if (p === undefined && this.#options.passphrase !== undefined) p = await this.#options.passphrase()
        if (p === undefined || p === "") {
            throw new PassphraseError(`keychain ${this.description} needs a passphrase`, {
                hint: `set ${KEYCHAIN_PASSPHRASE_ENV} or run on a terminal to be asked`,
            })
        }
        this.#passphrase = p
        return p
    }

    /** Read (or reuse) the decrypted map; an absent file is an empty keychain. */
    async #load(): Promise<Map<string, string>> {
        let st: Awaited<ReturnType<typeof stat>>
        try {
            st = await stat(this.path)
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return new Map()
            throw keychainError(`cannot read keychain ${this.description}: ${firstLine(e)}`, e)
        }
        const c = this.#cache
        if (c !== undefined && c.mtimeMs === st.mtimeMs && c.size === st.size) return new Map(c.entries)
        let data: Buffer
        try {
            data = await readFile(this.path)
        } catch (e) {
            throw keychainError(`cannot read keychain ${this.description}: ${firstLine(e)}`, e)
        }
        const passphrase = await this.#getPassphrase()
        let plain: Uint8Array
        try {
            plain = openWithPassphrase(data, passphrase)
        } catch (e) {
            if (e instanceof PassphraseError) {
                this.#passphrase = undefined
                throw new PassphraseError(`cannot open keychain ${this.description}: incorrect passphrase`, {
                    hint: `check ${KEYCHAIN_PASSPHRASE_ENV}`,
                })
            }
            throw keychainError(`cannot open keychain ${this.description}: ${firstLine(e)}`, e)
        }
        let parsed: FileContents
        try {
            parsed = JSON.parse(Buffer.from(plain).toString("utf8")) as FileContents
        } catch (e) {
            throw keychainError(`keychain ${this.description} is corrupt: not JSON`, e)
        } finally {
            plain.fill(0)
        }
        if (
            parsed?.format !== KEYCHAIN_SERVICE ||
            parsed.version !== 1 ||
            typeof parsed.entries !== "object" ||
            parsed.entries === null ||
            Object.values(parsed.entries).some((v) => typeof v !== "string")
        ) {
            throw keychainError(`keychain ${this.description} is corrupt: unexpected content`)
        }
        const entries = new Map(Object.entries(parsed.entries))
        this.#cache = { entries, mtimeMs: st.mtimeMs, size: st.size }
        return new Map(entries)
    }

    /** Encrypt and replace the file atomically. */
    async #store(entries: Map<string, string>): Promise<void> {
        const passphrase = await this.#getPassphrase()
        const body: FileContents = { format: KEYCHAIN_SERVICE, version: 1, entries: Object.fromEntries(entries) }
        const plain = Buffer.from(JSON.stringify(body), "utf8")
        const sealed = sealWithPassphrase(plain, passphrase, this.#options.scryptLogN)
        plain.fill(0)
        const dir = dirname(this.path)
        await mkdir(dir, { recursive: true, mode: 0o700 })
        const tmp = `${this.path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`
        try {
            const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600)
            try {
                await fh.chmod(0o600) // exactly 0600 whatever the umask
                await fh.writeFile(sealed)
                await fh.sync()
            } finally {
                await fh.close()
            }
            await rename(tmp, this.path)
        } catch (e) {
            await unlink(tmp).catch(() => {})
            throw keychainError(`cannot write keychain ${this.description}: ${firstLine(e)}`, e)
        }
        try {
            const d = await open(dir, "r")
            try {
                await d.sync()
            } finally {
                await d.close()
            }
        } catch {
            // directory fsync is best effort (not supported everywhere)
        }
        const st = await stat(this.path)
        this.#cache = { entries: new Map(entries), mtimeMs: st.mtimeMs, size: st.size }
    }

    /** Run operations one at a time (read-modify-write of the one file). */
    #serial<T>(run: () => Promise<T>): Promise<T> {
        const p = this.#queue.then(run, run)
        this.#queue = p.catch(() => {})
        return p
    }

    list(): Promise<string[]> {
        return this.#serial(async () => [...(await this.#load()).keys()].sort())
    }

    forget(): void {
        this.#passphrase = undefined
        this.#cache = undefined
    }

    get(id: string): Promise<string | undefined> {
        return this.#serial(async () => (await this.#load()).get(id))
    }

    set(id: string, value: string): Promise<void> {
        return this.#serial(async () => {
            const entries = await this.#load()
            entries.set(id, value)
            await this.#store(entries)
        })
    }

    delete(id: string): Promise<boolean> {
        return this.#serial(async () => {
            const entries = await this.#load()
            if (!entries.delete(id)) return false
            await this.#store(entries)
            return true
        })
    }
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Open the keychain named by a `--keychain` spec: undefined (or "secret-service") → the OS keychain;
 * `file:PATH` → a {@link FileKeychain}.
 * @throws UsageError-kind KsopsError for an unknown spec; KsopsError with a hint when no Secret Service answers.
 */
export async function openKeychain(spec: string | undefined, options: KeychainOptions = {}): Promise<Keychain> {
    if (spec === undefined || spec === "" || spec === "secret-service") return SecretServiceKeychain.open()
    if (spec.startsWith("file:")) {
        const path = spec.slice("file:".length)
        if (path === "") throw new KsopsError(ErrorKind.Usage, "--keychain file: needs a path (file:PATH)")
        return new FileKeychain(path, options)
    }
    throw new KsopsError(ErrorKind.Usage, `unknown keychain "${spec}": expected secret-service or file:PATH`)
}
