/** The pre-flight check against repository trees mirroring kustomize-controller's cases (§5, §8). */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import path from "node:path"
import { beforeAll, expect, it } from "vitest"
import type { ImportedKeys } from "../../src/flux/keys.js"
import { AGE, check, encrypt, keysFrom, keyText, kustomization, PGP_FP, repo, results, secretYaml } from "./helpers.js"
import { vectorsDir } from "../cli/run.js"
import { describeShared } from "../conformance-data.js"

let age1: ImportedKeys
let age2: ImportedKeys
let pgpKeys: ImportedKeys
let ageSecret: string
let pgpSecret: string

beforeAll(async () => {
    age1 = await keysFrom({ "age.agekey": keyText("age1.agekey") })
    age2 = await keysFrom({ "age.agekey": keyText("age2.agekey") })
    pgpKeys = await keysFrom({ "sops.asc": keyText("cluster0.sec.asc") })
    ageSecret = await encrypt(secretYaml("db", { password: "hunter2" }), { groups: [[AGE[1]]] })
    pgpSecret = await encrypt(secretYaml("db-pgp", { password: "hunter2" }), { groups: [[PGP_FP]] })
})

/** A billion-laughs file: `levels` anchors, each a list of ten aliases of the one before (10^levels leaves). */
function aliasBomb(levels: number): string {
    const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`)
    return `${lines.join("\n")}\n`
}

const NO_MATCH = `Group 0: FAILED
  ${"AGE"}: FAILED
    - | failed to create reader for decrypting sops data key with
      | age: no identity matched any of the recipients`

describeShared("age and pgp", () => {
    it("an age Secret decrypts with its identity, and fails with the controller's report otherwise", async () => {
        const root = repo({ "clusters/c0/kustomization.yaml": kustomization({ resources: ["secret.yaml"] }), "clusters/c0/secret.yaml": ageSecret })
        const ok = await check(root, "clusters/c0", age1, { verify: true })
        expect(ok.ok).toBe(true)
        expect(ok.files).toEqual([{ path: "clusters/c0/secret.yaml", stage: "resource", object: "Secret/db", result: "decrypts", key: AGE[1] }])
        const bad = await check(root, "./clusters/c0/", age2)
        expect(bad.ok).toBe(false)
        const err = bad.files[0].error!
        expect(err.startsWith("decryption failed for 'Secret.v1.[noGrp]/db': failed to decrypt and format '/db' Secret data: cannot get sops data key: Failed to get the data key required to decrypt the SOPS file.\n\n")).toBe(true)
        expect(err).toContain(NO_MATCH.replace("AGE", AGE[1]))
        expect(err).toContain("Recovery failed because no master key was able to decrypt the file.")
        expect(JSON.stringify(bad)).not.toContain("hunter2")
    })

    it("a PGP Secret (the Flux guide key) decrypts through the PKESK key id; without the key gpg's error", async () => {
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["s.yaml", "guide.yaml"] }), "s.yaml": pgpSecret, "guide.yaml": readFileSync(path.join(vectorsDir, "sops-3.13.2/secret-pgp/out.stdout")) })
        const ok = await check(root, ".", pgpKeys, { verify: true })
        expect(results(ok)).toEqual(["s.yaml:resource:decrypts", "guide.yaml:resource:decrypts"])
        expect(ok.files[0].key).toBe(PGP_FP)
        const bad = await check(root, ".", age1)
        expect(bad.files[0].error).toContain("could not decrypt data key with PGP key: GnuPG binary error:")
        expect(bad.files[0].error).toContain("No secret key")
        const pub = await check(root, ".", await keysFrom({ "sops.asc": keyText("cluster0.pub.asc") }))
        expect(pub.ok).toBe(false)
        expect(pub.warnings.join("\n")).toContain("holds only the public key")
    })

    it("a passphrase-protected PGP key imports but cannot decrypt (gpg without pinentry)", async () => {
        const pgp = await import("openpgp")
        const { privateKey, publicKey } = await pgp.generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs: [{ name: "p" }], passphrase: "pw", format: "armored" })
        const msg = await pgp.encrypt({ message: await pgp.createMessage({ binary: new Uint8Array(32) }), encryptionKeys: await pgp.readKey({ armoredKey: publicKey }) })
        const indented = (msg as string).trim().split("\n").map((l) => `            ${l}`).join("\n")
        const text = pgpSecret.replace(/ {12}-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/, indented)
        expect(text).not.toBe(pgpSecret)
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["s.yaml"] }), "s.yaml": text })
        const r = await check(root, ".", await keysFrom({ "p.asc": privateKey }))
        expect(r.files[0].error).toMatch(/gpg: public key\n\s+\| decryption failed: Inappropriate ioctl for device/)
        expect(r.warnings.join("\n")).toContain("passphrase-protected")
    })

    it("several keys in a file: any one of them is enough; with several identities the matching one wins", async () => {
        const both = await encrypt(secretYaml("both", { a: "1" }), { groups: [[AGE[3], PGP_FP]] })
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["both.yaml"] }), "both.yaml": both })
        expect((await check(root, ".", pgpKeys, { verify: true })).files[0].key).toBe(PGP_FP)
        const many = await keysFrom({ "a.agekey": keyText("age1.agekey"), "b.agekey": keyText("age3.agekey") })
        const r = await check(root, ".", many, { verify: true })
        expect(r.ok).toBe(true)
        expect(r.files[0].key).toBe(AGE[3])
    })

    it("key groups with a Shamir threshold: enough groups must succeed (the sops vector: 3 groups, threshold 2)", async () => {
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["kg.yaml"] }), "kg.yaml": readFileSync(path.join(vectorsDir, "sops-3.13.2/key-groups/out.stdout")) })
        const one = await check(root, ".", age1)
        expect(one.ok).toBe(false)
        expect(one.files[0].error).toContain("Group 0: SUCCESS")
        expect(one.files[0].error).toContain("Recovery failed because the file was encrypted with a Shamir threshold of\n2, but only 1 part(s) were")
        const two = await keysFrom({ "age.agekey": keyText("age1.agekey"), "sops.asc": keyText("cluster0.sec.asc") })
        const r = await check(root, ".", two, { verify: true })
        expect(r.ok).toBe(true)
        expect(r.files[0].key).toContain(" + ")
    })

    it("a hybrid post-quantum identity: recipient derived, real unwrap with --verify", async () => {
        const { generateHybridIdentity, identityToRecipient } = await import("age-encryption")
        const identity = await generateHybridIdentity()
        const recipient = await identityToRecipient(identity)
        const pq = await encrypt(secretYaml("pq", { a: "1" }), { groups: [[recipient]] })
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["pq.yaml"] }), "pq.yaml": pq })
        const keys = await keysFrom({ "pq.agekey": `# hybrid\n${identity}\n` })
        expect(keys.age).toEqual([{ entry: "pq.agekey", type: "hybrid", recipient }])
        const r = await check(root, ".", keys, { verify: true })
        expect(r.files[0]).toMatchObject({ result: "decrypts", key: recipient })
        expect((await check(root, ".", age1)).files[0].result).toBe("fails")
    })

    it("KMS and Vault keys are only 'likely' and say what the controller needs", async () => {
        const kms = await encrypt(secretYaml("kms", { a: "1" }), { groups: [[AGE[4]]] })
        const text = kms.replace(/sops:\n/, "sops:\n    kms:\n        - arn: arn:aws:kms:eu-west-1:111122223333:key/abc\n          created_at: \"2026-01-01T00:00:00Z\"\n          enc: AQIDAHg=\n          aws_profile: \"\"\n")
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["kms.yaml"] }), "kms.yaml": text })
        const r = await check(root, ".", age1)
        expect(r.ok).toBe(true)
        expect(r.files[0]).toMatchObject({ result: "decrypts", likely: true, key: "arn:aws:kms:eu-west-1:111122223333:key/abc" })
        expect(r.warnings.join("\n")).toContain("eks.amazonaws.com/role-arn")
    })
})

describeShared("pre-build sources", () => {
    it("secretGenerator files take the format from the key name; envs are dotenv; patches decrypt too", async () => {
        const json = await encrypt('{"user": "a", "password": "b"}', { groups: [[AGE[1]]], format: "json" })
        const env = await encrypt("USER=a\nPASSWORD=b\n", { groups: [[AGE[1]]], format: "dotenv" })
        const patch = await encrypt(secretYaml("db", { password: "new" }), { groups: [[AGE[1]]] })
        const root = repo({
            "app/kustomization.yaml": kustomization({
                resources: ["plain.yaml"],
                secretGenerator: [
                    { name: "creds", files: ["config.json=creds.json", "raw.txt"], envs: ["app.env", "plain.env"] },
                ],
                patches: [{ path: "patch.yaml" }, { path: "https://example.com/p.yaml" }],
            }),
            "app/plain.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n",
            "app/creds.json": json,
            "app/raw.txt": "not encrypted",
            "app/app.env": env,
            "app/plain.env": "A=1\n",
            "app/patch.yaml": patch,
        })
        const r = await check(root, "app", age1, { verify: true })
        expect(results(r)).toEqual([
            "app/creds.json[config.json]:sources:decrypts",
            "app/raw.txt[raw.txt]:sources:plaintext",
            "app/app.env:sources:decrypts",
            "app/plain.env:sources:plaintext",
            "app/patch.yaml:sources:decrypts",
        ])
        expect(r.files[1].note).toContain("not encrypted (left as is")
        expect(r.ok).toBe(true)
        const bad = await check(root, "app", age2)
        expect(bad.files[0].error).toMatch(/^error decrypting sources: cannot get sops data key: Failed to get the data key/)
    })

    it("ini files, symlinks inside the root, and encrypted patchesStrategicMerge files (never decrypted)", async () => {
        const ini = await encrypt("[db]\npassword = x\n", { groups: [[AGE[1]]], format: "ini" })
        const root = repo({
            "kustomization.yaml": kustomization({ secretGenerator: [{ name: "s", files: ["app.ini", "linked.ini"] }], patchesStrategicMerge: ["psm.yaml"] }),
            "real/app.ini": ini,
            "psm.yaml": ageSecret,
        })
        symlinkSync("real/app.ini", path.join(root, "app.ini"))
        symlinkSync("/real/app.ini", path.join(root, "linked.ini"))
        const r = await check(root, ".", age1, { verify: true })
        expect(results(r)).toEqual(["real/app.ini[app.ini]:sources:decrypts"])
        expect(r.warnings.join("\n")).toContain("psm.yaml: SOPS-encrypted patch in kustomization.yaml patchesStrategicMerge")
    })

    it("a file encrypted as YAML but referenced as 'token=' is decrypted only after the build, as a Secret field in the key's format", async () => {
        const yaml = await encrypt("token: abc\n", { groups: [[AGE[1]]], selection: {} })
        const envelope = await encrypt("raw bytes", { groups: [[AGE[1]]], format: "binary" })
        const root = repo({
            "kustomization.yaml": kustomization({ secretGenerator: [{ name: "tok", files: ["token=token.yaml", "config.yaml=token.yaml", "key.yaml=blob.bin"] }] }),
            "token.yaml": yaml,
            "blob.bin": envelope,
        })
        const r = await check(root, ".", age1)
        // config.yaml= decrypts token.yaml in place before the build, so token= then reads plaintext
        expect(results(r)).toEqual(["token.yaml[config.yaml]:sources:decrypts", "token.yaml[token]:resource:skipped", "blob.bin[key.yaml]:resource:decrypts"])
        const alone = await check(repo({ "kustomization.yaml": kustomization({ secretGenerator: [{ name: "tok", files: ["token=token.yaml"] }] }), "token.yaml": yaml }), ".", age1)
        expect(results(alone)).toEqual(["token.yaml[token]:resource:fails"])
        expect(alone.files[0].error).toBe(
            "decryption failed for 'Secret.v1.[noGrp]/tok-<hash>': failed to decrypt and format '<ns>/tok-<hash>' Secret field 'token': failed to emit encrypted YAML file as decrypted binary: No binary data found in tree",
        )
        expect(r.warnings.join("\n")).toContain("decrypted only after the build")
    })

    it("path escape, symlink escape, missing file, irregular file and the 5 MiB limit", async () => {
        const root = repo({
            "k/kustomization.yaml": kustomization({
                secretGenerator: [{ name: "s", files: ["../../etc/passwd", "link.yaml", "missing.yaml", "dir.yaml", "big.yaml"] }],
            }),
            "k/dir.yaml/x": "",
            "k/big.yaml": Buffer.alloc((5 << 20) + 1, 0x61),
        })
        symlinkSync("/etc/hostname", path.join(root, "k/link.yaml"))
        const r = await check(root, "k", age1)
        expect(r.files.map((f) => f.error)).toEqual([
            "error decrypting sources: lstat etc/passwd: no such file or directory",
            "error decrypting sources: lstat etc/hostname: no such file or directory",
            "error decrypting sources: lstat k/missing.yaml: no such file or directory",
            "error decrypting sources: cannot decrypt irregular file as it has file mode type bits set",
            "error decrypting sources: cannot decrypt file with size (5242881 bytes) exceeding limit (5242880)",
        ])
        expect(r.ok).toBe(false)
    })
})

describeShared("kustomization walk", () => {
    it("recurses through resources and components (local folders, each once)", async () => {
        const root = repo({
            "base/kustomization.yaml": `# comments everywhere\nresources:\n  # the common folder\n  - ../common # inline\n  - s1.yaml\n  - https://github.com/x/y//z\ncomponents: [../comp]\nnamespace: apps\nnamePrefix: p-\n`,
            "base/s1.yaml": ageSecret,
            "common/kustomization.yaml": kustomization({ resources: ["s2.yaml", "../base"] }),
            "common/s2.yaml": ageSecret.replace("name: db", "name: db2"),
            "comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - s3.yaml\n",
            "comp/s3.yaml": pgpSecret,
        })
        const r = await check(root, "base", age1)
        expect(results(r)).toEqual(["common/s2.yaml:resource:decrypts", "base/s1.yaml:resource:decrypts", "comp/s3.yaml:resource:fails"])
        expect(r.files[0].object).toBe("Secret/apps/p-db2")
        expect(r.files[2].error).toMatch(/^decryption failed for 'Secret.v1.\[noGrp\]\/p-db-pgp': failed to decrypt and format 'apps\/p-db-pgp' Secret data: cannot get sops data key:/)
    })

    it("the Kustomization's spec.components are visited and spec.targetNamespace names the objects", async () => {
        const root = repo({
            "app/kustomization.yaml": kustomization({ resources: ["s.yaml"], namespace: "inner" }),
            "app/s.yaml": ageSecret,
            "extra/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - s.yaml\n",
            "extra/s.yaml": pgpSecret,
        })
        const r = await check(root, "app", age1, { components: ["../extra"], targetNamespace: "prod" })
        expect(results(r)).toEqual(["app/s.yaml:resource:decrypts", "extra/s.yaml:resource:fails"])
        expect(r.files[0].object).toBe("Secret/prod/db")
        expect(r.files[1].error).toContain("failed to decrypt and format 'prod/db-pgp' Secret data")
        const remote = await check(root, "app", age1, { components: ["https://github.com/x/y"] })
        expect(remote.error).toBe("component path 'https://github.com/x/y' must be local and relative")
    })

    it("without a kustomization file, one is generated: every Kubernetes YAML, folders with a kustomization as leaves", async () => {
        const root = repo({
            "c/a.yaml": ageSecret,
            "c/sub/b.yml": ageSecret.replace("name: db", "name: b"),
            "c/empty.yaml": "",
            "c/.sops.yaml": "creation_rules: []\n",
            "c/app/kustomization.yaml": kustomization({ resources: ["s.yaml"] }),
            "c/app/s.yaml": ageSecret.replace("name: db", "name: s"),
            "c/app/unlisted.yaml": pgpSecret,
        })
        const r = await check(root, "c", age1)
        expect(results(r)).toEqual(["c/a.yaml:resource:decrypts", "c/app/s.yaml:resource:decrypts", "c/sub/b.yml:resource:decrypts"])
        expect(r.ok).toBe(true)
        // a YAML file that is not a Kubernetes object fails the generation (a sops.yaml without the dot, say)
        writeFileSync(path.join(root, "c/sub/sops.yaml"), "creation_rules: []\n")
        const bad = await check(root, "c", age1)
        expect(bad.ok).toBe(false)
        expect(bad.error).toBe("kustomize create failed: failed to decode Kubernetes YAML from c/sub/sops.yaml: missing Resource metadata")
    })

    it("the generated kustomization does not follow folder symlinks (finding: two links to '.' never finished)", async () => {
        const root = repo({ "c/a.yaml": ageSecret, "c/sub/b.yaml": ageSecret.replace("name: db", "name: b"), "other/l.yaml": ageSecret.replace("name: db", "name: l") })
        symlinkSync(".", path.join(root, "c/loop1"))
        symlinkSync(".", path.join(root, "c/loop2"))
        symlinkSync("..", path.join(root, "c/sub/up"))
        // a symlinked file is read through the link, as kustomize-controller's filepath.Walk + os.ReadFile do
        symlinkSync("../other/l.yaml", path.join(root, "c/link.yaml"))
        const r = await check(root, "c", age1)
        expect(r.error).toBeUndefined()
        expect(results(r)).toEqual(["c/a.yaml:resource:decrypts", "other/l.yaml:resource:decrypts", "c/sub/b.yaml:resource:decrypts"])
        // one that leaves the root is clamped away, like secure-join
        const outside = repo({ "x.yaml": ageSecret })
        symlinkSync(path.join(outside, "x.yaml"), path.join(root, "c/out.yaml"))
        const escaped = await check(root, "c", age1)
        expect(escaped.ok).toBe(false)
        expect(escaped.error).toBe("kustomize create failed: open c/out.yaml: no such file or directory")
        rmSync(outside, { recursive: true, force: true })
        rmSync(root, { recursive: true, force: true })
    }, 10_000)

    it("refuses a YAML alias bomb in a resource like go-yaml (finding: the yaml package's alias guard was off)", async () => {
        const root = repo({ "c/kustomization.yaml": kustomization({ resources: ["bomb.yaml"] }), "c/bomb.yaml": aliasBomb(9) })
        const r = await check(root, "c", age1)
        expect(r.ok).toBe(false)
        expect(r.files[0]).toMatchObject({ path: "c/bomb.yaml", result: "fails", error: "kustomize build failed: c/bomb.yaml: document contains excessive aliasing" })
        const generated = repo({ "c/bomb.yaml": aliasBomb(9) })
        const g = await check(generated, "c", age1)
        expect(g.error).toBe("kustomize create failed: failed to decode Kubernetes YAML from c/bomb.yaml: error converting YAML to JSON: yaml: document contains excessive aliasing")
        rmSync(root, { recursive: true, force: true })
        rmSync(generated, { recursive: true, force: true })
    }, 10_000)

    it("multiple kustomization files, a referenced folder without one, and bad YAML fail the reconcile", async () => {
        const multi = await check(repo({ "k/kustomization.yaml": kustomization({}), "k/Kustomization": kustomization({}) }), "k", age1)
        expect(multi.error).toBe("error decrypting sources: found multiple kustomization files")
        expect(multi.ok).toBe(false)
        const none = await check(repo({ "k/kustomization.yaml": kustomization({ resources: ["../other"] }), "other/x.yaml": ageSecret }), "k", age1)
        expect(none.error).toBe("error decrypting sources: no kustomization file found")
        const bad = await check(repo({ "k/kustomization.yml": "resources: [\n" }), "k", age1)
        expect(bad.error).toMatch(/^error decrypting sources: failed to unmarshal kustomization file from 'k\/kustomization.yml': /)
        const gone = await check(repo({ "k/kustomization.yaml": kustomization({ resources: ["gone.yaml"] }) }), "k", age1)
        expect(gone.ok).toBe(false)
        expect(gone.files[0]).toMatchObject({ path: "k/gone.yaml", result: "fails" })
        expect(gone.files[0].error).toMatch(/^kustomize build failed: accumulating resources: /)
        const missing = await check(repo({ "x.yaml": "" }), "nope", age1)
        expect(missing.error).toBe("kustomization path not found: nope")
    })
})

describeShared("post-build resources", () => {
    it("warns about plaintext Secrets, skips decrypt: disabled, decrypts Secret data fields and multi-document files", async () => {
        const disabled = ageSecret.replace("metadata:\n", "metadata:\n    annotations:\n        kustomize.toolkit.fluxcd.io/decrypt: Disabled\n")
        const field = Buffer.from(await encrypt('{"a": "b"}', { groups: [[AGE[1]]], format: "json" })).toString("base64")
        const multi = `${ageSecret}---\n${await encrypt(secretYaml("second", { x: "y" }), { groups: [[AGE[2]]] })}`
        const root = repo({
            "kustomization.yaml": kustomization({ resources: ["plain.yaml", "disabled.yaml", "field.yaml", "multi.yaml"], configMapGenerator: [{ name: "cm", files: ["enc.json"] }] }),
            "plain.yaml": secretYaml("plain", { a: "b" }),
            "disabled.yaml": disabled,
            "field.yaml": `apiVersion: v1\nkind: Secret\nmetadata:\n  name: f\n  namespace: ns\ndata:\n  config.json: ${field}\n  other: aGVsbG8=\n`,
            "multi.yaml": multi,
            "enc.json": await encrypt('{"a": "b"}', { groups: [[AGE[1]]], format: "json" }),
        })
        const r = await check(root, ".", age1)
        expect(results(r)).toEqual([
            "plain.yaml:resource:plaintext",
            "disabled.yaml:resource:skipped",
            "field.yaml[config.json]:resource:decrypts",
            "multi.yaml#0:resource:decrypts",
            "multi.yaml#1:resource:fails",
        ])
        expect(r.warnings.some((w) => w.includes("Secret/plain is not encrypted: it would be applied in plaintext"))).toBe(true)
        expect(r.warnings.some((w) => w.includes("enc.json") && w.includes("configMapGenerator"))).toBe(true)
        expect(r.files[4].error).toMatch(/^decryption failed for 'Secret.v1.\[noGrp\]\/second'/)
    })

    it("a plaintext value at an encrypted path fails the tree walk (values redacted); --verify catches a swapped value", async () => {
        const tampered = ageSecret.replace(/password: ENC\[[^\]]+\]/, "password: plaintext-value")
        const other = await encrypt(secretYaml("db", { password: "other" }), { groups: [[AGE[1]]] })
        const swapped = ageSecret.replace(/password: ENC\[[^\]]+\]/, /password: (ENC\[[^\]]+\])/.exec(other)![0])
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["t.yaml", "s.yaml"] }), "t.yaml": tampered, "s.yaml": swapped.replace("name: db", "name: sw") })
        const r = await check(root, ".", age1)
        expect(r.files[0].error).toBe(
            "decryption failed for 'Secret.v1.[noGrp]/db': failed to decrypt and format '/db' Secret data: error decrypting sops tree: Error walking tree: Could not decrypt value: Input string <redacted> does not match sops' data format",
        )
        expect(r.files[1].result).toBe("decrypts")
        const v = await check(root, ".", age1, { verify: true })
        expect(v.files[1].result).toBe("fails")
        expect(v.files[1].error).toContain("Could not decrypt with AES_GCM")
        expect(JSON.stringify(v)).not.toContain("plaintext-value")
    })

    it("the apply guard without spec.decryption", async () => {
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["s.yaml", "d.yaml"], namespace: "apps" }), "s.yaml": ageSecret, "d.yaml": ageSecret.replace("name: db", "name: d").replace("metadata:\n", "metadata:\n    annotations:\n        kustomize.toolkit.fluxcd.io/decrypt: disabled\n") })
        const r = await check(root, ".", age1, { decryption: false })
        expect(r.ok).toBe(false)
        expect(r.warnings).toEqual([])
        expect(r.files[0]).toMatchObject({ stage: "apply", result: "fails", error: "Secret/apps/db is SOPS encrypted, configuring decryption is required for this secret to be reconciled" })
        expect(r.files[1].result).toBe("skipped")
        const gen = repo({ "kustomization.yaml": kustomization({ secretGenerator: [{ name: "g", envs: ["a.env"] }] }), "a.env": await encrypt("A=1\n", { groups: [[AGE[1]]], format: "dotenv" }) })
        const g = await check(gen, ".", age1, { decryption: false })
        expect(results(g)).toEqual(["a.env:sources:skipped"])
        expect(g.ok).toBe(true)
        expect(g.warnings[0]).toContain("the Kustomization has no decryption: it would be used encrypted")
    })
})

describeShared("wrong entry names", () => {
    it("an identity under age.key is ignored: the file fails with the no-identities text", async () => {
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["s.yaml"] }), "s.yaml": ageSecret })
        const keys = await keysFrom({ "age.key": keyText("age1.agekey") })
        const r = await check(root, ".", keys)
        expect(r.ok).toBe(false)
        expect(r.warnings[0]).toContain("entry 'age.key' looks like an age identity but is ignored")
        expect(r.files[0].error).toContain("failed to load age identities. Did not find keys in")
    })

    it("a bad .agekey line stops the reconcile before any file", async () => {
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["s.yaml"] }), "s.yaml": ageSecret })
        const keys = await keysFrom({ "age.agekey": `${keyText("age1.agekey")}oops\n` })
        const r = await check(root, ".", keys)
        expect(r.ok).toBe(false)
        expect(r.error).toBe("failed to import 'age.agekey' data from sops decryption Secret 'flux-system/sops-keys': failed to parse and add to age identities: unknown identity type")
    })
})

describeShared("trees on disk", () => {
    it("writes nothing into the repository", async () => {
        const root = repo({ "kustomization.yaml": kustomization({ resources: ["s.yaml"] }), "s.yaml": ageSecret })
        mkdirSync(path.join(root, "empty"))
        writeFileSync(path.join(root, "empty/.keep"), "")
        await check(root, ".", age1, { verify: true })
        expect(readFileSync(path.join(root, "s.yaml"), "utf8")).toBe(ageSecret)
    })
})
