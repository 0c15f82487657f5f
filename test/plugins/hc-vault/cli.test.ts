/**
 * The hc_vault provider through the built CLI (bin/kubectl-sops → dist/), the real node-vault client and the local
 * transit server: the Flux guide's command verbatim, sops' metadata, `.sops.yaml`, SOPS_VAULT_URIS, rotate, key
 * groups with age, and the faults (403, 404, refused, timeout, 429) with sops' data-key report.
 */
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { baseEnv, needs, run, tempDir, which } from "../../cli/run.js"
import { type VaultServer, vaultsFor } from "./server.js"

const TOKEN = "hvs.cli-test-token-0b7e"
const vault = vaultsFor(TOKEN)

// `kubectl create secret generic basic-auth --from-literal=user=admin --from-literal=password=change-me
// --dry-run=client -o yaml`, as in the Flux guide
const BASIC_AUTH = `apiVersion: v1
data:
    password: Y2hhbmdlLW1l
    user: YWRtaW4=
kind: Secret
metadata:
    creationTimestamp: null
    name: basic-auth
`

interface Box {
    dir: string
    env: Record<string, string>
    recipient: string
}

/** A temp folder with HOME, an age identity (SOPS_AGE_KEY_FILE) and VAULT_TOKEN. */
function box(): Box {
    const dir = tempDir("ksops-vault-cli-")
    const keyFile = path.join(dir, "age.key")
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" })
    const recipient = /public key: (age1[0-9a-z]+)/.exec(readFileSync(keyFile, "utf8"))?.[1] ?? ""
    const env = { ...baseEnv(dir), SOPS_AGE_KEY_FILE: keyFile, VAULT_TOKEN: TOKEN, KUBECTL_SOPS_NO_AGENT: "1" }
    writeFileSync(path.join(dir, "basic-auth.yaml"), BASIC_AUTH)
    return { dir, env, recipient }
}

/** sops' data-key report wraps each error at 60 columns (`- | …`, `  | …`): the text as one line. */
function flat(stderr: string): string {
    return stderr.replace(/\n\s+(- )?\| /g, " ")
}

const RFC3339_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/

const itAge = needs("age-keygen") ? it : it.skip

describe("kubectl sops with Vault transit keys", () => {
    itAge("the guide's command works verbatim; metadata is sops 3.13.2's, field by field; decrypt gives the file back", async () => {
        const s = await vault({ mounts: { "": ["sops"] } })
        const b = box()
        // through kubectl's plugin mechanism when kubectl is installed (it runs kubectl-sops from PATH)
        const via = which("kubectl") !== undefined ? "kubectl sops" : "kubectl-sops"
        const command = `${via} encrypt --hc-vault-transit $VAULT_ADDR/v1/sops/keys/my-encryption-key --encrypted-regex '^(data|stringData)$' --in-place basic-auth.yaml`
        const binDir = path.join(b.dir, "bin")
        execFileSync("mkdir", [binDir])
        execFileSync("ln", ["-s", path.resolve("bin/kubectl-sops"), path.join(binDir, "kubectl-sops")])
        const enc = await run(["-c", command], {
            command: "/bin/sh",
            cwd: b.dir,
            env: { ...b.env, VAULT_ADDR: s.address, PATH: `${binDir}:${b.env.PATH}` },
        })
        expect(enc.stderr).toBe("")
        expect(enc.code).toBe(0)
        const text = readFileSync(path.join(b.dir, "basic-auth.yaml"), "utf8")
        const doc = parse(text)
        expect(Object.keys(doc)).toEqual(["apiVersion", "data", "kind", "metadata", "sops"])
        expect(doc.data.user).toMatch(/^ENC\[AES256_GCM,data:/)
        expect(doc.metadata.name).toBe("basic-auth")
        expect(Object.keys(doc.sops)).toEqual(["encrypted_regex", "hc_vault", "lastmodified", "mac", "version"])
        expect(doc.sops.encrypted_regex).toBe("^(data|stringData)$")
        expect(doc.sops.version).toBe("3.13.2")
        expect(doc.sops.hc_vault).toHaveLength(1)
        const entry = doc.sops.hc_vault[0]
        expect(Object.keys(entry)).toEqual(["created_at", "enc", "engine_path", "key_name", "vault_address"])
        expect(entry.created_at).toMatch(RFC3339_SECONDS)
        expect(entry.enc).toMatch(/^vault:v1:[A-Za-z0-9+/]+=*$/)
        expect(entry.engine_path).toBe("sops")
        expect(entry.key_name).toBe("my-encryption-key")
        expect(entry.vault_address).toBe(s.address)
        // created_at and lastmodified are double-quoted (sops 3.13 reads an unquoted one as a timestamp and fails)
        expect(text).toMatch(/\n {4}hc_vault:\n {8}- created_at: "\d{4}-[^"]+Z"\n {10}enc: vault:v1:\S+\n {10}engine_path: sops\n/)
        expect(text).toMatch(/\n {4}lastmodified: "\d{4}-[^"]+Z"\n/)
        expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /v1/sops/encrypt/my-encryption-key"])

        const dec = await run(["decrypt", "basic-auth.yaml"], { cwd: b.dir, env: b.env })
        expect(dec.stderr).toBe("")
        expect(dec.stdout).toBe(BASIC_AUTH)
        expect(s.requests.at(-1)?.path).toBe("/v1/sops/decrypt/my-encryption-key")
    })

    itAge("hc_vault_transit_uri in .sops.yaml and SOPS_VAULT_URIS pick the key; nested mounts and namespaces work", async () => {
        const s = await vault({ mounts: { "": ["transit"], "team-a": ["kv/nested/transit"] } })
        const b = box()
        writeFileSync(
            path.join(b.dir, ".sops.yaml"),
            `creation_rules:\n  - path_regex: \\.yaml$\n    hc_vault_transit_uri: ${s.address}/v1/transit/keys/rule-key\n`,
        )
        const r1 = await run(["encrypt", "basic-auth.yaml"], { cwd: b.dir, env: b.env })
        expect(r1.stderr).toBe("")
        expect(parse(r1.stdout).sops.hc_vault[0].key_name).toBe("rule-key")
        const env = { ...b.env, SOPS_VAULT_URIS: `${s.address}/v1/kv/nested/transit/keys/env-key`, VAULT_NAMESPACE: "team-a" }
        const r2 = await run(["encrypt", "basic-auth.yaml"], { cwd: b.dir, env })
        expect(r2.stderr).toBe("")
        const entry = parse(r2.stdout).sops.hc_vault[0]
        expect([entry.engine_path, entry.key_name]).toEqual(["kv/nested/transit", "env-key"])
        expect(s.requests.map((r) => [r.path, r.namespace])).toEqual([
            ["/v1/transit/encrypt/rule-key", ""],
            ["/v1/kv/nested/transit/encrypt/env-key", "team-a"],
        ])
        writeFileSync(path.join(b.dir, "enc.yaml"), r2.stdout)
        const dec = await run(["decrypt", "enc.yaml"], { cwd: b.dir, env })
        expect(dec.stdout).toBe(BASIC_AUTH)
        // the same file in the root namespace: that mount does not exist there
        const other = await run(["decrypt", "enc.yaml"], { cwd: b.dir, env: { ...env, VAULT_NAMESPACE: "" } })
        expect(other.code).toBe(128)
        expect(flat(other.stderr)).toContain("Vault answered 404: no handler for route")
    })

    itAge("rotate --add-hc-vault-transit / --rm-hc-vault-transit", async () => {
        const s = await vault()
        const b = box()
        const uri = `${s.address}/v1/transit/keys/rotated`
        const enc = await run(["encrypt", "--age", b.recipient, "--output", "a.yaml", "basic-auth.yaml"], { cwd: b.dir, env: b.env })
        expect(enc.code, enc.stderr).toBe(0)
        const add = await run(["rotate", "-i", "--add-hc-vault-transit", uri, "a.yaml"], { cwd: b.dir, env: b.env })
        expect(add.code, add.stderr).toBe(0)
        const added = parse(readFileSync(path.join(b.dir, "a.yaml"), "utf8")).sops
        expect(added.age).toHaveLength(1)
        expect(added.hc_vault.map((e: { key_name: string }) => e.key_name)).toEqual(["rotated"])
        // the Vault key alone decrypts it
        const onlyVault = await run(["decrypt", "a.yaml"], { cwd: b.dir, env: { ...b.env, SOPS_AGE_KEY_FILE: path.join(b.dir, "none") } })
        expect(onlyVault.stdout).toBe(BASIC_AUTH)
        const rm = await run(["rotate", "-i", "--rm-hc-vault-transit", uri, "a.yaml"], { cwd: b.dir, env: b.env })
        expect(rm.code, rm.stderr).toBe(0)
        const removed = parse(readFileSync(path.join(b.dir, "a.yaml"), "utf8")).sops
        expect(removed.hc_vault).toBeUndefined()
        expect(removed.age).toHaveLength(1)
    })

    itAge("key groups mixing age and Vault with a Shamir threshold; Vault down → exit 128 with sops' report", async () => {
        const s = await vault()
        const b = box()
        const uri = `${s.address}/v1/transit/keys/group-key`
        writeFileSync(
            path.join(b.dir, ".sops.yaml"),
            `creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [${b.recipient}]\n      - hc_vault: [${uri}]\n`,
        )
        const enc = await run(["encrypt", "--output", "g.yaml", "basic-auth.yaml"], { cwd: b.dir, env: b.env })
        expect(enc.code, enc.stderr).toBe(0)
        const meta = parse(readFileSync(path.join(b.dir, "g.yaml"), "utf8")).sops
        expect(meta.shamir_threshold).toBe(2)
        expect(meta.key_groups).toHaveLength(2)
        expect(Object.keys(meta.key_groups[0])).toEqual(["age", "hc_vault"])
        expect(meta.key_groups[0].hc_vault).toEqual([])
        expect(meta.key_groups[1].age).toEqual([])
        expect(Object.keys(meta.key_groups[1].hc_vault[0])).toEqual(["created_at", "enc", "engine_path", "key_name", "vault_address"])
        const ok = await run(["decrypt", "g.yaml"], { cwd: b.dir, env: b.env })
        expect(ok.stdout).toBe(BASIC_AUTH)
        await s.close()
        const down = await run(["decrypt", "g.yaml"], { cwd: b.dir, env: b.env })
        expect(down.code).toBe(128)
        expect(down.stderr).toContain("Failed to get the data key required to decrypt the SOPS file.")
        expect(down.stderr).toContain("Group 0: SUCCESS")
        expect(down.stderr).toContain(`Group 1: FAILED\n  ${uri}: FAILED`)
        expect(flat(down.stderr)).toContain("connection refused")
        expect(down.stderr.replace(/\s+/g, " ")).toContain("Shamir threshold of 2, but only 1 part(s)")
    })

    itAge("updatekeys adds the rule's Vault key; edit re-encrypts through it", async () => {
        const s = await vault()
        const b = box()
        const uri = `${s.address}/v1/transit/keys/upd`
        writeFileSync(path.join(b.dir, ".sops.yaml"), `creation_rules:\n  - age: ${b.recipient}\n`)
        const enc = await run(["encrypt", "-i", "basic-auth.yaml"], { cwd: b.dir, env: b.env })
        expect(enc.code, enc.stderr).toBe(0)
        writeFileSync(path.join(b.dir, ".sops.yaml"), `creation_rules:\n  - age: ${b.recipient}\n    hc_vault_transit_uri: ${uri}\n`)
        const upd = await run(["updatekeys", "-y", "basic-auth.yaml"], { cwd: b.dir, env: b.env })
        expect(upd.code, upd.stderr).toBe(0)
        expect(upd.stdout + upd.stderr).toContain(`+++ ${uri}`)
        const meta = parse(readFileSync(path.join(b.dir, "basic-auth.yaml"), "utf8")).sops
        expect(meta.hc_vault.map((e: { key_name: string }) => e.key_name)).toEqual(["upd"])
        const vaultOnly = { ...b.env, SOPS_AGE_KEY_FILE: path.join(b.dir, "none"), SOPS_EDITOR: path.join(b.dir, "editor.sh") }
        writeFileSync(vaultOnly.SOPS_EDITOR, "#!/bin/sh\nsed -i 's/YWRtaW4=/cm9vdA==/' \"$1\"\n", { mode: 0o755 })
        const edit = await run(["edit", "basic-auth.yaml"], { cwd: b.dir, env: vaultOnly })
        expect(edit.code, edit.stderr).toBe(0)
        const dec = await run(["decrypt", "basic-auth.yaml"], { cwd: b.dir, env: vaultOnly })
        expect(dec.stdout).toBe(BASIC_AUTH.replace("YWRtaW4=", "cm9vdA=="))
        expect(s.requests.filter((r) => r.path === "/v1/transit/decrypt/upd").length).toBeGreaterThanOrEqual(2)
    })

    itAge("bulk decrypt -i unwraps many files' data keys with transit batch_input", async () => {
        const s = await vault()
        const b = box()
        const uri = `${s.address}/v1/transit/keys/bulk`
        writeFileSync(path.join(b.dir, ".sops.yaml"), `creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    hc_vault_transit_uri: ${uri}\n`)
        execFileSync("mkdir", [path.join(b.dir, "secrets")])
        const files = Array.from({ length: 24 }, (_, i) => path.join(b.dir, "secrets", `s${i}.yaml`))
        for (const f of files) writeFileSync(f, BASIC_AUTH)
        const enc = await run(["encrypt", "-i", "secrets"], { cwd: b.dir, env: b.env })
        expect(enc.code, enc.stderr).toBe(0)
        const before = s.requests.length
        expect(before).toBe(24)
        // slow answers, so that the files' requests surely overlap (the in-process test shows the batching exactly)
        s.delayMs = 300
        const dec = await run(["decrypt", "-i", "secrets"], { cwd: b.dir, env: b.env })
        expect(dec.code, dec.stderr).toBe(0)
        for (const f of files) expect(readFileSync(f, "utf8")).toBe(BASIC_AUTH)
        const sent = s.requests.slice(before)
        expect(sent.every((r) => r.path === "/v1/transit/decrypt/bulk")).toBe(true)
        expect(sent.reduce((n, r) => n + Math.max(r.batch, 1), 0)).toBe(24)
        expect(sent.some((r) => r.batch > 1)).toBe(true)
    })

    describe("faults", () => {
        async function encrypted(b: Box, s: VaultServer, keys: string[] = []): Promise<string> {
            const r = await run(["encrypt", "--hc-vault-transit", `${s.address}/v1/transit/keys/k`, ...keys, "--output", "f.yaml", "basic-auth.yaml"], {
                cwd: b.dir,
                env: b.env,
            })
            expect(r.code, r.stderr).toBe(0)
            return path.join(b.dir, "f.yaml")
        }

        itAge("wrong token: 403 named with the key, the service's message, no token; exit 128", async () => {
            const s = await vault()
            const b = box()
            await encrypted(b, s)
            const wrong = "hvs.wrong-0000-secret"
            const r = await run(["decrypt", "f.yaml"], { cwd: b.dir, env: { ...b.env, VAULT_TOKEN: wrong } })
            expect(r.code).toBe(128)
            expect(r.stderr).toContain(`${s.address}/v1/transit/keys/k: FAILED`)
            expect(flat(r.stderr)).toContain("Vault answered 403: permission denied")
            expect(r.stderr).not.toContain(wrong)
            expect(r.stderr).not.toContain(TOKEN)
        })

        itAge("missing key/mount: 404 with Vault's message; encrypt fails with one line naming the key", async () => {
            const s = await vault()
            const b = box()
            const r = await run(["encrypt", "--hc-vault-transit", `${s.address}/v1/nope/keys/k`, "basic-auth.yaml"], { cwd: b.dir, env: b.env })
            expect(r.code).not.toBe(0)
            expect(r.stdout).toBe("")
            expect(r.stderr).toContain(`Vault transit key ${s.address}/v1/nope/keys/k`)
            expect(r.stderr).toContain('Vault answered 404: no handler for route "nope/encrypt/k". route entry not found.')
            expect(r.stderr).toContain("hint: check the engine path")
        })

        itAge("slow service: KUBECTL_SOPS_KEY_SERVICE_TIMEOUT bounds the request", async () => {
            const s = await vault()
            const b = box()
            await encrypted(b, s)
            s.delayMs = 60_000
            const r = await run(["decrypt", "f.yaml"], { cwd: b.dir, env: { ...b.env, KUBECTL_SOPS_KEY_SERVICE_TIMEOUT: "300ms" } })
            expect(r.code).toBe(128)
            expect(flat(r.stderr)).toContain(`no answer from ${s.address} within 300 ms`)
        })

        itAge("throttled: 429 then success is one retry", async () => {
            const s = await vault()
            const b = box()
            await encrypted(b, s)
            s.failNext(429, "rate limit quota exceeded")
            const before = s.requests.length
            const r = await run(["decrypt", "f.yaml"], { cwd: b.dir, env: b.env })
            expect(r.stderr).toBe("")
            expect(r.stdout).toBe(BASIC_AUTH)
            expect(s.requests.slice(before).map((q) => q.path)).toEqual(["/v1/transit/decrypt/k", "/v1/transit/decrypt/k"])
        })

        itAge("Vault down: a file with an age key too still decrypts with age; without the age identity the report names both", async () => {
            const s = await vault()
            const b = box()
            await encrypted(b, s, ["--age", b.recipient])
            await s.close()
            const r = await run(["decrypt", "--decryption-order", "hc_vault,age", "f.yaml"], { cwd: b.dir, env: b.env })
            expect(r.stderr).toBe("")
            expect(r.stdout).toBe(BASIC_AUTH)
            const none = await run(["decrypt", "--decryption-order", "hc_vault,age", "f.yaml"], {
                cwd: b.dir,
                env: { ...b.env, SOPS_AGE_KEY_FILE: path.join(b.dir, "missing.key") },
            })
            expect(none.code).toBe(128)
            expect(none.stderr).toContain(`${s.address}/v1/transit/keys/k: FAILED`)
            expect(flat(none.stderr)).toContain("connection refused")
            expect(none.stderr).toContain(`${b.recipient}: FAILED`)
            expect(none.stderr.indexOf("/v1/transit/keys/k: FAILED")).toBeLessThan(none.stderr.indexOf(`${b.recipient}: FAILED`))
        })
    })
})
