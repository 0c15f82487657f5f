/** The AWS KMS provider's parsing rules (sops-format.md §7.4, §12.2), without a service. */
import { describe, expect, it } from "vitest"
import { parseKmsSpec, provider, stsSessionName } from "../../../plugins/aws-kms/index.js"
import { createKeyContext } from "../../../src/keys/context.js"
import { FakeKms } from "./server.js"

const ARN = "arn:aws:kms:us-east-1:656532927350:key/920aff2e-c5f1-4040-943a-047fa387b27e"
const ROLE = "arn:aws:iam::927034868273:role/sops-dev-xyz"

describe("aws-kms specs", () => {
    it("ARN+ROLE splits at +arn:aws:iam:: with spaces removed; aws_profile is always there", () => {
        expect(parseKmsSpec(` ${ARN} + ${ROLE}`)).toEqual({ arn: ARN, aws_profile: "", role: ROLE })
        expect(parseKmsSpec(ARN)).toEqual({ arn: ARN, aws_profile: "" })
        expect(parseKmsSpec("arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/sops")).toMatchObject({ arn: "arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/sops" })
    })

    it("refuses what is not a KMS key or alias ARN", () => {
        for (const bad of ["", "alias/sops", "arn:aws:kms:us-east-1:acct:key/x", "arn:aws:s3:::bucket", `${ROLE}`]) {
            expect(() => parseKmsSpec(bad), bad).toThrow(/is not an AWS KMS key ARN/)
        }
    })

    it(".sops.yaml key_groups entries {arn, role, context, aws_profile}", () => {
        const parse = provider.parseConfigEntry!
        expect(parse({ arn: ARN, role: ROLE, context: { b: "2", a: "1" }, aws_profile: "dev" })).toEqual({
            arn: ARN,
            aws_profile: "dev",
            role: ROLE,
            context: { b: "2", a: "1" },
        })
        expect(parse({ arn: ARN })).toEqual({ arn: ARN, aws_profile: "" })
        expect(() => parse({ arn: ARN, context: { a: 1 } })).toThrow('kms entry: context value of "a" is not a string')
        expect(() => parse({ arn: ARN, region: "x" })).toThrow('kms entry: unknown field "region"')
        expect(() => parse({ role: ROLE })).toThrow("kms entry: arn is missing")
        expect(() => parse("x")).toThrow("kms entries must be maps")
        expect(() => parse({ arn: ARN, aws_profile: 3 })).toThrow("kms entry: aws_profile must be a string")
    })

    it("identity string: arn[+role], |context sorted by key, |profile", () => {
        expect(provider.keyId({ arn: ARN, aws_profile: "" })).toBe(ARN)
        expect(provider.keyId({ arn: ARN, aws_profile: "", role: ROLE, context: { z: "1", a: "2" } })).toBe(`${ARN}+${ROLE}|a:2,z:1`)
        expect(provider.keyId({ arn: ARN, aws_profile: "dev" })).toBe(`${ARN}||dev`)
    })
})

describe("STS session name", () => {
    it("is sops@ plus the host name without characters outside [a-zA-Z0-9=,.@-_], at most 64 characters", () => {
        expect(stsSessionName("build-01.example.com")).toBe("sops@build01.example.com")
        expect(stsSessionName("my host_1!")).toBe("sops@myhost_1")
        // `@-_` is a range in sops' class: [ \ ] ^ stay
        expect(stsSessionName("a[b]^c")).toBe("sops@a[b]^c")
        expect(stsSessionName("h".repeat(100))).toBe(`sops@${"h".repeat(59)}`)
    })
})

describe("aws-kms provider in process", () => {
    it("takes the endpoint and credentials from the KeyContext's environment, not the process's", async () => {
        const kms = new FakeKms("eu-central-1")
        kms.addUser("ctx", "AKIDCONTEXTONLY00001", "contextOnlySecret0000000000000000000000")
        const arn = kms.addKey("ctx-key")
        const url = await kms.start()
        try {
            const ctx = createKeyContext({
                env: {
                    AWS_ENDPOINT_URL: url,
                    AWS_ACCESS_KEY_ID: "AKIDCONTEXTONLY00001",
                    AWS_SECRET_ACCESS_KEY: "contextOnlySecret0000000000000000000000",
                    AWS_EC2_METADATA_DISABLED: "true",
                },
                homeDir: "/nonexistent",
            })
            expect(process.env.AWS_ENDPOINT_URL).not.toBe(url)
            const params = { arn, aws_profile: "", context: { a: "1" } }
            const part = new Uint8Array(32).fill(7)
            const enc = await provider.encrypt(params, part, ctx)
            expect(Buffer.from(await provider.decrypt(params, enc, ctx))).toEqual(Buffer.from(part))
            expect(kms.seen.map((r) => r.accessKeyId)).toEqual(["AKIDCONTEXTONLY00001", "AKIDCONTEXTONLY00001"])
            // another context does not open it
            await expect(provider.decrypt({ ...params, context: { a: "2" } }, enc, ctx)).rejects.toThrow(/InvalidCiphertextException/)
            await expect(provider.decrypt(params, "not base64!", ctx)).rejects.toThrow(/Error base64-decoding encrypted data key/)
        } finally {
            await kms.stop()
        }
    })
})
