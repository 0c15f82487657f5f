/** The emulated ImportKeys (flux-decryption.md §4): entry names, age line rules, PGP blocks, credentials. */
import { expect, it } from "vitest"
import { describeKeys, goExt } from "../../src/flux/keys.js"
import { AGE, keysFrom, keyText, PGP_FP } from "./helpers.js"
import { describeShared, sharedData } from "../conformance-data.js"

const AGE1_LINE = (sharedData ? keyText("age1.agekey") : "")
    .split("\n")
    .find((l) => l.startsWith("AGE-SECRET-KEY-1"))!
const PREFIX = "failed to import 'age.agekey' data from sops decryption Secret 'flux-system/sops-keys': failed to parse and add to age identities: "

describeShared("entry names", () => {
    it("reads *.agekey and *.asc case-sensitively and ignores the rest with a warning when it looks like a key", async () => {
        const k = await keysFrom({
            "a.agekey": keyText("age1.agekey"),
            "age.key": keyText("age2.agekey"),
            "keys.txt": keyText("age3.agekey"),
            "sops.gpg": keyText("cluster0.sec.asc"),
            "identity.ASC": keyText("cluster0.sec.asc"),
            "sops.vault_token": "hvs.x",
            "README": "hello",
        })
        expect(k.error).toBeUndefined()
        expect(k.age.map((a) => a.recipient)).toEqual([AGE[1]])
        expect(k.pgp).toEqual([])
        expect(k.ignored.sort()).toEqual(["README", "age.key", "identity.ASC", "keys.txt", "sops.gpg", "sops.vault_token"])
        for (const name of ["age.key", "keys.txt", "sops.gpg", "identity.ASC"]) {
            expect(k.warnings.some((w) => w.startsWith(`entry '${name}' looks like`))).toBe(true)
        }
        expect(k.warnings.some((w) => w.includes("'README'"))).toBe(false)
    })

    it("pools identities of several .agekey entries and of many lines per entry (CRLF, comments)", async () => {
        const k = await keysFrom({ "one.agekey": keyText("all.agekey").replaceAll("\n", "\r\n"), "two.agekey": keyText("age1.agekey") })
        expect(k.error).toBeUndefined()
        expect(new Set(k.age.map((a) => a.recipient))).toEqual(new Set([AGE[1], AGE[2], AGE[3], AGE[4]]))
        expect(describeKeys(k).filter((d) => d.type === "age")).toHaveLength(5)
    })

    it("keeps the credentials entries by exact name only", async () => {
        const k = await keysFrom({
            "sops.vault-token": "hvs.token\n",
            "sops.aws-kms": "aws_access_key_id: A\naws_secret_access_key: B\n",
            "sops.gcp-kms": '\n{"type": "service_account"}\n',
            "sops.azure-kv": '{"tenantId": "t", "clientId": "c", "clientSecret": "s"}',
        })
        expect(k.error).toBeUndefined()
        expect(k.credentials).toEqual({ vaultToken: true, awsKms: true, azureKv: true, gcpKms: true })
    })

    it("goExt is filepath.Ext", () => {
        expect(goExt("age.agekey")).toBe(".agekey")
        expect(goExt("x.tar.asc")).toBe(".asc")
        expect(goExt("sops")).toBe("")
        expect(goExt(".agekey")).toBe(".agekey")
    })
})

describeShared("age line rules", () => {
    it("an empty entry or one with only comments gives no identity and no error", async () => {
        const k = await keysFrom({ "age.agekey": "# nothing here\n\n" })
        expect(k.error).toBeUndefined()
        expect(k.age).toEqual([])
    })

    it.each([
        ["an indented line", ` ${AGE1_LINE}`],
        ["a lower-case key", AGE1_LINE.toLowerCase()],
        ["a line with only spaces", "   "],
        ["two keys on one line", `${AGE1_LINE} ${AGE1_LINE}`],
        ["an SSH private key", "-----BEGIN OPENSSH PRIVATE KEY-----"],
        ["an age recipient", AGE[1]],
    ])("%s fails everything with 'unknown identity type'", async (_, line) => {
        const k = await keysFrom({ "age.agekey": `# created\n${AGE1_LINE}\n${line}\n`, "other.agekey": keyText("age2.agekey") })
        expect(k.error).toBe(`${PREFIX}unknown identity type`)
    })

    it("trailing spaces make the bech32 decode fail", async () => {
        const k = await keysFrom({ "age.agekey": `${AGE1_LINE}  \n` })
        expect(k.error).toMatch(new RegExp(`^${PREFIX.replace(/[()]/g, "\\$&")}malformed secret key: `))
    })

    it("names the global age Secret differently", async () => {
        const { importKeys } = await import("../../src/flux/keys.js")
        const k = await importKeys({ "x.agekey": new Uint8Array(Buffer.from("nope\n")), "sops.asc": new Uint8Array() }, { namespace: "flux-system", name: "global", globalAge: true })
        expect(k.error).toBe("failed to import 'x.agekey' data from sops SOPS age decryption Secret 'flux-system/global': failed to parse and add to age identities: unknown identity type")
        expect(k.ignored).toEqual(["sops.asc"])
    })
})

describeShared("PGP entries", () => {
    it("collects the secret key and subkey ids of the Flux guide key", async () => {
        const k = await keysFrom({ "sops.asc": keyText("cluster0.sec.asc") })
        expect(k.error).toBeUndefined()
        expect(k.pgp).toHaveLength(1)
        expect(k.pgp[0].fingerprint).toBe(PGP_FP)
        expect(k.pgp[0].secretKeyIds).toHaveLength(2)
        expect(k.pgp[0].secretKeyIds).toContain(PGP_FP.slice(-16))
        expect(k.pgp[0].protected).toBe(false)
        expect(k.secretMaterial.pgpKeys.map((p) => p.fingerprint)).toEqual([PGP_FP])
    })

    it("flags a public-only block (imports, decrypts nothing)", async () => {
        const k = await keysFrom({ "sops.asc": keyText("cluster0.pub.asc") })
        expect(k.error).toBeUndefined()
        expect(k.pgp[0].publicOnly).toBe(true)
        expect(k.warnings.join("\n")).toContain("holds only the public key")
        expect(k.secretMaterial.pgpKeys).toEqual([])
    })

    it("flags a passphrase-protected secret key", async () => {
        const pgp = await import("openpgp")
        const { privateKey } = await pgp.generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs: [{ name: "p" }], passphrase: "secret", format: "armored" })
        const k = await keysFrom({ "p.asc": privateKey })
        expect(k.error).toBeUndefined()
        expect(k.pgp[0].protected).toBe(true)
        expect(k.warnings.join("\n")).toContain("passphrase-protected")
        expect(k.secretMaterial.pgpKeys).toEqual([])
    })

    it("garbage and empty data fail like gpg --import", async () => {
        for (const value of ["", "not a key"]) {
            const k = await keysFrom({ "sops.asc": value })
            expect(k.error).toBe(
                "failed to import 'sops.asc' data from sops decryption Secret 'flux-system/sops-keys': failed to import armored key data into GnuPG keyring (exit status 2): gpg: no valid OpenPGP data found.\ngpg: Total number processed: 0",
            )
        }
    })
})

describeShared("credential entries", () => {
    it("an Azure config without a usable combination is an import error", async () => {
        const k = await keysFrom({ "sops.azure-kv": "tenantId: t\n" })
        expect(k.error).toBe(
            "failed to import 'sops.azure-kv' data from sops decryption Secret 'flux-system/sops-keys': invalid data: requires a 'clientId' field, a combination of 'tenantId', 'clientId' and 'clientSecret', or 'tenantId', 'clientId' and 'clientCertificate'",
        )
    })

    it("invalid GCP JSON is an import error", async () => {
        const k = await keysFrom({ "sops.gcp-kms": "{nope" })
        expect(k.error).toMatch(/^failed to import 'sops.gcp-kms' data from sops decryption Secret 'flux-system\/sops-keys': /)
    })
})
