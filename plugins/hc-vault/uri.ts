/**
 * Vault transit key URIs as sops 3.13.2 reads them (`hcvault.NewMasterKeyFromURI`):
 * `https://vault.example.com:8200/v1/<engine path…>/keys/<key name>` → `vault_address` (scheme and authority),
 * `engine_path` (the segments between `v1` and the second-to-last one, nested mounts included) and `key_name` (the
 * last segment). Pure: no I/O.
 */
import path from "node:path"
import { KeyProviderError, UsageError } from "../../src/errors.js"
import type { KeyParams } from "../../src/sops/keys.js"

const EXAMPLE = "https://vault.example.com:8200/v1/transit/keys/keyName"
const PREFIXED = /\/[^/]+\/v\d+\/[^/]+\/[^/]+\/[^/]+/
const FORMATTED = /\/v\d+\/[^/]+\/[^/]+\/[^/]+/

/** The three metadata fields of an `hc_vault` entry. */
export interface VaultKey {
    readonly vault_address: string
    readonly engine_path: string
    readonly key_name: string
}

/** Go's `path.Join` of path segments: empty ones skipped, the result cleaned, "" when nothing is left. */
function goJoin(segments: readonly string[]): string {
    const kept = segments.filter((s) => s !== "")
    return kept.length === 0 ? "" : path.posix.normalize(kept.join("/"))
}

/**
 * Parse a transit key URI.
 * @throws UsageError naming the URI and the expected form (sops' wording for the path errors)
 */
export function parseVaultUri(spec: string): VaultKey {
    const uri = spec.trim()
    const bad = (why: string) => new UsageError(`invalid Vault transit key URI "${uri}": ${why}`, { hint: `use the form ${EXAMPLE}` })
    if (uri === "") throw bad("empty")
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)
    if (scheme === null) throw bad("missing scheme in Vault URL")
    if (!/^https?$/i.test(scheme[1])) throw bad(`scheme "${scheme[1]}" is not http or https`)
    const rest = uri.slice(scheme[0].length)
    if (!rest.startsWith("//")) throw bad("missing host")
    if (/[?#]/.test(rest)) throw bad("a query or fragment is not supported")
    const slash = rest.indexOf("/", 2)
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash)
    if (authority === "" || /\s/.test(authority)) throw bad("missing host")
    const requestPath = slash < 0 ? "/" : rest.slice(slash)
    if (PREFIXED.test(requestPath)) throw bad("running Vault with a prefixed URL is not supported")
    if (!FORMATTED.test(requestPath)) throw bad("vault path does not seem to be formatted correctly")
    const dirs = requestPath.replace(/^\/+|\/+$/g, "").split("/")
    return {
        // Go's url.Parse lower-cases the scheme, not the host
        vault_address: `${scheme[1].toLowerCase()}://${authority}`,
        engine_path: goJoin(dirs.slice(1, dirs.length - 2)),
        key_name: dirs[dirs.length - 1],
    }
}

/** The fields of a metadata entry (or parsed spec), checked. */
export function vaultKeyOf(params: KeyParams): VaultKey {
    const get = (name: keyof VaultKey) => {
        const v = params[name]
        return typeof v === "string" ? v : ""
    }
    const key = { vault_address: get("vault_address"), engine_path: get("engine_path"), key_name: get("key_name") }
    if (key.vault_address === "" || key.key_name === "") {
        throw new KeyProviderError("hc_vault", "hc_vault key entry has no vault_address or key_name", { hint: "the file's sops metadata is damaged" })
    }
    return key
}

/** sops' identity string: `<vault_address>/v1/<engine_path>/keys/<key_name>`. */
export function vaultKeyId(key: VaultKey): string {
    return `${key.vault_address}/v1/${key.engine_path}/keys/${key.key_name}`
}
