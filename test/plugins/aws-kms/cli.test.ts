/**
 * AWS KMS keys end to end: the built CLI with the real @aws-sdk/client-kms against the local KMS in server.ts
 * (SigV4 verified, AES-256-GCM under per-key secrets). Nothing leaves 127.0.0.1.
 */
import { readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { parse } from "yaml"
import { AGE1, AGE2, cases, type Sandbox, sandbox } from "../../commands/fixtures.js"
import { itShared } from "../../conformance-data.js"
import { FakeKms } from "./server.js"

const AKID = "AKIAKSOPSTEST0000001"
const SECRET = "kSopsTestSecretKey/0000000000000000000000"
const PLAIN = readFileSync(path.join(cases, "basic-auth.yaml"), "utf8")

let kms: FakeKms
let user: string
let keyA: string
let keyB: string

beforeEach(async () => {
    kms = new FakeKms("eu-west-1")
    user = kms.addUser("ci", AKID, SECRET)
    keyA = kms.addKey("1234abcd-12ab-34cd-56ef-1234567890ab")
    keyB = kms.addKey("0987dcba-09fe-87dc-65ba-ab0987654321")
    await kms.start()
})
afterEach(async () => {
    await kms.stop()
})

/** A sandbox whose environment reaches only the local KMS (no instance metadata, no user AWS files). */
function awsSandbox(extra: Record<string, string> = {}): Sandbox {
    const sb = sandbox()
    for (const k of Object.keys(sb.env)) if (k.startsWith("AWS_")) delete sb.env[k]
    Object.assign(sb.env, {
        AWS_ENDPOINT_URL_KMS: kms.url,
        AWS_ENDPOINT_URL_STS: kms.url,
        AWS_ACCESS_KEY_ID: AKID,
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_SHARED_CREDENTIALS_FILE: path.join(sb.dir, "aws-credentials"),
        AWS_CONFIG_FILE: path.join(sb.dir, "aws-config"),
        KUBECTL_SOPS_NO_AGENT: "1",
        ...extra,
    })
    writeFileSync(path.join(sb.dir, "s.yaml"), PLAIN)
    return sb
}

/** The data-key report with its wrapped error lines joined. */
function flat(stderr: string): string {
    return stderr.replace(/\n\s+\| /g, " ")
}

function sopsOf(text: string): Record<string, unknown> {
    return (parse(text) as { sops: Record<string, unknown> }).sops
}

describe("aws-kms provider through the CLI", () => {
    itShared("encrypt --kms then decrypt: metadata as sops 3.13.2 writes it", async () => {
        const sb = awsSandbox()
        const enc = await sb.run(["encrypt", "--kms", keyA, "s.yaml"])
        expect(enc.code, enc.stderr).toBe(0)
        const md = sopsOf(enc.stdout)
        // top-level order: kms before lastmodified, mac, … (keys sorted)
        expect(Object.keys(md)).toEqual(["kms", "lastmodified", "mac", "unencrypted_suffix", "version"])
        const entries = md.kms as Record<string, string>[]
        expect(entries).toHaveLength(1)
        expect(Object.keys(entries[0])).toEqual(["arn", "aws_profile", "created_at", "enc"])
        expect(entries[0].arn).toBe(keyA)
        expect(entries[0].aws_profile).toBe("")
        expect(entries[0].created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
        expect(enc.stdout).toContain(`created_at: "${entries[0].created_at}"`)
        // enc: padded standard base64 of the CiphertextBlob KMS returned
        expect(entries[0].enc).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
        expect(Buffer.from(entries[0].enc, "base64").subarray(3, 3 + keyA.length).toString()).toBe(keyA)
        expect(kms.seen.map((r) => r.target)).toEqual(["TrentService.Encrypt"])
        expect(kms.seen[0].body.KeyId).toBe(keyA)
        expect(kms.seen[0].body.EncryptionContext).toBeUndefined()

        writeFileSync(path.join(sb.dir, "e.yaml"), enc.stdout)
        const dec = await sb.run(["decrypt", "e.yaml"], { env: { SOPS_AGE_KEY_FILE: "" } })
        expect(dec.code, dec.stderr).toBe(0)
        expect(parse(dec.stdout)).toEqual(parse(PLAIN))
        // nothing else on stderr (the SDK's Node-version notice is silenced)
        expect(dec.stderr).toBe("")
        expect(enc.stderr).toBe("")
        expect(kms.seen.at(-1)?.target).toBe("TrentService.Decrypt")
        expect(kms.seen.at(-1)?.body.KeyId).toBe(keyA)
    })

    itShared("SOPS_KMS_ARN, ARN+role, --encryption-context and --aws-profile: fields, order and the wire", async () => {
        const role = kms.addRole("sops-decrypt", [user])
        kms.keys.get(keyB)!.allowed = new Set([role])
        const sb = awsSandbox({ SOPS_KMS_ARN: `${keyA}, ${keyB}+${role}` })
        writeFileSync(sb.env.AWS_SHARED_CREDENTIALS_FILE, `[dev]\naws_access_key_id = ${AKID}\naws_secret_access_key = ${SECRET}\n`)
        const enc = await sb.run(["encrypt", "--encryption-context", "app:web,env:prod", "--aws-profile", "dev", "s.yaml"])
        expect(enc.code, enc.stderr).toBe(0)
        const entries = sopsOf(enc.stdout).kms as Record<string, unknown>[]
        expect(entries.map((e) => Object.keys(e))).toEqual([
            ["arn", "aws_profile", "context", "created_at", "enc"],
            ["arn", "aws_profile", "context", "created_at", "enc", "role"],
        ])
        expect(entries[1]).toMatchObject({ arn: keyB, role, aws_profile: "dev", context: { app: "web", env: "prod" } })
        const assume = kms.seen.find((r) => r.target === "STS.AssumeRole")
        expect(assume?.body.RoleArn).toBe(role)
        expect(String(assume?.body.RoleSessionName)).toMatch(/^sops@[a-zA-Z0-9=,.@-_]*$/)
        for (const r of kms.seen.filter((s) => s.target === "TrentService.Encrypt")) expect(r.body.EncryptionContext).toEqual({ app: "web", env: "prod" })

        // the context is bound into the ciphertext: decrypting with another context fails (exit 128, key named)
        writeFileSync(path.join(sb.dir, "e.yaml"), enc.stdout)
        const tampered = enc.stdout.replaceAll("env: prod", "env: dev")
        writeFileSync(path.join(sb.dir, "t.yaml"), tampered)
        const env = { SOPS_AGE_KEY_FILE: "", SOPS_KMS_ARN: "" }
        expect((await sb.run(["decrypt", "e.yaml"], { env })).code).toBe(0)
        const bad = await sb.run(["decrypt", "--ignore-mac", "t.yaml"], { env })
        expect(bad.code).toBe(128)
        expect(bad.stderr).toContain(`${keyA}|app:web,env:dev|dev: FAILED`)
        expect(bad.stderr).toContain(`${keyB}+${role}|app:web,env:dev|dev: FAILED`)
        expect(bad.stderr).toContain("InvalidCiphertextException")
    })

    itShared(".sops.yaml: kms rule key with aws_profile and --encryption-context; key_groups mixing age and kms with a threshold", async () => {
        const sb = awsSandbox()
        writeFileSync(sb.env.AWS_CONFIG_FILE, `[profile ops]\nregion = eu-west-1\n`)
        writeFileSync(sb.env.AWS_SHARED_CREDENTIALS_FILE, `[ops]\naws_access_key_id = ${AKID}\naws_secret_access_key = ${SECRET}\n`)
        writeFileSync(
            path.join(sb.dir, ".sops.yaml"),
            [
                "creation_rules:",
                "  - path_regex: ^rule\\.yaml$",
                `    kms: "${keyA}"`,
                "    aws_profile: ops",
                "  - path_regex: ^groups\\.yaml$",
                "    shamir_threshold: 2",
                "    key_groups:",
                `      - age: [${AGE1}]`,
                "        kms:",
                `          - arn: ${keyA}`,
                "            context: {team: web}",
                `      - kms: [{arn: ${keyB}, aws_profile: ops}]`,
                `      - age: [${AGE2}]`,
                "",
            ].join("\n"),
        )
        writeFileSync(path.join(sb.dir, "rule.yaml"), PLAIN)
        writeFileSync(path.join(sb.dir, "groups.yaml"), PLAIN)
        // no static keys in the environment: the profile's shared credentials sign the requests
        const env = { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" }
        const rule = await sb.run(["encrypt", "--encryption-context", "app:web", "rule.yaml"], { env })
        expect(rule.code, rule.stderr).toBe(0)
        expect(sopsOf(rule.stdout).kms).toMatchObject([{ arn: keyA, aws_profile: "ops", context: { app: "web" } }])
        expect(kms.seen.at(-1)?.body.EncryptionContext).toEqual({ app: "web" })

        // keyA (no profile) signs with the environment's keys, keyB with the profile's
        const groups = await sb.run(["encrypt", "groups.yaml"])
        expect(groups.code, groups.stderr).toBe(0)
        const md = sopsOf(groups.stdout)
        expect(md.shamir_threshold).toBe(2)
        const kg = md.key_groups as Record<string, unknown>[]
        // group maps: keys sorted, age and hc_vault always present
        expect(kg.map((g) => Object.keys(g))).toEqual([
            ["age", "hc_vault", "kms"],
            ["age", "hc_vault", "kms"],
            ["age", "hc_vault"],
        ])
        expect(kg[0].kms).toMatchObject([{ arn: keyA, aws_profile: "", context: { team: "web" } }])
        expect(kg[1].kms).toMatchObject([{ arn: keyB, aws_profile: "ops" }])
        expect(Object.keys((kg[1].kms as object[])[0])).toEqual(["arn", "aws_profile", "created_at", "enc"])
        writeFileSync(path.join(sb.dir, "g.yaml"), groups.stdout)

        // KMS alone (no age identity) recovers 2 of 3 shares: groups 0 and 1
        const kmsOnly = await sb.run(["decrypt", "g.yaml"], { env: { SOPS_AGE_KEY_FILE: "" } })
        expect(kmsOnly.code, kmsOnly.stderr).toBe(0)
        expect(parse(kmsOnly.stdout)).toEqual(parse(PLAIN))
        // KMS down: age recovers groups 0 and 2
        await kms.stop()
        const ageOnly = await sb.run(["decrypt", "--decryption-order", "kms,age", "g.yaml"], { env })
        expect(ageOnly.code, ageOnly.stderr).toBe(0)
        expect(parse(ageOnly.stdout)).toEqual(parse(PLAIN))
    })

    itShared("rotate --add-kms then --rm-kms", async () => {
        const sb = awsSandbox()
        const enc = await sb.run(["encrypt", "--age", AGE1, "-i", "s.yaml"])
        expect(enc.code, enc.stderr).toBe(0)
        const add = await sb.run(["rotate", "-i", "--add-kms", keyA, "s.yaml"])
        expect(add.code, add.stderr).toBe(0)
        const added = sopsOf(readFileSync(path.join(sb.dir, "s.yaml"), "utf8"))
        expect(Object.keys(added)).toEqual(["age", "kms", "lastmodified", "mac", "unencrypted_suffix", "version"])
        expect(added.kms).toMatchObject([{ arn: keyA, aws_profile: "" }])
        // the KMS entry alone decrypts the rotated file
        const dec = await sb.run(["decrypt", "s.yaml"], { env: { SOPS_AGE_KEY_FILE: "" } })
        expect(dec.code, dec.stderr).toBe(0)
        expect(parse(dec.stdout)).toEqual(parse(PLAIN))
        const rm = await sb.run(["rotate", "-i", "--rm-kms", keyA, "s.yaml"])
        expect(rm.code, rm.stderr).toBe(0)
        const removed = sopsOf(readFileSync(path.join(sb.dir, "s.yaml"), "utf8"))
        expect(removed.kms).toBeUndefined()
        expect(removed.age).toHaveLength(1)
        // --encryption-context applies to --add-kms, and --rm-kms matches the key by its identity (context included)
        const ctxAdd = await sb.run(["rotate", "-i", "--add-kms", keyB, "--encryption-context", "app:web", "s.yaml"])
        expect(ctxAdd.code, ctxAdd.stderr).toBe(0)
        expect(sopsOf(readFileSync(path.join(sb.dir, "s.yaml"), "utf8")).kms).toMatchObject([{ arn: keyB, context: { app: "web" } }])
        expect(kms.seen.at(-1)?.body.EncryptionContext).toEqual({ app: "web" })
        const other = await sb.run(["rotate", "-i", "--rm-kms", keyB, "s.yaml"])
        expect(other.code, other.stderr).toBe(0)
        expect(sopsOf(readFileSync(path.join(sb.dir, "s.yaml"), "utf8")).kms).toHaveLength(1)
        const same = await sb.run(["rotate", "-i", "--rm-kms", keyB, "--encryption-context", "app:web", "s.yaml"])
        expect(same.code, same.stderr).toBe(0)
        expect(sopsOf(readFileSync(path.join(sb.dir, "s.yaml"), "utf8")).kms).toBeUndefined()
    })

    itShared("the default chain's web identity (IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE) through STS", async () => {
        const role = kms.addRole("kustomize-controller", [])
        kms.webIdentityTokens.set(role, "eyJhbGciOiJSUzI1NiJ9.projected-token.sig")
        kms.keys.get(keyA)!.allowed = new Set([role])
        const sb = awsSandbox({ AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" })
        const tokenFile = path.join(sb.dir, "aws-token")
        writeFileSync(tokenFile, "eyJhbGciOiJSUzI1NiJ9.projected-token.sig")
        const irsa = { AWS_ROLE_ARN: role, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_SESSION_NAME: "kustomize-controller.flux-system" }
        const enc = await sb.run(["encrypt", "--kms", keyA, "s.yaml"], { env: irsa })
        expect(enc.code, enc.stderr).toBe(0)
        expect(kms.seen[0]).toMatchObject({ target: "STS.AssumeRoleWithWebIdentity", body: { RoleArn: role, RoleSessionName: "kustomize-controller.flux-system" } })
        writeFileSync(path.join(sb.dir, "e.yaml"), enc.stdout)
        const dec = await sb.run(["decrypt", "e.yaml"], { env: { ...irsa, SOPS_AGE_KEY_FILE: "" } })
        expect(dec.code, dec.stderr).toBe(0)
        expect(parse(dec.stdout)).toEqual(parse(PLAIN))
        // another token: STS refuses, the report says so
        writeFileSync(tokenFile, "eyJhbGciOiJSUzI1NiJ9.someone-else.sig")
        const refused = await sb.run(["decrypt", "e.yaml"], { env: { ...irsa, SOPS_AGE_KEY_FILE: "" } })
        expect(refused.code).toBe(128)
        expect(flat(refused.stderr)).toContain(`${keyA}: FAILED`)
        expect(flat(refused.stderr)).toContain("sts:AssumeRoleWithWebIdentity")
        expect(refused.stderr).not.toContain("someone-else")
    })

    itShared("updatekeys gives a file the kms key of its creation rule; the data key stays", async () => {
        const sb = awsSandbox()
        writeFileSync(path.join(sb.dir, ".sops.yaml"), `creation_rules:\n  - age: ${AGE1}\n    kms: ${keyA}+${kms.addRole("r", [user])}\n`)
        const enc = await sb.run(["encrypt", "--age", AGE1, "-i", "s.yaml"])
        expect(enc.code, enc.stderr).toBe(0)
        const before = readFileSync(path.join(sb.dir, "s.yaml"), "utf8")
        const up = await sb.run(["updatekeys", "-y", "s.yaml"])
        expect(up.code, up.stderr).toBe(0)
        const after = readFileSync(path.join(sb.dir, "s.yaml"), "utf8")
        expect(sopsOf(after).kms).toMatchObject([{ arn: keyA, aws_profile: "", role: expect.stringContaining(":role/r") }])
        expect(sopsOf(after).mac).toBe(sopsOf(before).mac)
        const dec = await sb.run(["decrypt", "s.yaml"], { env: { SOPS_AGE_KEY_FILE: "" } })
        expect(dec.code, dec.stderr).toBe(0)
        expect(parse(dec.stdout)).toEqual(parse(PLAIN))
    })

    it("--encryption-context that is not k:v pairs: exit 6 with sops' message", async () => {
        const sb = awsSandbox()
        const r = await sb.run(["encrypt", "--kms", keyA, "--encryption-context", "a:b,oops", "s.yaml"])
        expect(r.code).toBe(6)
        expect(r.stderr).toContain("Invalid KMS encryption context format")
        expect(kms.seen).toHaveLength(0)
    })

    it("a malformed ARN: one line naming it, exit 1", async () => {
        const sb = awsSandbox()
        const r = await sb.run(["encrypt", "--kms", "arn:aws:kms:eu-west-1:key/nope", "s.yaml"])
        expect(r.code).toBe(1)
        expect(r.stderr).toContain('"arn:aws:kms:eu-west-1:key/nope" is not an AWS KMS key ARN')
    })
})

describe("aws-kms faults", () => {
    /** A file encrypted for keyA (and an age key), and a sandbox without the age identity. */
    async function encrypted(withAge = false): Promise<Sandbox> {
        const sb = awsSandbox()
        const args = ["encrypt", "-i", "--kms", keyA, ...(withAge ? ["--age", AGE1] : []), "s.yaml"]
        const enc = await sb.run(args)
        expect(enc.code, enc.stderr).toBe(0)
        kms.seen.length = 0
        return sb
    }
    const noAge = { SOPS_AGE_KEY_FILE: "" }

    itShared("wrong credentials: exit 128, the report names the key and KMS' error, never the secret", async () => {
        const sb = await encrypted()
        const wrong = "wrongSecretKeyXXXXXXXXXXXXXXXXXXXXXXXXXX"
        const r = await sb.run(["decrypt", "s.yaml"], { env: { ...noAge, AWS_SECRET_ACCESS_KEY: wrong } })
        expect(r.code).toBe(128)
        expect(r.stderr).toContain("Failed to get the data key required to decrypt the SOPS file.")
        expect(r.stderr).toContain(`${keyA}: FAILED`)
        expect(r.stderr).toContain("InvalidSignatureException")
        expect(r.stderr).not.toContain(wrong)
        expect(r.stderr).not.toContain(SECRET)
        // not retried: a signature error is final
        expect(kms.seen).toHaveLength(0)
    })

    itShared("a signature error's canonical request (with the session token) stays out of the report", async () => {
        const sb = await encrypted()
        const token = "FwoGZXIvYXdzEXAMPLESESSIONTOKENVALUE0123456789"
        kms.principals.set("ASIAKSOPSTEST0000002", { secret: SECRET, token, arn: user })
        const creds = { AWS_ACCESS_KEY_ID: "ASIAKSOPSTEST0000002", AWS_SECRET_ACCESS_KEY: "wrongSecretKeyYYYYYYYYYYYYYYYYYYYYYYYYYY", AWS_SESSION_TOKEN: token }
        const r = await sb.run(["decrypt", "s.yaml"], { env: { ...noAge, ...creds } })
        expect(r.code).toBe(128)
        expect(flat(r.stderr)).toContain("InvalidSignatureException (HTTP 400): The request signature we calculated does not match")
        expect(r.stderr).not.toContain(token)
        expect(r.stderr).not.toContain("Canonical String")
    })

    itShared("access denied and missing key: KMS' error type and message in the report", async () => {
        const sb = await encrypted()
        kms.keys.get(keyA)!.allowed = new Set(["arn:aws:iam::111122223333:user/someone-else"])
        const denied = await sb.run(["decrypt", "s.yaml"], { env: noAge })
        expect(denied.code).toBe(128)
        expect(denied.stderr).toContain("AccessDeniedException (HTTP 400)")
        expect(flat(denied.stderr)).toContain(`${user} is not authorized to perform: kms:Decrypt`)
        kms.keys.delete(keyA)
        const missing = await sb.run(["decrypt", "s.yaml"], { env: noAge })
        expect(missing.code).toBe(128)
        expect(missing.stderr).toContain(`${keyA}: FAILED`)
        expect(missing.stderr).toContain("NotFoundException (HTTP 400)")
        expect(flat(missing.stderr)).toContain(`Key '${keyA}' does not exist`)
        // encrypting for a key KMS does not know: sops' "Could not generate data key", exit 1
        const unknown = keyA.replace("1234abcd", "ffffffff")
        const enc = await sb.run(["encrypt", "--kms", unknown, "--filename-override", "x.yaml"], { input: "a: b\n" })
        expect(enc.code).toBe(1)
        expect(enc.stderr).toContain(`Could not generate data key: [failed to encrypt new data key with master key "${unknown}"`)
        expect(enc.stderr).toContain("NotFoundException")
    })

    itShared("service down: connection refused is named; an age key of the same file still decrypts", async () => {
        const sb = await encrypted(true)
        await kms.stop()
        const down = await sb.run(["decrypt", "s.yaml"], { env: noAge })
        expect(down.code).toBe(128)
        expect(down.stderr).toContain(`${keyA}: FAILED`)
        expect(down.stderr).toContain("ECONNREFUSED")
        const withAge = await sb.run(["decrypt", "--decryption-order", "kms,age", "s.yaml"])
        expect(withAge.code, withAge.stderr).toBe(0)
        expect(parse(withAge.stdout)).toEqual(parse(PLAIN))
    })

    itShared("slow service: KUBECTL_SOPS_KEY_SERVICE_TIMEOUT bounds the call", async () => {
        const sb = await encrypted()
        kms.hang = true
        const r = await sb.run(["decrypt", "s.yaml"], { env: { ...noAge, KUBECTL_SOPS_KEY_SERVICE_TIMEOUT: "500ms" } })
        expect(r.code).toBe(128)
        expect(r.stderr).toContain(`${keyA}: FAILED`)
        expect(r.stderr).toContain("no answer within 0.5s")
    })

    itShared("slow STS while the default chain resolves web-identity credentials: the same bound applies", async () => {
        const role = kms.addRole("kustomize-controller", [])
        kms.webIdentityTokens.set(role, "token")
        const sb = await encrypted()
        const tokenFile = path.join(sb.dir, "aws-token")
        writeFileSync(tokenFile, "token")
        kms.hang = true
        const env = { ...noAge, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_ROLE_ARN: role, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile }
        const r = await sb.run(["decrypt", "s.yaml"], { env: { ...env, KUBECTL_SOPS_KEY_SERVICE_TIMEOUT: "500ms" } })
        expect(r.code).toBe(128)
        expect(r.stderr).toContain("no answer within 0.5s")
        // only STS was reached (the SDK's credential provider may try it more than once within the bound)
        expect([...new Set(kms.seen.map((s) => s.target))]).toEqual(["STS.AssumeRoleWithWebIdentity"])
    })

    itShared("throttled once (ThrottlingException 400, then HTTP 429) or a 500: one retry, then success", async () => {
        const sb = await encrypted()
        kms.throttleNext = 1
        const r = await sb.run(["decrypt", "s.yaml"], { env: noAge })
        expect(r.code, r.stderr).toBe(0)
        expect(parse(r.stdout)).toEqual(parse(PLAIN))
        expect(kms.seen.map((s) => s.target)).toEqual(["TrentService.Decrypt", "TrentService.Decrypt"])
        kms.seen.length = 0
        kms.throttleNext = 1
        kms.throttleStatus = 429
        const again = await sb.run(["decrypt", "s.yaml"], { env: noAge })
        expect(again.code, again.stderr).toBe(0)
        expect(kms.seen).toHaveLength(2)
        // a server error (500 KMSInternalException) is retried once too
        kms.seen.length = 0
        kms.internalNext = 1
        const internal = await sb.run(["decrypt", "s.yaml"], { env: noAge })
        expect(internal.code, internal.stderr).toBe(0)
        expect(kms.seen).toHaveLength(2)
        // throttled twice: the retry is the only one
        kms.seen.length = 0
        kms.throttleNext = 2
        const twice = await sb.run(["decrypt", "s.yaml"], { env: noAge })
        expect(twice.code).toBe(128)
        expect(twice.stderr).toContain("ThrottlingException")
        expect(kms.seen).toHaveLength(2)
    })

    itShared("a tampered or foreign ciphertext fails as in KMS", async () => {
        const sb = await encrypted()
        const file = path.join(sb.dir, "s.yaml")
        const text = readFileSync(file, "utf8")
        const enc = (sopsOf(text).kms as { enc: string }[])[0].enc
        const blob = Buffer.from(enc, "base64")
        blob[blob.length - 1] ^= 1
        writeFileSync(file, text.replace(enc, blob.toString("base64")))
        const r = await sb.run(["decrypt", "s.yaml"], { env: noAge })
        expect(r.code).toBe(128)
        expect(r.stderr).toContain("InvalidCiphertextException")
    })
})
