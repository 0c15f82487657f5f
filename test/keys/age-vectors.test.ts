import { readFileSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { expect, it } from "vitest"
import { ageProvider } from "../../src/keys/age.js"
import { VECTORS, extractEncBlocks, isolatedContext } from "./helpers.js"
import { describeShared } from "../conformance-data.js"

const AGE_UNIT = join(VECTORS, "sops-repo/age-unit-test")
const GOLDEN = join(VECTORS, "sops-3.13.2")
const read = (p: string) => readFileSync(p, "utf8")

describeShared("age provider on sops vectors", () => {
    it("decrypts encrypted-data.age.asc with identity.txt (SOPS_AGE_KEY_FILE)", async () => {
        const ctx = isolatedContext({ SOPS_AGE_KEY_FILE: join(AGE_UNIT, "identity.txt") })
        const out = await ageProvider.decrypt(
            { recipient: "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun" },
            read(join(AGE_UNIT, "encrypted-data.age.asc")),
            ctx,
        )
        expect(Buffer.from(out).toString()).toBe("data")
    })

    it("decrypts encrypted-data-ssh.age.asc with the ssh-ed25519 identity", async () => {
        const ctx = isolatedContext({ SOPS_AGE_SSH_PRIVATE_KEY_FILE: join(AGE_UNIT, "ssh-ed25519-identity") })
        const recipient = read(join(AGE_UNIT, "ssh-ed25519-recipient.pub")).trim()
        const out = await ageProvider.decrypt({ recipient }, read(join(AGE_UNIT, "encrypted-data-ssh.age.asc")), ctx)
        expect(Buffer.from(out).toString()).toBe("data")
    })

    it("decrypts with the passphrase-protected identity file and KUBECTL_SOPS_AGE_PASSPHRASE", async () => {
        const ctx = isolatedContext({
            SOPS_AGE_KEY_FILE: join(AGE_UNIT, "passphrase-protected-identity.age.asc"),
            KUBECTL_SOPS_AGE_PASSPHRASE: "passphrase",
        })
        const out = await ageProvider.decrypt(
            { recipient: "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun" },
            read(join(AGE_UNIT, "encrypted-data.age.asc")),
            ctx,
        )
        expect(Buffer.from(out).toString()).toBe("data")
    })

    it("without the passphrase, says which variable to set", async () => {
        const ctx = isolatedContext({ SOPS_AGE_KEY_FILE: join(AGE_UNIT, "passphrase-protected-identity.age.asc") })
        await expect(
            ageProvider.decrypt({ recipient: "age1x" }, read(join(AGE_UNIT, "encrypted-data.age.asc")), ctx),
        ).rejects.toThrow(/passphrase-protected: set KUBECTL_SOPS_AGE_PASSPHRASE/)
    })

    it("with a wrong passphrase, says so", async () => {
        const ctx = isolatedContext({
            SOPS_AGE_KEY_FILE: join(AGE_UNIT, "passphrase-protected-identity.age.asc"),
            KUBECTL_SOPS_AGE_PASSPHRASE: "wrong",
        })
        await expect(
            ageProvider.decrypt({ recipient: "age1x" }, read(join(AGE_UNIT, "encrypted-data.age.asc")), ctx),
        ).rejects.toThrow(/incorrect passphrase/)
    })

    it("the wrong identity fails with sops' message", async () => {
        const ctx = isolatedContext({ SOPS_AGE_KEY_FILE: join(AGE_UNIT, "other-identity.txt") })
        await expect(
            ageProvider.decrypt({ recipient: "age1x" }, read(join(AGE_UNIT, "encrypted-data.age.asc")), ctx),
        ).rejects.toThrow(
            /failed to create reader for decrypting sops data key with age: no identity matched any of the recipients/,
        )
    })

    it("parses the hybrid PQ identity file", async () => {
        const ctx = isolatedContext({ SOPS_AGE_KEY_FILE: join(AGE_UNIT, "hybrid-pq-identity.txt") })
        // parsed without error: the failure is "no identity matched", not a loading error
        await expect(
            ageProvider.decrypt({ recipient: "age1x" }, read(join(AGE_UNIT, "encrypted-data.age.asc")), ctx),
        ).rejects.toThrow(/no identity matched any of the recipients(?!.*Errors while loading)/)
    })

    it("decrypts every age enc of the sops 3.13.2 golden files with all.agekey to a 32-byte data key", async () => {
        const ctx = isolatedContext({ SOPS_AGE_KEY_FILE: join(GOLDEN, "keys/all.agekey") })
        let count = 0
        for (const dir of readdirSync(GOLDEN, { withFileTypes: true })) {
            if (!dir.isDirectory() || dir.name === "keys") continue
            const file = join(GOLDEN, dir.name, "out.stdout")
            let text: string
            try {
                text = read(file)
            } catch {
                continue
            }
            for (const block of extractEncBlocks(text.replaceAll("\\n", "\n"), "AGE ENCRYPTED FILE")) {
                const key = await ageProvider.decrypt({ recipient: "age1" }, block, ctx)
                expect(key.length === 32 || key.length === 33).toBe(true)
                count++
            }
        }
        expect(count).toBeGreaterThan(10)
    })

    it("reports every location when no key is found, like sops", async () => {
        const ctx = isolatedContext({ SOPS_AGE_KEY_FILE: "/nonexistent" })
        const enc = extractEncBlocks(read(join(GOLDEN, "err-no-key/input.yaml")), "AGE ENCRYPTED FILE")[0]
        const err = await ageProvider.decrypt({ recipient: "age1" }, enc, ctx).catch((e: Error) => e)
        expect(err).toBeInstanceOf(Error)
        const msg = (err as Error).message
        expect(msg).toMatch(
            /^failed to load age identities\. Errors while loading age identities: failed to open SOPS_AGE_KEY_FILE file: open \/nonexistent: no such file or directory\. Did not find keys in locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE', 'SOPS_AGE_SSH_PRIVATE_KEY_CMD', '.*\/\.ssh\/id_ed25519', '.*\/\.ssh\/id_rsa', 'SOPS_AGE_KEY', 'SOPS_AGE_KEY_CMD', and '.*\/\.config\/sops\/age\/keys\.txt'\.$/,
        )
    })
})
