/**
 * The agent behind the file commands' {@link KeyService} (loaded only when an age or PGP data-key entry has to be
 * unwrapped; encryption never comes here).
 *
 * Policy:
 * 1. An agent answers on the socket → it is asked first (batched `datakey/unwrap`), the local keys (age identity
 *    files, GnuPG, …) are the fallback for entries it cannot unwrap.
 * 2. No agent runs → the local keys are tried first, exactly as without an agent. Only when they fail for an
 *    entry whose recipient (age) or fingerprint (PGP) names a key stored in the agent's keychain is the agent
 *    started (detached, like gpg-agent) and asked. Nothing is started for files the keychain cannot help with, so
 *    runs with an empty keychain (or none) never spawn a daemon.
 * `--no-agent` / `KUBECTL_SOPS_NO_AGENT=1` skip all of this.
 */
import { existsSync } from "node:fs"
import type { AgentClient } from "../../agent/client.js"
import type { KeyEntry, KeyService } from "../../sops/keys.js"
import type { CommandIo } from "../spec.js"
import { KEYCHAIN_ENV, openAgentKeychain, socketPath, spawnAgent } from "./agent-support.js"

/** Locked-key errors carry the unlock hint in their text, so that sops' per-key report shows it. */
async function withLockHint<T>(run: () => Promise<T>): Promise<T> {
    try {
        return await run()
    } catch (e) {
        const { AgentError } = await import("../../agent/socket.js")
        const { AgentErrorCode } = await import("../../agent/protocol.js")
        if (e instanceof AgentError && e.code === AgentErrorCode.Locked && e.hint !== undefined && !e.message.includes(e.hint)) {
            throw new AgentError(e.reason, `${e.message} (${e.hint})`, { code: e.code, hint: e.hint, cause: e.cause })
        }
        throw e
    }
}

function entryMatches(entry: KeyEntry, ids: readonly string[]): boolean {
    if (entry.type === "age") {
        const r = typeof entry.params.recipient === "string" ? entry.params.recipient.trim() : ""
        return r !== "" && ids.includes(r)
    }
    if (entry.type === "pgp") {
        const fp = typeof entry.params.fp === "string" ? entry.params.fp.replace(/\s/g, "").toUpperCase() : ""
        return fp.length >= 16 && ids.some((id) => id.toUpperCase().endsWith(fp))
    }
    return false
}

/** A {@link KeyService} that uses the agent as described in this module's comment. */
export class AgentAwareKeyService implements KeyService {
    readonly #io: CommandIo
    readonly #local: KeyService
    /** The live agent's service, once known (undefined: none). */
    #live: Promise<KeyService | undefined> | undefined
    /** Key ids in the keychain, read once when the local keys first fail. */
    #keychainIds: Promise<readonly string[]> | undefined
    #started: Promise<AgentClient | undefined> | undefined
    #startedService: KeyService | undefined

    constructor(io: CommandIo, local: KeyService) {
        this.#io = io
        this.#local = local
    }

    keyId(entry: KeyEntry): string {
        return this.#local.keyId(entry)
    }

    encrypt(entry: KeyEntry, part: Uint8Array): Promise<string> {
        return this.#local.encrypt(entry, part)
    }

    async decrypt(entry: KeyEntry): Promise<Uint8Array> {
        this.#live ??= this.#connectLive()
        const live = (await this.#live) ?? this.#startedService
        if (live !== undefined) return withLockHint(() => live.decrypt(entry))
        try {
            return await this.#local.decrypt(entry)
        } catch (localError) {
            const client = await this.#autoStart(entry)
            if (client === undefined) throw localError
            const { AgentKeyService } = await import("../../agent/client.js")
            this.#startedService ??= new AgentKeyService(client, this.#local)
            // this entry: the agent, and the local error when it cannot help either (no second local attempt)
            const failLocal: KeyService = { keyId: (e) => this.#local.keyId(e), encrypt: (e, p) => this.#local.encrypt(e, p), decrypt: () => Promise.reject(localError) }
            return withLockHint(() => new AgentKeyService(client, failLocal).decrypt(entry))
        }
    }

    /** Connect to an agent that already runs (no module loading at all when its socket does not exist). */
    async #connectLive(): Promise<KeyService | undefined> {
        const socket = await socketPath(this.#io)
        if (!existsSync(socket)) return undefined
        const { AgentClient, AgentKeyService } = await import("../../agent/client.js")
        try {
            const client = await AgentClient.connect(socket, { clientName: "kubectl-sops" })
            client.unref()
            return new AgentKeyService(client, this.#local)
        } catch {
            return undefined // stale socket, another user's agent, …: work without it
        }
    }

    /** Start the agent when its keychain holds a key for this entry. @returns a connected client, or undefined */
    async #autoStart(entry: KeyEntry): Promise<AgentClient | undefined> {
        this.#keychainIds ??= this.#readKeychainIds()
        if (!entryMatches(entry, await this.#keychainIds)) return undefined
        this.#started ??= (async () => {
            const { AgentClient } = await import("../../agent/client.js")
            const { AgentError } = await import("../../agent/socket.js")
            const socket = await socketPath(this.#io)
            try {
                await spawnAgent(this.#io, socket, { keychain: this.#io.env[KEYCHAIN_ENV] })
            } catch (e) {
                if (!(e instanceof AgentError) || e.reason !== "already-running") {
                    this.#io.stderr.write(`kubectl-sops: could not start the agent: ${(e as Error).message}\n`)
                    return undefined
                }
            }
            try {
                const client = await AgentClient.connect(socket, { clientName: "kubectl-sops" })
                client.unref()
                return client
            } catch {
                return undefined
            }
        })()
        return this.#started
    }

    /** Ids in the keychain (no keychain reachable, or a file keychain without its passphrase: none). */
    async #readKeychainIds(): Promise<readonly string[]> {
        const spec = this.#io.env[KEYCHAIN_ENV]
        try {
            if (spec?.startsWith("file:")) {
                const { KEYCHAIN_PASSPHRASE_ENV } = await import("../../agent/keychain.js")
                if (this.#io.env[KEYCHAIN_PASSPHRASE_ENV] === undefined) return []
            }
            return await (await openAgentKeychain(this.#io, spec)).list()
        } catch {
            return []
        }
    }
}
