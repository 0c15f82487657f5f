/** The hc_vault provider in-process, through the real node-vault client, against the local transit server. */
import { writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { provider } from "../../../plugins/hc-vault/index.js"
import { KeyProviderError, UsageError } from "../../../src/errors.js"
import { isolatedContext, tempDir } from "../../keys/helpers.js"
import { vaultsFor } from "./server.js"

const TOKEN = "s.test-token-5f1c9a"
const vault = vaultsFor(TOKEN)
const part = new Uint8Array(32).map((_, i) => i * 7 + 1)

async function failure(p: Promise<unknown>): Promise<KeyProviderError> {
    const e = await p.then(
        () => undefined,
        (error: unknown) => error,
    )
    expect(e).toBeInstanceOf(KeyProviderError)
    return e as KeyProviderError
}

describe("hc_vault parseSpec (sops' NewMasterKeyFromURI)", () => {
    it("splits address, engine path and key name; nested mounts keep every segment", () => {
        expect(provider.parseSpec("https://vault.example.org:8200/v1/transit/keys/prod")).toEqual({
            vault_address: "https://vault.example.org:8200",
            engine_path: "transit",
            key_name: "prod",
        })
        expect(provider.parseSpec(" http://127.0.0.1:8200/v1/super42/bestmarket/keys/slig/ ")).toEqual({
            vault_address: "http://127.0.0.1:8200",
            engine_path: "super42/bestmarket",
            key_name: "slig",
        })
        expect(provider.keyId(provider.parseSpec("https://v:8200/v1/a/b/c/keys/k"))).toBe("https://v:8200/v1/a/b/c/keys/k")
        // as Go's url.Parse: the scheme is lower-cased, the host kept; a doubled slash ($VAULT_ADDR ending in /) is fine
        expect(provider.parseSpec("HTTPS://Vault.Example:8200//v1/transit/keys/k").vault_address).toBe("https://Vault.Example:8200")
    })
    it.each([
        ["vault.example.org/v1/transit/keys/k", /missing scheme/],
        ["https://vault.example.org/proxy/v1/transit/keys/k", /prefixed URL is not supported/],
        ["https://vault.example.org/v1/transit/k", /not seem to be formatted correctly/],
        ["ftp://vault/v1/transit/keys/k", /not http or https/],
        ["", /empty/],
    ])("refuses %j with one line naming the URI", (spec, why) => {
        let e: unknown
        try {
            provider.parseSpec(spec)
        } catch (error) {
            e = error
        }
        expect(e).toBeInstanceOf(UsageError)
        expect((e as Error).message).toMatch(why)
        expect((e as Error).message).not.toContain("\n")
        expect((e as UsageError).hint).toContain("/v1/transit/keys/")
    })
})

describe("hc_vault encrypt/decrypt", () => {
    it("round-trips through a nested mount in a namespace; enc is Vault's vault:v1: ciphertext", async () => {
        const s = await vault({ mounts: { "team-a": ["secrets/sops/transit"] } })
        const ctx = isolatedContext({ VAULT_TOKEN: TOKEN, VAULT_NAMESPACE: "team-a" })
        const params = provider.parseSpec(`${s.address}/v1/secrets/sops/transit/keys/flux`)
        const enc = await provider.encrypt(params, part, ctx)
        expect(enc).toMatch(/^vault:v1:[A-Za-z0-9+/]+=*$/)
        expect(await provider.decrypt(params, enc, ctx)).toEqual(part)
        expect(s.requests.map((r) => [r.method, r.path, r.namespace, r.tokenOk])).toEqual([
            ["POST", "/v1/secrets/sops/transit/encrypt/flux", "team-a", true],
            ["POST", "/v1/secrets/sops/transit/decrypt/flux", "team-a", true],
        ])
    })

    it("a tampered ciphertext or one of another key fails with Vault's message", async () => {
        const s = await vault()
        const ctx = isolatedContext({ VAULT_TOKEN: TOKEN })
        const a = provider.parseSpec(`${s.address}/v1/transit/keys/a`)
        const b = provider.parseSpec(`${s.address}/v1/transit/keys/b`)
        const encA = await provider.encrypt(a, part, ctx)
        await provider.encrypt(b, part, ctx)
        const e1 = await failure(provider.decrypt(b, encA, ctx))
        expect(e1.message).toContain("Vault answered 400: cipher: message authentication failed")
        expect(e1.message).toContain(`Vault transit key ${s.address}/v1/transit/keys/b`)
        const tampered = encA.replace(/.(=*)$/, (c, pad) => (c[0] === "A" ? "B" : "A") + pad)
        const e2 = await failure(provider.decrypt(a, tampered, ctx))
        expect(e2.message).toContain("message authentication failed")
    })

    it("takes the token from ~/.vault-token when VAULT_TOKEN is unset, and says so when there is none", async () => {
        const s = await vault()
        const home = tempDir("ksops-vault-home-")
        const params = provider.parseSpec(`${s.address}/v1/transit/keys/k`)
        const none = await failure(provider.encrypt(params, part, isolatedContext({}, home)))
        expect(none.message).toContain("no Vault token")
        expect(none.hint).toContain("VAULT_TOKEN")
        expect(s.requests).toHaveLength(0)
        writeFileSync(path.join(home, ".vault-token"), `${TOKEN}\n`)
        const enc = await provider.encrypt(params, part, isolatedContext({}, home))
        expect(enc).toMatch(/^vault:v1:/)
        expect(s.requests[0].tokenOk).toBe(true)
    })

    it("a wrong token is Vault's 403 without the token in the message", async () => {
        const s = await vault()
        const wrong = "s.wrong-token-77aa"
        const e = await failure(provider.encrypt(provider.parseSpec(`${s.address}/v1/transit/keys/k`), part, isolatedContext({ VAULT_TOKEN: wrong })))
        expect(e.message).toContain("failed to encrypt sops data key to Vault transit backend 'transit/encrypt/k': Vault answered 403: permission denied")
        expect(`${e.message} ${e.hint}`).not.toContain(wrong)
        expect(e.hint).toContain("VAULT_TOKEN")
    })

    it("the service's message is one bounded line without the token", async () => {
        const s = await vault()
        const params = provider.parseSpec(`${s.address}/v1/transit/keys/k`)
        s.failNext(400, `bad\r\n\u001b[31mtoken ${TOKEN} ${"x".repeat(5000)}`)
        const e = await failure(provider.encrypt(params, part, isolatedContext({ VAULT_TOKEN: TOKEN })))
        expect(e.message).toContain("Vault answered 400: bad [31mtoken <token> xxx")
        expect(e.message).not.toContain(TOKEN)
        expect(e.message).not.toMatch(/[\x00-\x1f]/)
        expect(e.message.length).toBeLessThan(600)
    })

    it("retries once on 429 and on 5xx, then gives up", async () => {
        const s = await vault()
        const ctx = isolatedContext({ VAULT_TOKEN: TOKEN })
        const params = provider.parseSpec(`${s.address}/v1/transit/keys/k`)
        s.failNext(429, "rate limit quota exceeded")
        expect(await provider.encrypt(params, part, ctx)).toMatch(/^vault:v1:/)
        expect(s.requests).toHaveLength(2)
        s.failNext(503, "Vault is sealed", 2)
        const e = await failure(provider.encrypt(params, part, ctx))
        expect(e.message).toContain("Vault answered 503: Vault is sealed")
        expect(s.requests).toHaveLength(4)
    })

    it("HTTPS: VAULT_CACERT trusts the server; without it a TLS error with a hint; VAULT_SKIP_VERIFY=true skips", async () => {
        const s = await vault({ tls: true })
        const dir = tempDir("ksops-vault-ca-")
        const ca = path.join(dir, "ca.pem")
        writeFileSync(ca, s.caCert ?? "")
        const params = provider.parseSpec(`${s.address}/v1/transit/keys/k`)
        const enc = await provider.encrypt(params, part, isolatedContext({ VAULT_TOKEN: TOKEN, VAULT_CACERT: ca }))
        expect(await provider.decrypt(params, enc, isolatedContext({ VAULT_TOKEN: TOKEN, VAULT_CACERT: ca }))).toEqual(part)
        const e = await failure(provider.decrypt(params, enc, isolatedContext({ VAULT_TOKEN: TOKEN })))
        expect(e.message).toContain("TLS error")
        expect(e.hint).toContain("VAULT_CACERT")
        expect(await provider.decrypt(params, enc, isolatedContext({ VAULT_TOKEN: TOKEN, VAULT_CAPATH: dir }))).toEqual(part)
        expect(await provider.decrypt(params, enc, isolatedContext({ VAULT_TOKEN: TOKEN, VAULT_SKIP_VERIFY: "true" }))).toEqual(part)
        const bad = await failure(provider.decrypt(params, enc, isolatedContext({ VAULT_TOKEN: TOKEN, VAULT_SKIP_VERIFY: "yes" })))
        expect(bad.message).toContain("could not parse VAULT_SKIP_VERIFY")
    })

    it("SOPS_HC_VAULT_ALLOWLIST refuses other addresses before any request", async () => {
        const s = await vault()
        const params = provider.parseSpec(`${s.address}/v1/transit/keys/k`)
        const e = await failure(provider.encrypt(params, part, isolatedContext({ VAULT_TOKEN: TOKEN, SOPS_HC_VAULT_ALLOWLIST: "https://vault.example.org" })))
        expect(e.message).toContain(`Allowlist does not allow ${s.address}`)
        expect(s.requests).toHaveLength(0)
        const ok = isolatedContext({ VAULT_TOKEN: TOKEN, SOPS_HC_VAULT_ALLOWLIST: `https://vault.example.org, ${s.address}` })
        expect(await provider.encrypt(params, part, ok)).toMatch(/^vault:v1:/)
    })
})

describe("hc_vault batching (bulk runs)", () => {
    it("concurrent decrypts of one key go out as transit batch_input requests; a bad item fails alone", async () => {
        const s = await vault()
        const ctx = isolatedContext({ VAULT_TOKEN: TOKEN })
        const params = provider.parseSpec(`${s.address}/v1/transit/keys/bulk`)
        const parts = Array.from({ length: 20 }, (_, i) => new Uint8Array(32).fill(i + 1))
        const encs = await Promise.all(parts.map((p) => provider.encrypt(params, p, ctx)))
        encs[7] = encs[7].replace(/.(=*)$/, (c, pad) => (c[0] === "A" ? "B" : "A") + pad)
        const before = s.requests.length
        const results = await Promise.allSettled(encs.map((enc) => provider.decrypt(params, enc, ctx)))
        results.forEach((r, i) => {
            if (i === 7) {
                expect(r.status).toBe("rejected")
                expect(String((r as PromiseRejectedResult).reason.message)).toContain("Vault answered: cipher: message authentication failed")
            } else expect(r).toEqual({ status: "fulfilled", value: parts[i] })
        })
        const sent = s.requests.slice(before)
        expect(sent.reduce((n, r) => n + Math.max(r.batch, 1), 0)).toBe(20)
        expect(sent.length).toBeLessThan(20)
        expect(sent.some((r) => r.batch > 1)).toBe(true)
    })

    it("a whole batch refused (403) fails each file with Vault's message", async () => {
        const s = await vault()
        const ctx = isolatedContext({ VAULT_TOKEN: TOKEN })
        const params = provider.parseSpec(`${s.address}/v1/transit/keys/bulk`)
        const encs = await Promise.all([1, 2, 3].map((n) => provider.encrypt(params, new Uint8Array(32).fill(n), ctx)))
        const wrong = isolatedContext({ VAULT_TOKEN: "s.nope-1234" })
        const results = await Promise.allSettled(encs.map((enc) => provider.decrypt(params, enc, wrong)))
        for (const r of results) {
            expect(r.status).toBe("rejected")
            expect(String((r as PromiseRejectedResult).reason.message)).toContain("Vault answered 403: permission denied")
        }
        expect(s.requests.slice(3).some((r) => r.batch === 3)).toBe(true)
    })
})

describe("test Vault server", () => {
    it("answers transit batch_input item by item", async () => {
        const s = await vault()
        const post = async (op: string, body: unknown) => {
            const r = await fetch(`${s.address}/v1/transit/${op}/k`, { method: "PUT", headers: { "X-Vault-Token": TOKEN }, body: JSON.stringify(body) })
            return (await r.json()) as { data: { batch_results: Record<string, string>[] } }
        }
        const enc = await post("encrypt", { batch_input: [{ plaintext: "AQID" }, { plaintext: "not base64!" }, { plaintext: "BAU=" }] })
        const [r0, r1, r2] = enc.data.batch_results
        expect(r1.error).toBe("failed to decode plaintext as base64")
        const dec = await post("decrypt", { batch_input: [{ ciphertext: r2.ciphertext }, { ciphertext: r0.ciphertext }, { ciphertext: "vault:v1:AAAA" }] })
        expect(dec.data.batch_results.map((r) => r.plaintext ?? r.error)).toEqual(["BAU=", "AQID", "invalid ciphertext: unable to decrypt"])
    })
})
