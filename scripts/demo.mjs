#!/usr/bin/env node
// The README quickstart: in a temp folder, make an age key, write .sops.yaml, encrypt the Flux guide's basic-auth
// Secret with kubectl-sops and decrypt it again, printing each step. Needs `npm run build` first (npm run demo does it).
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = path.join(root, "bin", "kubectl-sops")
const { encodeX25519Identity, encodeX25519Recipient, x25519PrivateKey, x25519RawPublic } = await import(
    path.join(root, "dist/src/keys/age-format.js")
)

const dir = mkdtempSync(path.join(tmpdir(), "kubectl-sops-demo-"))
const say = (title, body) => process.stdout.write(`\n== ${title}\n${body === undefined ? "" : `${body.trimEnd()}\n`}`)
const env = { ...process.env, SOPS_AGE_KEY_FILE: path.join(dir, "age.agekey") }
for (const k of ["SOPS_AGE_RECIPIENTS", "SOPS_PGP_FP", "SOPS_CONFIG"]) delete env[k]
const sops = (...args) => execFileSync(process.execPath, [bin, ...args], { cwd: dir, env, encoding: "utf8" })

try {
    say("working folder", dir)

    const scalar = randomBytes(32)
    const identity = encodeX25519Identity(scalar)
    const recipient = encodeX25519Recipient(x25519RawPublic(x25519PrivateKey(scalar)))
    scalar.fill(0)
    writeFileSync(env.SOPS_AGE_KEY_FILE, `# public key: ${recipient}\n${identity}\n`, { mode: 0o600 })
    say("1. made an age key (age.agekey, 0600; SOPS_AGE_KEY_FILE points at it)", `public key: ${recipient}`)

    const config = `creation_rules:\n  - path_regex: .*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: ${recipient}\n`
    writeFileSync(path.join(dir, ".sops.yaml"), config)
    say("2. wrote .sops.yaml", config)

    // kubectl -n default create secret generic basic-auth --from-literal=user=admin --from-literal=password=change-me --dry-run=client -o yaml
    const secret = [
        "apiVersion: v1",
        "data:",
        "  password: Y2hhbmdlLW1l",
        "  user: YWRtaW4=",
        "kind: Secret",
        "metadata:",
        "  creationTimestamp: null",
        "  name: basic-auth",
        "  namespace: default",
        "",
    ].join("\n")
    writeFileSync(path.join(dir, "basic-auth.yaml"), secret)
    say("3. wrote the Flux guide's basic-auth Secret (basic-auth.yaml)", secret)

    sops("encrypt", "--in-place", "basic-auth.yaml")
    say("4. kubectl sops encrypt --in-place basic-auth.yaml", readFileSync(path.join(dir, "basic-auth.yaml"), "utf8"))

    say("5. kubectl sops filestatus basic-auth.yaml", sops("filestatus", "basic-auth.yaml"))

    const plain = sops("decrypt", "basic-auth.yaml")
    say("6. kubectl sops decrypt basic-auth.yaml", plain)

    const password = sops("decrypt", "--extract", '["data"]["password"]', "basic-auth.yaml")
    say("7. kubectl sops decrypt --extract '[\"data\"][\"password\"]' basic-auth.yaml", `${password}  (base64 of "${Buffer.from(password, "base64")}")`)

    if (!plain.includes("password: Y2hhbmdlLW1l") || !plain.includes("user: YWRtaW4=")) throw new Error("decrypted values differ from the original")
    say("done: the decrypted Secret has the original values")
} finally {
    rmSync(dir, { recursive: true, force: true })
}
