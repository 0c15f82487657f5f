/** `kubectl sops check` end to end with the built CLI: text and JSON output, exit codes, usage errors. */
import { writeFileSync } from "node:fs"
import path from "node:path"
import { beforeAll, expect, it } from "vitest"
import { baseEnv, run, tempDir } from "../cli/run.js"
import { AGE, encrypt, KEYS, keyText, kustomization, PGP_FP, repo, secretYaml } from "./helpers.js"
import { describeShared } from "../conformance-data.js"

let root = ""
let env: Record<string, string> = {}

beforeAll(async () => {
    env = baseEnv(tempDir("ksops-flux-home-"))
    root = repo({
        ".git/HEAD": "ref: refs/heads/main\n",
        "clusters/c0/kustomization.yaml": kustomization({ resources: ["secret.yaml", "plain.yaml"] }),
        "clusters/c0/secret.yaml": await encrypt(secretYaml("db", { password: "hunter2" }), { groups: [[AGE[1]]] }),
        "clusters/c0/plain.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
        "clusters/c1/kustomization.yaml": kustomization({ resources: ["secret.yaml"] }),
        "clusters/c1/secret.yaml": await encrypt(secretYaml("db", { password: "hunter2" }), { groups: [[PGP_FP]] }),
    })
    const b64 = (s: string) => Buffer.from(s).toString("base64")
    writeFileSync(
        path.join(root, "sops-age.yaml"),
        `apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: flux-system\ndata:\n  age.agekey: ${b64(keyText("age1.agekey"))}\n`,
    )
})

describeShared("kubectl sops check", () => {
    it("exits 0 and prints one line per file with the key that decrypts", async () => {
        const r = await run(["check", "clusters/c0", "--keys", path.join(KEYS, "age1.agekey")], { cwd: root, env })
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(r.stdout).toContain(`✔ clusters/c0/secret.yaml  decrypts with ${AGE[1]}`)
        expect(r.stdout).toMatch(/✔ kustomize-controller would decrypt clusters\/c0: 1 decrypt, 0 fail\n$/)
        expect(r.stdout).not.toContain("hunter2")
        expect(r.stdout).not.toContain("AGE-SECRET-KEY")
    })

    it("--root: PATH may be the Kustomization's spec.path inside the root, from any folder", async () => {
        const r = await run(["check", "./clusters/c0", "--root", root, "--keys", path.join(KEYS, "age1.agekey"), "--verbose"], { cwd: tempDir("ksops-flux-elsewhere-"), env })
        expect(r.code).toBe(0)
        expect(r.stdout).toContain(`keys: age ${AGE[1]} (age1.agekey)`)
        expect(r.stdout).toContain("✔ kustomize-controller would decrypt clusters/c0")
    })

    it("-o json: the stable schema, and exit 1 (CheckFailed) when a file fails", async () => {
        const r = await run(["check", "clusters/c1", "--keys", "sops-age.yaml", "-o", "json"], { cwd: root, env })
        expect(r.code).toBe(1)
        const j = JSON.parse(r.stdout)
        expect(Object.keys(j).sort()).toEqual(["files", "keys", "ok", "path", "warnings"])
        expect(j.ok).toBe(false)
        expect(j.path).toBe("clusters/c1")
        expect(j.keys).toEqual([{ type: "age", id: AGE[1], entry: "age.agekey" }])
        expect(j.files).toHaveLength(1)
        expect(j.files[0]).toMatchObject({ path: "clusters/c1/secret.yaml", stage: "resource", result: "fails", object: "Secret/db" })
        expect(j.files[0].error).toMatch(/^decryption failed for 'Secret\.v1\.\[noGrp\]\/db': failed to decrypt and format '\/db' Secret data: cannot get sops data key:/)
        expect(r.stderr).toContain("kustomize-controller would fail to decrypt 1 file(s)")
        expect(r.stdout).not.toContain("AGE-SECRET-KEY")
    })

    it("a raw keys.txt file is ignored like the controller would, with a warning that says so", async () => {
        writeFileSync(path.join(root, "keys.txt"), keyText("age1.agekey"))
        const r = await run(["check", "clusters/c0", "--keys", "keys.txt"], { cwd: root, env })
        expect(r.code).toBe(1)
        expect(r.stdout).toContain("⚠️ entry 'keys.txt' looks like an age identity but is ignored by kustomize-controller")
        expect(r.stdout).toContain("which kustomize-controller ignores")
        expect(r.stdout).toContain("failed to load age identities")
    })

    it("a bad .agekey line: the controller's import error first, exit 1", async () => {
        writeFileSync(path.join(root, "bad.agekey"), `${keyText("age1.agekey")}  AGE-SECRET-KEY-1INDENTED\n`)
        const r = await run(["check", "clusters/c0", "--keys", "bad.agekey"], { cwd: root, env })
        expect(r.code).toBe(1)
        expect(r.stdout.split("\n")[0]).toBe(
            "✗ failed to import 'bad.agekey' data from sops decryption Secret 'flux-system/bad.agekey': failed to parse and add to age identities: unknown identity type",
        )
        expect(r.stdout).toContain("this stops the reconcile before any file")
        expect(r.stderr.split("\n")[0]).toBe("kustomize-controller would fail before decrypting any file")
    })

    it("--no-decryption predicts the apply guard", async () => {
        const r = await run(["check", "clusters/c0", "--no-decryption", "-o", "json"], { cwd: root, env })
        expect(r.code).toBe(1)
        const j = JSON.parse(r.stdout)
        expect(j.files[0]).toMatchObject({ stage: "apply", result: "fails", error: "Secret/db is SOPS encrypted, configuring decryption is required for this secret to be reconciled" })
    })

    it("usage errors are one clear line", async () => {
        const both = await run(["check", "clusters/c0", "--keys", "x", "--secret", "y"], { cwd: root, env })
        expect(both.code).toBe(1)
        expect(both.stderr.split("\n")[0]).toBe("--secret and --keys cannot be used together")
        const missing = await run(["check", "nope", "--keys", "x"], { cwd: root, env })
        expect(missing.code).toBe(1)
        expect(missing.stderr.split("\n")[0]).toBe("path nope does not exist")
        const noKey = await run(["check", "clusters/c0", "--keys", "missing.agekey"], { cwd: root, env })
        expect(noKey.stderr.split("\n")[0]).toBe("cannot read key file missing.agekey: no such file or directory")
    })

    it("--keys agent (the default): the agent's keys as the entries age.agekey and sops.asc", async () => {
        const dir = tempDir("ksops-flux-agent-")
        const agentEnv = {
            ...env,
            KUBECTL_SOPS_AGENT_SOCK: path.join(dir, "agent.sock"),
            KUBECTL_SOPS_KEYCHAIN: `file:${path.join(dir, "keychain.age")}`,
            KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "test passphrase",
        }
        try {
            for (const f of ["age1.agekey", "cluster0.sec.asc"]) expect((await run(["keys", "import", path.join(KEYS, f)], { cwd: root, env: agentEnv })).code).toBe(0)
            const r = await run(["check", "clusters/c1", "-o", "json"], { cwd: root, env: agentEnv })
            expect(r.stderr).toBe("")
            expect(r.code).toBe(0)
            const j = JSON.parse(r.stdout)
            expect(j.keys.map((k: { entry: string; id: string }) => `${k.entry}:${k.id}`).sort()).toEqual([`age.agekey:${AGE[1]}`, `sops.asc:${PGP_FP}`])
            expect(j.files[0]).toMatchObject({ result: "decrypts", key: PGP_FP })
            expect(r.stdout).not.toContain("PRIVATE KEY")
        } finally {
            await run(["agent", "stop"], { cwd: root, env: agentEnv })
        }
    }, 60_000)
})
