/**
 * `kubectl sops bootstrap` beyond the guide flow (test/e2e/flux-bootstrap.test.ts): golden `--export` outputs
 * (Vault, AWS IRSA, legacy Azure pod identity), the Vault Secret, the decryption Secret added to the entries already
 * there, cloud identity applied with a rollout restart, `--dry-run=server`, `-o json`, and flag errors. Runs the
 * built CLI against the in-process test API server.
 */
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parse } from "yaml"
import { repoRoot, vectorsDir } from "../cli/run.js"
import { startApiServer, type TestApiServer } from "../kube/apiserver/index.js"
import { fluxSandbox } from "./flux-sandbox.js"
import { describeShared } from "../conformance-data.js"

const golden = (name: string) => readFileSync(path.join(repoRoot, "test", "commands", "golden", name), "utf8")

const sandbox = (name: string) => fluxSandbox("bs-" + name)

const URL = "--url=https://github.com/my-org/my-secrets"

describe("bootstrap --export (golden files; the cluster is not contacted)", () => {
    const sb = sandbox("export")
    // a kubeconfig that points nowhere: --export must not need it
    const offline = { KUBECONFIG: "/nonexistent/kubeconfig" }

    it("Vault: GitRepository and Kustomization in flux's --export format, .sops.yaml with the transit key", async () => {
        const r = await sb.ks(
            ["bootstrap", "--url", "ssh://git@github.com/my-org/my-secrets", "--key", "vault", "--vault-addr", "https://vault.example.com:8200", "--vault-token", "s.secret", "--export", "--prune", "--path", "clusters/staging", "--name", "staging-secrets", "--interval", "5m"],
            offline,
        )
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout).toBe(golden("bootstrap-vault.yaml"))
        expect(r.stdout).not.toContain("s.secret")
        expect(r.stderr).not.toContain("s.secret")
        expect(r.stderr).toContain("not printed: the sops-hcvault Secret (it holds the Vault token)")
        expect(readFileSync(path.join(sb.repo, "clusters", "staging", ".sops.yaml"), "utf8")).toBe(golden("bootstrap-vault.sops.yaml"))
    })

    it("--include-secret adds the sops-hcvault Secret with the sops.vault-token entry", async () => {
        const r = await sb.ks(["bootstrap", URL, "--key", "vault", "--vault-key-uri", "https://vault.example.com:8200/v1/sops/keys/firstkey", "--export", "--include-secret", "--no-repo-files"], {
            ...offline,
            VAULT_TOKEN: "s.fromenv",
        })
        expect(r.code, r.stderr).toBe(0)
        const docs = r.stdout.split(/^---\n/m).filter(Boolean).map((d) => parse(d))
        expect(docs.map((d) => d.kind)).toEqual(["Secret", "GitRepository", "Kustomization"])
        expect(docs[0]).toEqual({
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "sops-hcvault", namespace: "flux-system" },
            type: "Opaque",
            data: { "sops.vault-token": Buffer.from("s.fromenv").toString("base64") },
        })
        expect(r.stderr).toContain("holds a Vault token: do not commit it unencrypted")
    })

    it("AWS IRSA and legacy Azure pod identity: the kustomize patch for flux-system/kustomization.yaml", async () => {
        const aws = await sb.ks(["bootstrap", URL, "--key", "none", "--aws-role-arn", "arn:aws:iam::123456789012:role/flux-sops", "--export"], offline)
        expect(aws.code, aws.stderr).toBe(0)
        expect(aws.stdout).toBe(golden("bootstrap-aws.yaml"))
        const azure = await sb.ks(["bootstrap", URL, "--key", "none", "--azure-pod-identity", "sops-akv-decryptor", "--export"], offline)
        expect(azure.code, azure.stderr).toBe(0)
        expect(azure.stdout).toBe(golden("bootstrap-azure-pod-identity.yaml"))
    })

    it("flag errors: one line and exit 1", async () => {
        const cases: [string[], RegExp][] = [
            [["bootstrap", "--export"], /^--url is required$/],
            [["bootstrap", URL, "--key", "none", "--export"], /^--key none needs a cloud identity$/],
            [["bootstrap", URL, "--key", "vault", "--export"], /^--key vault needs a Vault token$/],
            [["bootstrap", URL, "--name", "My_Secrets", "--export"], /^name 'My_Secrets' is invalid/],
            [["bootstrap", URL, "--interval", "10 minutes", "--export"], /--interval/],
            [["bootstrap", "--url=ftp://example.com/x", "--export"], /git URL scheme 'ftp' not supported/],
            [["bootstrap", URL, "--key", "none", "--azure-client-id", "x", "--export"], /^--azure-client-id and --azure-tenant-id go together$/],
        ]
        for (const [args, message] of cases) {
            const r = await sb.ks(args, offline)
            expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(1)
            const lines = r.stderr.split("\n").filter(Boolean)
            expect(lines[0], args.join(" ")).toMatch(message)
            expect(lines.length, r.stderr).toBeLessThanOrEqual(2)
        }
    })
})

describeShared("bootstrap against the test API server", () => {
    const sb = sandbox("live")
    let api: TestApiServer

    beforeAll(async () => {
        api = await startApiServer()
        sb.env.KUBECONFIG = api.kubeconfig()
    })

    afterAll(async () => {
        await sb.ks(["agent", "stop"])
        spawnSync("secret-tool", ["clear", "service", sb.env.KUBECTL_SOPS_KEYCHAIN_SERVICE])
        await api?.close()
    })

    it("--dry-run=server validates on the server and stores nothing", async () => {
        const r = await sb.ks(["bootstrap", URL, "--key", "vault", "--vault-addr", "https://vault.example.com:8200", "--vault-token", "s.t", "--dry-run=server"])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toContain("(server dry run)")
        expect(api.object("v1", "Secret", "flux-system", "sops-hcvault")).toBeUndefined()
        expect(api.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "my-secrets")).toBeUndefined()
        expect(api.requests.some((q) => q.method === "PATCH" && q.query.get("dryRun") === "All")).toBe(true)
    })

    it("the age key is added to a decryption Secret that already holds other entries", async () => {
        // someone created sops-age with kubectl before: another cluster's key in the same entry, and a Vault token
        const otherKey = readFileSync(path.join(vectorsDir, "sops-3.13.2", "keys", "age2.agekey"), "utf8")
        api.seed(
            {
                apiVersion: "v1",
                kind: "Secret",
                metadata: { name: "sops-age", namespace: "flux-system" },
                type: "Opaque",
                data: { "age.agekey": Buffer.from(otherKey).toString("base64"), "sops.vault-token": Buffer.from("s.keep").toString("base64") },
            },
            "kubectl-create",
        )
        const r = await sb.ks(["bootstrap", URL, "-o", "json"])
        expect(r.code, r.stderr).toBe(0)
        const secret = api.object("v1", "Secret", "flux-system", "sops-age")
        expect(Object.keys(secret.data).sort()).toEqual(["age.agekey", "sops.vault-token"])
        expect(Buffer.from(secret.data["sops.vault-token"], "base64").toString()).toBe("s.keep")
        const recipient = parse(readFileSync(path.join(sb.repo, "clusters", "cluster0", ".sops.yaml"), "utf8")).creation_rules[0].age
        const entry = Buffer.from(secret.data["age.agekey"], "base64").toString()
        // both keys, the old one first: the controller pools every identity of the entry
        expect(entry.startsWith(otherKey)).toBe(true)
        expect(entry).toContain(`# public key: ${recipient}`)
        expect(entry.match(/^AGE-SECRET-KEY-1/gm)).toHaveLength(2)
        // -o json prints the applied Flux objects, never the Secret (it holds the private key)
        const printed = JSON.parse(r.stdout)
        expect(printed.kind).toBe("List")
        expect(printed.items.map((o: { kind: string }) => o.kind)).toEqual(["GitRepository", "Kustomization"])
        expect(r.stdout).not.toContain("AGE-SECRET-KEY")
        // a re-run adds nothing
        const again = await sb.ks(["bootstrap", URL])
        expect(again.code, again.stderr).toBe(0)
        expect(again.stderr).toContain("Secret flux-system/sops-age unchanged")
    }, 120_000)

    it("a private https repository: --username/--password make flux's credentials Secret for the source", async () => {
        const r = await sb.ks(["bootstrap", "--url=https://git.example.com/org/private", "--name", "private-secrets", "--key", "vault", "--vault-addr", "https://vault.example.com:8200", "--vault-token", "s.t", "-u", "git", "-p", "s3cr3t-pass", "--no-repo-files"])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).not.toContain("s3cr3t-pass")
        const creds = api.object("v1", "Secret", "flux-system", "private-secrets")
        expect(Buffer.from(creds.data.password, "base64").toString()).toBe("s3cr3t-pass")
        expect(Buffer.from(creds.data.username, "base64").toString()).toBe("git")
        expect(api.object("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "private-secrets").spec.secretRef).toEqual({ name: "private-secrets" })
        const both = await sb.ks(["bootstrap", "--url=https://git.example.com/org/private", "--key", "vault", "--vault-token", "s.t", "--vault-key-uri", "https://v/v1/sops/keys/k", "-u", "git", "-p", "x", "--secret-ref", "creds", "--export"])
        expect(both.code).toBe(1)
        expect(both.stderr.split("\n")[0]).toBe("use --secret-ref or --username/--password, not both")
    })

    it("cloud identity: annotates kustomize-controller's ServiceAccount and restarts the Deployment", async () => {
        const before = api.object("apps/v1", "Deployment", "flux-system", "kustomize-controller")
        const r = await sb.ks(["bootstrap", URL, "--name", "kms-secrets", "--key", "none", "--aws-role-arn", "arn:aws:iam::123456789012:role/flux-sops"])
        expect(r.code, r.stderr).toBe(0)
        const sa = api.object("v1", "ServiceAccount", "flux-system", "kustomize-controller")
        expect(sa.metadata.annotations["eks.amazonaws.com/role-arn"]).toBe("arn:aws:iam::123456789012:role/flux-sops")
        const dep = api.object("apps/v1", "Deployment", "flux-system", "kustomize-controller")
        expect(dep.spec.template.metadata.annotations?.["kubectl.kubernetes.io/restartedAt"]).toMatch(/^\d{4}-\d\d-\d\dT/)
        expect(dep.metadata.generation).toBeGreaterThan(before.metadata.generation)
        expect(r.stderr).toContain("deployment flux-system/kustomize-controller restarted")
        const ks = api.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "kms-secrets")
        expect(ks.spec.decryption).toEqual({ provider: "sops" })
        // unchanged identity: no second restart
        const again = await sb.ks(["bootstrap", URL, "--name", "kms-secrets", "--key", "none", "--aws-role-arn", "arn:aws:iam::123456789012:role/flux-sops"])
        expect(again.code, again.stderr).toBe(0)
        expect(again.stderr).not.toContain("restarted")
    })
})
