import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { KsopsError } from "../../src/errors.js"
import { createKeyContext } from "../../src/keys/context.js"
import { LocalKeyService } from "../../src/keys/local.js"
import { PROVIDERS, loadProvider, providerDescriptor } from "../../src/keys/registry.js"
import { VECTORS, isolatedContext } from "./helpers.js"
import { itShared } from "../conformance-data.js"

const KEYS = join(VECTORS, "sops-3.13.2/keys")

describe("registry", () => {
    it("lists every sops key type with its config keys, flag and env var", () => {
        const rows = PROVIDERS.map((p) => [p.type, p.ruleKeys.join(","), p.groupKeys.join(","), p.flag, p.env])
        expect(rows).toEqual([
            ["kms", "kms", "kms", "kms", "SOPS_KMS_ARN"],
            ["gcp_kms", "gcp_kms", "gcp_kms", "gcp-kms", "SOPS_GCP_KMS_IDS"],
            ["hckms", "hckms", "hckms", "hckms", "SOPS_HUAWEICLOUD_KMS_IDS"],
            ["azure_kv", "azure_keyvault", "azure_keyvault", "azure-kv", "SOPS_AZURE_KEYVAULT_URLS"],
            ["hc_vault", "hc_vault_transit_uri", "hc_vault", "hc-vault-transit", "SOPS_VAULT_URIS"],
            ["pgp", "pgp", "pgp", "pgp", "SOPS_PGP_FP"],
            ["age", "age", "age", "age", "SOPS_AGE_RECIPIENTS"],
        ])
    })

    it("loads age and pgp lazily and refuses heavy providers with a clear KsopsError", async () => {
        expect((await loadProvider("age")).type).toBe("age")
        expect((await loadProvider("pgp")).type).toBe("pgp")
        expect((await loadProvider("hc_vault")).type).toBe("hc_vault")
        expect((await loadProvider("kms")).type).toBe("kms")
        for (const t of ["gcp_kms", "hckms", "azure_kv"]) {
            const err = await loadProvider(t).catch((e: unknown) => e)
            expect(err).toBeInstanceOf(KsopsError)
            expect((err as Error).message).toBe(`${t} keys are not supported yet`)
        }
        await expect(loadProvider("nope")).rejects.toThrow(/unknown key type "nope"/)
    })

    it("computes sops' identity strings without loading providers", () => {
        const kms = providerDescriptor("kms")!
        expect(kms.keyId({ arn: "arn:aws:kms:eu-west-1:1:key/x" })).toBe("arn:aws:kms:eu-west-1:1:key/x")
        expect(kms.keyId({ arn: "a", role: "r", context: { b: "2", a: "1" } })).toBe("a+r|a:1,b:2")
        expect(kms.keyId({ arn: "a", aws_profile: "p" })).toBe("a||p")
        expect(providerDescriptor("hc_vault")!.keyId({ vault_address: "https://v:8200", engine_path: "sops", key_name: "k" })).toBe(
            "https://v:8200/v1/sops/keys/k",
        )
        expect(providerDescriptor("azure_kv")!.keyId({ vault_url: "https://x.vault.azure.net", name: "n", version: "1" })).toBe(
            "https://x.vault.azure.net/keys/n/1",
        )
    })
})

describe("LocalKeyService", () => {
    itShared("round-trips a data key through age and reports unsupported types as errors", async () => {
        const recipient = "age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u"
        const svc = new LocalKeyService(isolatedContext({ SOPS_AGE_KEY_FILE: join(KEYS, "age1.agekey") }))
        const part = new Uint8Array(32).fill(9)
        const enc = await svc.encrypt({ type: "age", params: { recipient }, enc: "" }, part)
        expect(svc.keyId({ type: "age", params: { recipient }, enc })).toBe(recipient)
        expect(await svc.decrypt({ type: "age", params: { recipient }, enc })).toEqual(part)
        await expect(svc.decrypt({ type: "hckms", params: {}, enc: "x" })).rejects.toThrow(/hckms keys are not supported yet/)
        await expect(svc.decrypt({ type: "hc_vault", params: {}, enc: "vault:v1:x" })).rejects.toThrow(
            /hc_vault key entry has no vault_address or key_name/,
        )
    })

    it("memoizes per key and forgets failures", async () => {
        const ctx = createKeyContext({ env: {}, homeDir: "/nonexistent" })
        let calls = 0
        const make = async () => ++calls
        expect(await ctx.memo("k", make)).toBe(1)
        expect(await ctx.memo("k", make)).toBe(1)
        await expect(ctx.memo("bad", () => Promise.reject(new Error("x")))).rejects.toThrow("x")
        expect(await ctx.memo("bad", make)).toBe(2)
    })
})
