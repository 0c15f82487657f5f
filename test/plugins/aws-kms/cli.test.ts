/**
 * AWS KMS keys end to end: the built CLI with the real @aws-sdk/client-kms against the local KMS in server.ts
 * (SigV4 verified, AES-256-GCM under per-key secrets). Nothing leaves 127.0.0.1.
 */
import { readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { parse } from "yaml"
import { AGE1, cases, type Sandbox, sandbox } from "../../commands/fixtures.js"
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
})

void AGE1
