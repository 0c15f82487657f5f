/** The in-process key service: dispatches each key entry to its provider (loaded lazily through the registry). */
import { KeyProviderError, KsopsError } from "../errors.js"
import type { KeyEntry, KeyService } from "../sops/keys.js"
import type { KeyContext } from "./provider.js"
import { loadProvider, providerDescriptor } from "./registry.js"

/** A {@link KeyService} running the local providers with one shared {@link KeyContext}. */
export class LocalKeyService implements KeyService {
    readonly #ctx: KeyContext

    constructor(ctx: KeyContext) {
        this.#ctx = ctx
    }

    keyId(entry: KeyEntry): string {
        const d = providerDescriptor(entry.type)
        return d === undefined ? `${entry.type}:unknown` : d.keyId(entry.params)
    }

    async encrypt(entry: KeyEntry, part: Uint8Array): Promise<string> {
        const provider = await loadProvider(entry.type)
        return wrapErrors(entry.type, () => provider.encrypt(entry.params, part, this.#ctx))
    }

    async decrypt(entry: KeyEntry): Promise<Uint8Array> {
        const provider = await loadProvider(entry.type)
        return wrapErrors(entry.type, () => provider.decrypt(entry.params, entry.enc, this.#ctx))
    }
}

async function wrapErrors<T>(type: string, run: () => Promise<T>): Promise<T> {
    try {
        return await run()
    } catch (e) {
        if (e instanceof KsopsError) throw e
        throw new KeyProviderError(type, `${type}: ${(e as Error)?.message ?? String(e)}`, { cause: e })
    }
}
