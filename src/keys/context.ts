/** Building a {@link KeyContext} for local providers. */
import type { KeyContext } from "./provider.js"

/** What a {@link KeyContext} is made of; every outside-world dependency is passed in. */
export interface KeyContextOptions {
    /** Environment snapshot (usually `process.env`). */
    env: Readonly<Record<string, string | undefined>>
    /** The user's home directory. */
    homeDir: string
    /** Where warnings go (stderr in the CLI). */
    warn?: (message: string) => void
    /** The clock (for `created_at`). */
    now?: () => Date
}

/**
 * Create a key context with a per-process memo: the first call for a key runs `make`, later calls share its
 * promise. A rejected promise is forgotten, so a later call may retry.
 */
export function createKeyContext(options: KeyContextOptions): KeyContext {
    const cache = new Map<string, Promise<unknown>>()
    const env = Object.freeze({ ...options.env })
    return {
        env,
        homeDir: options.homeDir,
        memo<T>(key: string, make: () => Promise<T>): Promise<T> {
            const hit = cache.get(key)
            if (hit !== undefined) return hit as Promise<T>
            const p = make()
            cache.set(key, p)
            p.catch(() => {
                if (cache.get(key) === p) cache.delete(key)
            })
            return p
        },
        warn: options.warn ?? (() => {}),
        now: options.now ?? (() => new Date()),
        pgpPublicKeyFiles: new Set<string>(),
    }
}
