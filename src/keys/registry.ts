/**
 * The key-provider registry: one line per provider with its metadata type, its `.sops.yaml` keys, its CLI flag,
 * its environment variable and a lazy loader. Providers are imported only when a key of their type is used.
 *
 * Heavy providers (Vault, AWS, GCP, Azure, HuaweiCloud) are not implemented yet: their loader throws a
 * {@link KsopsError} so that files which merely contain such entries still decrypt with age or PGP.
 */
import { ErrorKind, KsopsError } from "../errors.js"
import type { KeyParams } from "../sops/keys.js"
import type { KeyProvider } from "./provider.js"

/** Static facts about a key provider; nothing here loads the provider itself. */
export interface ProviderDescriptor {
    /** Metadata list name and `KeyEntry.type` (`age`, `pgp`, `kms`, …). */
    readonly type: string
    /** Keys of a `.sops.yaml` creation rule that list keys of this type. */
    readonly ruleKeys: readonly string[]
    /** Keys of a `.sops.yaml` `key_groups` entry that list keys of this type. */
    readonly groupKeys: readonly string[]
    /** CLI flag name without dashes (`age` → `--age`, `--add-age`, `--rm-age`). */
    readonly flag: string
    /** Environment variable holding a comma-separated list of keys (`SOPS_AGE_RECIPIENTS`, …). */
    readonly env: string
    /** The identity string sops prints and dedupes by; synchronous, so it never loads the provider. */
    keyId(params: KeyParams): string
    /** Load the provider implementation. */
    load(): Promise<KeyProvider>
}

function str(params: KeyParams, name: string): string {
    const v = params[name]
    return typeof v === "string" ? v : ""
}

function kmsKeyId(params: KeyParams): string {
    const role = str(params, "role")
    const arnRole = role === "" ? str(params, "arn") : `${str(params, "arn")}+${role}`
    const ctxValue = params.context
    const context =
        typeof ctxValue === "object" && ctxValue !== null
            ? Object.keys(ctxValue)
                  .sort()
                  .map((k) => `${k}:${ctxValue[k]}`)
                  .join(",")
            : ""
    const profile = str(params, "aws_profile")
    if (profile !== "") return `${arnRole}|${context}|${profile}`
    return context !== "" ? `${arnRole}|${context}` : arnRole
}

function notYet(type: string): () => Promise<KeyProvider> {
    return () =>
        Promise.reject(
            new KsopsError(ErrorKind.Generic, `${type} keys are not supported yet`, {
                hint: "decrypt with an age or PGP key of this file, or use sops for this key type",
            }),
        )
}

/** Every provider sops 3.13 knows, in sops' metadata order. */
export const PROVIDERS: readonly ProviderDescriptor[] = [
    {
        type: "kms",
        ruleKeys: ["kms"],
        groupKeys: ["kms"],
        flag: "kms",
        env: "SOPS_KMS_ARN",
        keyId: kmsKeyId,
        load: () => import("../../plugins/aws-kms/index.js").then((m) => m.provider),
    },
    {
        type: "gcp_kms",
        ruleKeys: ["gcp_kms"],
        groupKeys: ["gcp_kms"],
        flag: "gcp-kms",
        env: "SOPS_GCP_KMS_IDS",
        keyId: (p) => str(p, "resource_id"),
        load: notYet("gcp_kms"), // later: () => import("../../plugins/gcp-kms/index.js")
    },
    {
        type: "hckms",
        ruleKeys: ["hckms"],
        groupKeys: ["hckms"],
        flag: "hckms",
        env: "SOPS_HUAWEICLOUD_KMS_IDS",
        keyId: (p) => str(p, "key_id"),
        load: notYet("hckms"), // later: () => import("../../plugins/hckms/index.js")
    },
    {
        type: "azure_kv",
        ruleKeys: ["azure_keyvault"],
        groupKeys: ["azure_keyvault"],
        flag: "azure-kv",
        env: "SOPS_AZURE_KEYVAULT_URLS",
        keyId: (p) => `${str(p, "vault_url")}/keys/${str(p, "name")}/${str(p, "version")}`,
        load: notYet("azure_kv"), // later: () => import("../../plugins/azure-kv/index.js")
    },
    {
        type: "hc_vault",
        ruleKeys: ["hc_vault_transit_uri"],
        groupKeys: ["hc_vault"],
        flag: "hc-vault-transit",
        env: "SOPS_VAULT_URIS",
        keyId: (p) => `${str(p, "vault_address")}/v1/${str(p, "engine_path")}/keys/${str(p, "key_name")}`,
        load: () => import("../../plugins/hc-vault/index.js").then((m) => m.provider),
    },
    {
        type: "pgp",
        ruleKeys: ["pgp"],
        groupKeys: ["pgp"],
        flag: "pgp",
        env: "SOPS_PGP_FP",
        keyId: (p) => str(p, "fp"),
        load: () => import("./pgp.js").then((m) => m.pgpProvider),
    },
    {
        type: "age",
        ruleKeys: ["age"],
        groupKeys: ["age"],
        flag: "age",
        env: "SOPS_AGE_RECIPIENTS",
        keyId: (p) => str(p, "recipient"),
        load: () => import("./age.js").then((m) => m.ageProvider),
    },
]

const BY_TYPE = new Map(PROVIDERS.map((d) => [d.type, d]))

/** The descriptor of a metadata type, or undefined for an unknown type. */
export function providerDescriptor(type: string): ProviderDescriptor | undefined {
    return BY_TYPE.get(type)
}

/**
 * Load the provider of a metadata type.
 * @throws KsopsError for an unknown type or a provider that is not supported yet.
 */
export function loadProvider(type: string): Promise<KeyProvider> {
    const d = BY_TYPE.get(type)
    if (d === undefined) {
        return Promise.reject(new KsopsError(ErrorKind.Generic, `unknown key type "${type}"`))
    }
    return d.load()
}
