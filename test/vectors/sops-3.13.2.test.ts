/**
 * Every file sops 3.13.2 wrote in ../shared/vectors/sops-3.13.2 decrypts with the real keys (age identities and
 * the Flux guide's PGP key) through the stores, the key providers and the engine, to the plaintext sops started from;
 * and the error cases fail the way sops failed.
 */
import { existsSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import { describe, expect, it } from "vitest"
import { createKeyContext } from "../../src/keys/context.js"
import { LocalKeyService } from "../../src/keys/local.js"
import { decryptDocument } from "../../src/sops/document.js"
import { metadataFromTree } from "../../src/sops/metadata.js"
import type { Branches } from "../../src/sops/tree.js"
import { formatFromPath, storeFor } from "../../src/stores/index.js"

const ROOT = new URL("../../../shared/vectors/sops-3.13.2/", import.meta.url)
const path = (p: string) => new URL(p, ROOT).pathname

function keys(env: Record<string, string> = {}) {
    return new LocalKeyService(
        createKeyContext({
            env: {
                SOPS_AGE_KEY_FILE: path("keys/all.agekey"),
                KUBECTL_SOPS_PGP_KEY_FILE: path("keys/cluster0.sec.asc"),
                GNUPGHOME: "/nonexistent-gnupg-home",
                ...env,
            },
            homeDir: "/nonexistent-home",
        }),
    )
}

async function decryptFile(file: string, env?: Record<string, string>, format = formatFromPath(file)): Promise<Branches> {
    const store = storeFor(format)
    const { branches, metadata } = store.loadEncrypted(readFileSync(path(file)))
    await decryptDocument(branches, metadataFromTree(metadata), keys(env), { raw: format === "binary", decryptionOrder: ["age", "pgp"] })
    return branches
}

/** [encrypted file written by sops, the plaintext it came from] */
const encryptCases: [string, string][] = [
    ["secret-age-cli/out.stdout", "secret-age-cli/plain.yaml"],
    ["secret-age/out.stdout", "secret-age/plain.yaml"],
    ["secret-pgp/out.stdout", "secret-pgp/plain.yaml"],
    ["secret-age-pgp/out.stdout", "secret-age-pgp/plain.yaml"],
    ["types/out.stdout", "types/plain.yaml"],
    ["multidoc/out.stdout", "multidoc/plain.yaml"],
    ["json/out.stdout", "json/plain.json"],
    ["dotenv/out.stdout", "dotenv/plain.env"],
    ["ini/out.stdout", "ini/plain.ini"],
    ["binary/out.stdout", "binary/plain.bin"],
    ["opt-unencrypted-suffix/out.stdout", "opt-unencrypted-suffix/plain.yaml"],
    ["opt-encrypted-suffix/out.stdout", "opt-encrypted-suffix/plain.yaml"],
    ["opt-unencrypted-regex/out.stdout", "opt-unencrypted-regex/plain.yaml"],
    ["opt-encrypted-regex/out.stdout", "opt-encrypted-regex/plain.yaml"],
    ["opt-mac-only-encrypted/out.stdout", "opt-mac-only-encrypted/plain.yaml"],
    ["opt-encrypted-comment-regex/out.stdout", "opt-encrypted-comment-regex/plain.yaml"],
    ["opt-unencrypted-comment-regex/out.stdout", "opt-unencrypted-comment-regex/plain.yaml"],
    ["key-groups/out.stdout", "key-groups/plain.yaml"],
    ["creation-rules/clusters/cluster0/secret.yaml", "creation-rules/clusters/cluster0/secret.yaml.plain"],
    ["creation-rules/clusters/cluster1/secret.yaml", "creation-rules/clusters/cluster1/secret.yaml.plain"],
    ["creation-rules/apps/app.env", "creation-rules/apps/app.env.plain"],
    ["rotate/out.stdout", "decrypt/out.stdout"],
    ["rotate-add-age/out.stdout", "decrypt/out.stdout"],
    ["updatekeys/input.yaml", "decrypt/out.stdout"],
    ["set/input.yaml", "set/out.stdout"],
]

function formatOf(plain: string): ReturnType<typeof formatFromPath> {
    return formatFromPath(plain.replace(/\.plain$/, "").replace(/out\.stdout$/, "x.yaml"))
}

describe("sops 3.13.2 output decrypts with the real keys", () => {
    for (const [enc, plain] of encryptCases) {
        it(`${enc} → ${plain}`, async () => {
            const format = formatOf(plain)
            if (!existsSync(path(enc))) throw new Error(`missing vector ${enc}`)
            const got = await decryptFile(enc, {}, format)
            const store = storeFor(format)
            if (plain === "set/out.stdout") {
                // set's output is itself encrypted: compare both decrypted
                expect(store.emitPlain(got)).toEqual(store.emitPlain(await decryptFile(plain, {}, format)))
                return
            }
            const want = store.loadPlain(readFileSync(path(plain)))
            expect(Buffer.from(store.emitPlain(got)).toString("utf8")).toEqual(Buffer.from(store.emitPlain(want)).toString("utf8"))
        })
    }

    it("decrypt/input.yaml prints exactly what sops printed", async () => {
        const store = storeFor("yaml")
        const got = await decryptFile("decrypt/input.yaml")
        expect(Buffer.from(store.emitPlain(got)).toString()).toBe(readFileSync(path("decrypt/out.stdout"), "utf8"))
    })

    it("the PGP-only file decrypts through the key file alone (no GnuPG)", async () => {
        const got = await decryptFile("secret-pgp/out.stdout", { SOPS_AGE_KEY_FILE: "/nonexistent" }, "yaml")
        expect(Buffer.from(storeFor("yaml").emitPlain(got)).toString()).toContain("kind: Secret")
    })

    it.each([
        ["err-no-key/input.yaml", { SOPS_AGE_KEY_FILE: "/nonexistent" }, "could-not-retrieve-key", /Failed to get the data key required to decrypt the SOPS file/],
        ["err-tampered-value/input.yaml", {}, "decrypting-tree", /Could not decrypt with AES_GCM: cipher: message authentication failed/],
        ["err-mac-mismatch/input.yaml", {}, "mac-mismatch", /^MAC mismatch\. File has [0-9A-F]{128}$/],
    ] as const)("%s fails like sops", async (file, env, kind, message) => {
        await expect(decryptFile(file, env)).rejects.toSatisfy((e: { kind?: string; message?: string }) => {
            expect(e.kind).toBe(kind)
            expect(e.message).toMatch(message)
            return true
        })
    })

    it("err-not-encrypted: sops metadata not found", () => {
        expect(() => storeFor("yaml").loadEncrypted(readFileSync(path("err-not-encrypted/input.yaml")))).toThrow("sops metadata not found")
    })

    it("the no-key report names the key and each source tried", async () => {
        await expect(decryptFile("err-no-key/input.yaml", { SOPS_AGE_KEY_FILE: "/nonexistent" })).rejects.toThrow(/age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u: FAILED/)
        expect(homedir()).toBeTruthy()
    })
})
