/**
 * Every file sops 3.13.2 wrote in the shared vectors/sops-3.13.2 decrypts with the real keys (age identities and
 * the Flux guide's PGP key) through the stores, the key providers and the engine, to the raw plaintext sops started
 * from (or sops' own decryption); and the error cases fail the way sops failed.
 */
import { existsSync, readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { createKeyContext } from "../../src/keys/context.js"
import { LocalKeyService } from "../../src/keys/local.js"
import { decryptDocument } from "../../src/sops/document.js"
import { metadataFromTree } from "../../src/sops/metadata.js"
import type { Branches } from "../../src/sops/tree.js"
import { formatFromPath, storeFor } from "../../src/stores/index.js"
import { describeShared, vectorsDir } from "../conformance-data.js"

const ROOT = pathToFileURL(`${vectorsDir}/sops-3.13.2/`)
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

/*
 * Oracles. Our decrypted output is compared with the raw bytes of a file we did not write, never with a second
 * pass through our own stores (a parser bug would cancel out):
 * - "bytes": byte for byte with the raw file (sops' own `decrypt` output, or a plaintext sops re-emits unchanged:
 *   dotenv, binary).
 * - "yaml": sops re-emits YAML in its canonical form (4-space indent, floats in Go's 'g' form, timestamps as
 *   RFC 3339, see docs/sops-format.md §YAML), so the raw plaintext is read with the `yaml` package (not our YAML
 *   store), timestamps as dates, and compared value for value, key order included, and comment for comment.
 * - "json": sops writes JSON tab-indented in key order, which is JSON.stringify(JSON.parse(raw), null, "\t").
 * - "ini": sops (go-ini) aligns the `=` of a section; apart from that alignment the text is the raw plaintext.
 */
type Oracle = "bytes" | "yaml" | "json" | "ini"

/** [encrypted file written by sops, the raw file its plaintext must match, how] */
const encryptCases: [string, string, Oracle][] = [
    ["secret-age-cli/out.stdout", "secret-age-cli/plain.yaml", "yaml"],
    ["secret-age/out.stdout", "secret-age/plain.yaml", "yaml"],
    ["secret-pgp/out.stdout", "secret-pgp/plain.yaml", "yaml"],
    ["secret-age-pgp/out.stdout", "secret-age-pgp/plain.yaml", "yaml"],
    ["types/out.stdout", "types/plain.yaml", "yaml"],
    ["multidoc/out.stdout", "multidoc/plain.yaml", "yaml"],
    ["json/out.stdout", "json/plain.json", "json"],
    ["dotenv/out.stdout", "dotenv/plain.env", "bytes"],
    ["ini/out.stdout", "ini/plain.ini", "ini"],
    ["binary/out.stdout", "binary/plain.bin", "bytes"],
    ["opt-unencrypted-suffix/out.stdout", "opt-unencrypted-suffix/plain.yaml", "yaml"],
    ["opt-encrypted-suffix/out.stdout", "opt-encrypted-suffix/plain.yaml", "yaml"],
    ["opt-unencrypted-regex/out.stdout", "opt-unencrypted-regex/plain.yaml", "yaml"],
    ["opt-encrypted-regex/out.stdout", "opt-encrypted-regex/plain.yaml", "yaml"],
    ["opt-mac-only-encrypted/out.stdout", "opt-mac-only-encrypted/plain.yaml", "yaml"],
    ["opt-encrypted-comment-regex/out.stdout", "opt-encrypted-comment-regex/plain.yaml", "yaml"],
    ["opt-unencrypted-comment-regex/out.stdout", "opt-unencrypted-comment-regex/plain.yaml", "yaml"],
    ["key-groups/out.stdout", "key-groups/plain.yaml", "yaml"],
    ["creation-rules/clusters/cluster0/secret.yaml", "creation-rules/clusters/cluster0/secret.yaml.plain", "yaml"],
    ["creation-rules/clusters/cluster1/secret.yaml", "creation-rules/clusters/cluster1/secret.yaml.plain", "yaml"],
    ["creation-rules/apps/app.env", "creation-rules/apps/app.env.plain", "bytes"],
    // rotate, rotate --add-age and updatekeys keep the values: sops' own decryption of the original file
    ["rotate/out.stdout", "decrypt/out.stdout", "bytes"],
    ["rotate-add-age/out.stdout", "decrypt/out.stdout", "bytes"],
    ["updatekeys/input.yaml", "decrypt/out.stdout", "bytes"],
    ["decrypt/input.yaml", "decrypt/out.stdout", "bytes"],
]

function formatOf(enc: string): ReturnType<typeof formatFromPath> {
    if (!enc.endsWith("out.stdout")) return formatFromPath(enc)
    const dir = enc.split("/")[0]
    return ({ json: "json", dotenv: "dotenv", ini: "ini", binary: "binary" } as const)[dir as "json"] ?? "yaml"
}

/** YAML read by the `yaml` package, timestamps as dates, to JSON text (key order kept). */
function yamlValues(text: string): string {
    return JSON.stringify(parseAllDocuments(text, { customTags: ["timestamp"] }).map((d) => d.toJS()))
}
const commentLines = (text: string) => text.split("\n").filter((l) => /^\s*#/.test(l)).map((l) => l.trim())

async function decryptedBytes(enc: string): Promise<Buffer> {
    const format = formatOf(enc)
    return Buffer.from(storeFor(format).emitPlain(await decryptFile(enc, {}, format)))
}
const decryptedText = async (enc: string) => (await decryptedBytes(enc)).toString("utf8")

describeShared("sops 3.13.2 output decrypts with the real keys to the raw plaintext", () => {
    it.each(encryptCases)("%s → %s (%s)", async (enc, plain, oracle) => {
        if (!existsSync(path(enc))) throw new Error(`missing vector ${enc}`)
        const raw = readFileSync(path(plain))
        const bytes = await decryptedBytes(enc)
        const got = bytes.toString("utf8")
        const want = raw.toString("utf8")
        if (oracle === "bytes") {
            expect(bytes.toString("hex")).toBe(raw.toString("hex"))
        } else if (oracle === "json") {
            expect(got).toBe(`${JSON.stringify(JSON.parse(want), null, "\t")}\n`)
        } else if (oracle === "ini") {
            expect(got.replace(/ +=/g, " =")).toBe(want)
        } else {
            expect(yamlValues(got)).toBe(yamlValues(want))
            expect(commentLines(got)).toEqual(commentLines(want))
        }
    })

    it("types: the values sops re-emits in its canonical form come out that way", async () => {
        const got = await decryptedText("types/out.stdout")
        expect(got).toContain("\nbig_float: 1e+21\n")
        expect(got).toContain("\ndate: 2024-01-01T00:00:00Z\n")
        expect(got).toContain("\nstamp: 2024-05-06T07:08:09Z\n")
        expect(got).toContain("\nmultiline: |\n    line one\n    line two\n")
    })

    it("set: the file sops changed in place decrypts to sops' decryption of the original with the new value", async () => {
        const want = readFileSync(path("decrypt/out.stdout"), "utf8").replace("    user: YWRtaW4=\n", "    user: cm9vdA==\n")
        expect(await decryptedText("set/input.yaml")).toBe(want)
        expect(await decryptedText("set/out.stdout")).toBe(want)
    })

    it("unset: the file sops changed in place decrypts to sops' decryption of the original without the key", async () => {
        const want = readFileSync(path("decrypt/out.stdout"), "utf8").replace("    user: YWRtaW4=\n", "")
        expect(want).not.toContain("user:")
        expect(await decryptedText("unset/input.yaml")).toBe(want)
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
    })
})
