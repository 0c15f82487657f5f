/**
 * The Flux guide "Manage Kubernetes secrets with SOPS", end to end with the real binaries: a key made with the
 * guide's exact gpg parameters (and one with age-keygen), `.sops.yaml` with the guide's rule, the Secret from
 * `kubectl create secret generic … --dry-run=client -o yaml`, `kubectl sops encrypt --in-place` through kubectl's
 * plugin mechanism, and the checks the cluster would need.
 */
import { execFileSync } from "node:child_process"
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { baseEnv, binPath, needs, run, tempDir } from "../cli/run.js"

/** kubectl is used when installed, and required in CI (.ci/run installs it). */
const hasKubectl = needs("kubectl")

/** The guide's Secret; made by kubectl when it is installed (CI installs it), else its exact output. */
function basicAuth(env: Record<string, string>): string {
    const args = ["create", "secret", "generic", "basic-auth", "--from-literal=user=admin", "--from-literal=password=change-me", "--dry-run=client", "-o", "yaml"]
    if (hasKubectl) return execFileSync("kubectl", args, { env, encoding: "utf8" })
    return "apiVersion: v1\ndata:\n  password: Y2hhbmdlLW1l\n  user: YWRtaW4=\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: basic-auth\n"
}

/** `kubectl sops …` through kubectl's plugin lookup (PATH holds bin/kubectl-sops), or the bin itself without kubectl. */
function kubectlSops(args: string[], cwd: string, env: Record<string, string>) {
    if (!hasKubectl) return run(args, { cwd, env })
    return run(["sops", ...args], { cwd, env: { ...env, PATH: `${path.dirname(binPath)}:${env.PATH}` }, command: "kubectl" })
}

describe("Flux guide with the guide's OpenPGP key", () => {
    const dir = tempDir("ksops-flux-")
    const home = path.join(dir, ".home")
    const env = baseEnv(home)
    let fp = ""

    beforeAll(() => {
        mkdirSync(home, { recursive: true, mode: 0o700 })
        mkdirSync(env.GNUPGHOME, { mode: 0o700 })
        // the guide: gpg --batch --full-generate-key with these exact parameters
        const params = [
            "%no-protection",
            "Key-Type: 1",
            "Key-Length: 4096",
            "Subkey-Type: 1",
            "Subkey-Length: 4096",
            "Expire-Date: 0",
            "Name-Comment: flux secrets",
            "Name-Real: cluster0.yourdomain.com",
            "",
        ].join("\n")
        execFileSync("gpg", ["--batch", "--full-generate-key"], { env, input: params, stdio: ["pipe", "ignore", "ignore"] })
        const colons = execFileSync("gpg", ["--list-secret-keys", "--with-colons", "cluster0.yourdomain.com"], { env, encoding: "utf8" })
        fp = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1] ?? ""
        // the guide commits the public key and writes .sops.yaml
        writeFileSync(path.join(dir, ".sops.pub.asc"), execFileSync("gpg", ["--export", "--armor", fp], { env }))
        writeFileSync(path.join(dir, ".sops.yaml"), `creation_rules:\n  - path_regex: .*.yaml\n    encrypted_regex: ^(data|stringData)$\n    pgp: ${fp}\n`)
        writeFileSync(path.join(dir, "basic-auth.yaml"), basicAuth(env))
    }, 300_000)

    afterAll(() => {
        execFileSync("gpgconf", ["--kill", "gpg-agent"], { env, stdio: "ignore" })
    })

    it("makes a 40-hex fingerprint", () => {
        expect(fp).toMatch(/^[0-9A-F]{40}$/)
    })

    it("encrypts in place: metadata, kind and apiVersion stay clear, data is encrypted, gpg reads the data key", async () => {
        const before = readFileSync(path.join(dir, "basic-auth.yaml"), "utf8")
        const r = await kubectlSops(["encrypt", "--in-place", "basic-auth.yaml"], dir, env)
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        const enc = readFileSync(path.join(dir, "basic-auth.yaml"), "utf8")
        expect(enc).not.toBe(before)
        expect(enc).toMatch(/^apiVersion: v1$/m)
        expect(enc).toMatch(/^kind: Secret$/m)
        expect(enc).toMatch(/^ {4}name: basic-auth$/m)
        expect(enc).toMatch(/^ {4}password: ENC\[AES256_GCM,data:[^,]+,iv:[^,]+,tag:[^,]+,type:str\]$/m)
        expect(enc).toMatch(/^ {4}user: ENC\[AES256_GCM,/m)
        expect(enc).not.toContain("Y2hhbmdlLW1l")
        expect(enc).toContain(`fp: ${fp}`)
        expect(enc).toContain("encrypted_regex: ^(data|stringData)$")
        expect(enc).toMatch(/^ {4}mac: ENC\[AES256_GCM,/m) // kustomize-controller's detector
        // interop: the real gpg decrypts our PGP enc to a 32-byte data key
        const armor = /enc: \|-\n((?:(?: {12}.*)?\n)+)/.exec(enc)?.[1].replace(/^ {12}/gm, "") ?? ""
        const dataKey = execFileSync("gpg", ["--batch", "--quiet", "--decrypt"], { env, input: armor })
        expect(dataKey.length).toBe(32)
    })

    it("decrypts back to the Secret kubectl made (sops normalises indentation to 4 spaces)", async () => {
        const r = await kubectlSops(["decrypt", "basic-auth.yaml"], dir, env)
        expect(r.code).toBe(0)
        expect(r.stdout).toBe(basicAuth(env).replace(/^ {2}/gm, "    "))
    })

    it("refuses to encrypt the file twice (exit 203)", async () => {
        const r = await kubectlSops(["encrypt", "--in-place", "basic-auth.yaml"], dir, env)
        expect(r.code).toBe(203)
    })
})

describe("Flux guide with an age key", () => {
    it("age-keygen, .sops.yaml, encrypt --in-place, age --decrypt reads the data key, decrypt round-trips", async () => {
        const dir = tempDir("ksops-flux-age-")
        const home = path.join(dir, ".home")
        mkdirSync(home, { recursive: true, mode: 0o700 })
        const env = baseEnv(home)
        execFileSync("age-keygen", ["-o", path.join(dir, "age.agekey")], { stdio: "ignore" })
        chmodSync(path.join(dir, "age.agekey"), 0o600)
        const recipient = execFileSync("age-keygen", ["-y", path.join(dir, "age.agekey")], { encoding: "utf8" }).trim()
        writeFileSync(path.join(dir, ".sops.yaml"), `creation_rules:\n  - path_regex: .*.yaml\n    encrypted_regex: ^(data|stringData)$\n    age: ${recipient}\n`)
        writeFileSync(path.join(dir, "basic-auth.yaml"), basicAuth(env))
        const e = await kubectlSops(["encrypt", "--in-place", "basic-auth.yaml"], dir, env)
        expect(e.code).toBe(0)
        const enc = readFileSync(path.join(dir, "basic-auth.yaml"), "utf8")
        expect(enc).toContain(`recipient: ${recipient}`)
        const armor = /enc: \|\n((?: {12}.*\n)+)/.exec(enc)?.[1].replace(/^ {12}/gm, "") ?? ""
        const dataKey = execFileSync("age", ["--decrypt", "-i", path.join(dir, "age.agekey")], { input: armor })
        expect(dataKey.length).toBe(32)
        const d = await kubectlSops(["decrypt", "basic-auth.yaml"], dir, { ...env, SOPS_AGE_KEY_FILE: path.join(dir, "age.agekey") })
        expect(d.code).toBe(0)
        expect(d.stdout).toContain("password: Y2hhbmdlLW1l")
    })
})
