/**
 * `kubectl sops create secret|source git|kustomization` end to end: the built CLI against the in-process test API
 * server (real HTTPS, server-side apply, CRD validation), checked with the real kubectl where it is installed.
 * Run `npm run build` first.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { parse } from "yaml"
import { baseEnv, needs, run, tempDir, vectorsDir, which } from "../cli/run.js"
import { startApiServer, type TestApiServer } from "../kube/apiserver/index.js"
import { expectGolden } from "../kube/helpers.js"
import { describeShared, sharedData } from "../conformance-data.js"

const keys = path.join(vectorsDir, "sops-3.13.2", "keys")
const AGE1 = (sharedData ? readFileSync(path.join(keys, "age1.agekey"), "utf8") : "")
const AGE2 = (sharedData ? readFileSync(path.join(keys, "age2.agekey"), "utf8") : "")
const PGP_SEC = (sharedData ? readFileSync(path.join(keys, "cluster0.sec.asc"), "utf8") : "")
const PGP_PUB = (sharedData ? readFileSync(path.join(keys, "cluster0.pub.asc"), "utf8") : "")
/** The secret part of AGE1, which must never be printed. */
const AGE1_SECRET = ((/^AGE-SECRET-KEY-1\S+$/m.exec(AGE1) ?? [""]) as RegExpExecArray)[0]
const PGP_FP = sharedData ? readFileSync(path.join(keys, "cluster0.fpr"), "utf8").trim() : ""
const KS_API = "kustomize.toolkit.fluxcd.io/v1"
const GIT_API = "source.toolkit.fluxcd.io/v1"

let api: TestApiServer
let kubeconfig: string
const dir = tempDir("ksops-create-")
const home = path.join(dir, "home")
mkdirSync(home)
const env = { ...baseEnv(home), KUBECTL_SOPS_NO_AGENT: "1", KUBECTL_SOPS_POLL_INTERVAL_MS: "50" }
delete (env as Record<string, string | undefined>).KUBECONFIG

/** A loader hook that makes importing @kubernetes/client-node fail: proves --export never loads it. */
const noClientNode = path.join(dir, "no-client-node.mjs")
writeFileSync(
    noClientNode,
    `import { register } from "node:module"\nregister("data:text/javascript," + encodeURIComponent("export async function resolve(s, c, n) { if (s.startsWith('@kubernetes/client-node')) throw new Error('client-node was loaded'); return n(s, c) }"))\n`,
)

function ks(args: readonly string[], o: { input?: string; env?: Record<string, string | undefined> } = {}) {
    return run(args, { cwd: dir, env: { ...env, ...(o.env ?? {}) }, ...(o.input === undefined ? {} : { input: o.input }) })
}

function live(args: readonly string[], o: { input?: string; env?: Record<string, string | undefined> } = {}) {
    return ks([...args, "--kubeconfig", kubeconfig], o)
}

/**
 * `kubectl get -o yaml` (the real kubectl; asynchronous, the API server runs in this process), or the server's copy
 * when kubectl is not installed.
 */
async function kubectlGet(resource: string, name: string, apiVersion: string, kind: string): Promise<Record<string, unknown>> {
    if (which("kubectl") === undefined) return api.object(apiVersion, kind, "flux-system", name)
    const r = await run(["--kubeconfig", kubeconfig, "-n", "flux-system", "get", resource, name, "-o", "yaml", "--request-timeout=20s"], { command: "kubectl", env })
    expect(r.code, r.stderr).toBe(0)
    return parse(r.stdout) as Record<string, unknown>
}

function entry(secret: Record<string, unknown>, key: string): string {
    return Buffer.from((secret.data as Record<string, string>)[key], "base64").toString("utf8")
}

beforeAll(async () => {
    api = await startApiServer({ users: { admin: { token: "admin" }, viewer: { token: "viewer", forbid: [{ verb: "patch", resource: "secrets" }] } } })
    kubeconfig = api.kubeconfig({ file: path.join(dir, "kubeconfig") })
})
afterAll(async () => api?.close())

describeShared("--export: flux's output, byte for byte, without the Kubernetes client", () => {
    const hooked = { NODE_OPTIONS: `--import=${noClientNode}`, KUBECONFIG: path.join(dir, "nowhere") }

    test("create source git (the guide's command)", async () => {
        const r = await ks(["create", "source", "git", "my-secrets", "--url=https://github.com/my-org/my-secrets", "--branch=main", "--export"], { env: hooked })
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expectGolden("source-git-branch.yaml", r.stdout)
    })

    test("create kustomization and its alias create ks (the guide's command)", async () => {
        const args = ["my-secrets", "--source=my-secrets", "--path=./clusters/cluster0", "--prune=true", "--interval=10m", "--decryption-provider=sops", "--decryption-secret=sops-gpg", "--export"]
        for (const id of [["create", "kustomization"], ["create", "ks"]]) {
            const r = await ks([...id, ...args], { env: hooked })
            expect(r.stderr).toBe("")
            expect(r.code).toBe(0)
            expectGolden("kustomization-guide.yaml", r.stdout)
        }
    })

    test("create kustomization --health-check: flux's spec.healthChecks and spec.timeout", async () => {
        const args = ["apps", "--source=apps", "--path=./apps", "--prune=true", "--interval=10m", "--decryption-provider=sops", "--decryption-secret=sops-age"]
        const checks = ["--health-check=Deployment/podinfo.apps,StatefulSet/db.data", "--health-check", "HelmRelease/redis.flux-system", "--health-check-timeout=3m"]
        const r = await ks(["create", "kustomization", ...args, ...checks, "--export"], { env: hooked })
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expectGolden("kustomization-health-checks.yaml", r.stdout)
        const bad = await ks(["create", "ks", ...args, "--health-check=Service/web.apps", "--export"], { env: hooked })
        expect(bad.code).toBe(1)
        expect(bad.stderr.split("\n")[0]).toBe("invalid health check kind 'Service' can be HelmRelease, Deployment, DaemonSet or StatefulSet")
    })

    test("--ns-follows-kube-context: the context's namespace, read without the Kubernetes client", async () => {
        const file = path.join(dir, "ns-kubeconfig")
        writeFileSync(file, "apiVersion: v1\nkind: Config\ncurrent-context: dev\ncontexts:\n- name: dev\n  context:\n    cluster: c\n    namespace: team-a\n")
        const args = ["create", "ks", "apps", "--source=apps", "--export"]
        const flag = await ks([...args, "--ns-follows-kube-context"], { env: { ...hooked, KUBECONFIG: file } })
        expect(flag.code, flag.stderr).toBe(0)
        expect(parse(flag.stdout)).toMatchObject({ metadata: { name: "apps", namespace: "team-a" } })
        const fromEnv = await ks([...args, "-n", "other"], { env: { ...hooked, KUBECONFIG: file, FLUX_NS_FOLLOWS_KUBE_CONTEXT: "true" } })
        expect(parse(fromEnv.stdout)).toMatchObject({ metadata: { namespace: "other" } })
        const off = await ks(args, { env: { ...hooked, KUBECONFIG: file } })
        expect(parse(off.stdout)).toMatchObject({ metadata: { namespace: "flux-system" } })
    })

    test("create secret: the kubectl create secret generic Secret, with a warning", async () => {
        const file = path.join(dir, "age.agekey")
        writeFileSync(file, AGE1)
        const r = await ks(["create", "secret", "age", "sops-age", "--from-file", file, "--export"], { env: hooked })
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toMatch(/^warning: the output contains a private key/)
        expect(parse(r.stdout)).toEqual({
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "sops-age", namespace: "flux-system" },
            type: "Opaque",
            data: { "age.agekey": Buffer.from(AGE1).toString("base64") },
        })
        const v = await ks(["create", "secret", "vault", "sops-hcvault", "-n", "apps", "--export"], { env: { ...hooked, VAULT_TOKEN: "hvs.token" } })
        expect(v.code, v.stderr).toBe(0)
        expect(v.stdout).toBe(`---\napiVersion: v1\ndata:\n  sops.vault-token: ${Buffer.from("hvs.token").toString("base64")}\nkind: Secret\nmetadata:\n  name: sops-hcvault\n  namespace: apps\ntype: Opaque\n`)
    })

    test("--dry-run=client -o yaml prints the object; the hook really blocks the client", async () => {
        const r = await ks(["create", "ks", "apps", "--source=apps", "--dry-run=client", "-o", "yaml"], { env: hooked })
        expect(r.code, r.stderr).toBe(0)
        expect(parse(r.stdout)).toMatchObject({ kind: "Kustomization", spec: { path: "./", prune: false, interval: "1m0s" } })
        const blocked = await ks(["create", "ks", "apps", "--source=apps", "--kubeconfig", kubeconfig], { env: { NODE_OPTIONS: `--import=${noClientNode}` } })
        expect(blocked.code).not.toBe(0)
    })
})

describeShared("flux2's create source git test cases (cmd/flux/create_source_git_test.go), same output", () => {
    const common = ["--namespace=flux-system", "--interval=1m0s", "--export"]
    const url = "--url=https://github.com/stefanprodan/podinfo"
    const azure = "--url=https://dev.azure.com/foo/bar/_git/podinfo"
    test.each([
        ["flux2-export.yaml", [url, "--branch=master", "--sparse-checkout-paths", ".cosign,non-existent-dir/", "--ignore-paths", ".cosign,non-existent-dir/", "-n", "default", "--interval", "1m", "--export", "--timeout=1m"]],
        ["flux2-source-git-commit.yaml", [url, "--commit=c88a2f41", ...common]],
        ["flux2-source-git-refname.yaml", [url, "--ref-name=refs/heads/main", ...common]],
        ["flux2-source-git-branch-commit.yaml", [url, "--branch=main", "--commit=c88a2f41", ...common]],
        ["flux2-source-git-semver.yaml", [url, "--tag-semver=v1.01", ...common]],
        ["flux2-source-git-tag.yaml", [url, "--tag=test", ...common]],
        ["flux2-source-git-branch.yaml", [url, "--branch=test", ...common]],
        ["flux2-source-git-provider-generic.yaml", [url, "--provider", "generic", "--branch=test", ...common]],
        ["flux2-source-git-provider-azure.yaml", [azure, "--provider", "azure", "--branch=test", ...common]],
        ["flux2-source-git-provider-github.yaml", [url, "--provider", "github", "--branch=test", "--secret-ref", "appinfo", ...common]],
    ])("%s", async (golden, args) => {
        const r = await ks(["create", "source", "git", "podinfo", ...args])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expectGolden(golden, r.stdout)
    })

    test("provider errors", async () => {
        let r = await ks(["create", "source", "git", "podinfo", azure, "--provider", "dummy", "--branch=test", ...common])
        expect(r.stderr.split("\n")[0]).toBe(`invalid argument "dummy" for "--provider" flag: source Git provider 'dummy' is not supported, must be one of: generic|github|aws|azure`)
        r = await ks(["create", "source", "git", "podinfo", azure, "--provider", "", "--branch=test", ...common])
        expect(r.stderr.split("\n")[0]).toBe(`invalid argument "" for "--provider" flag: no source Git provider given, please specify the Git provider name`)
        r = await ks(["create", "kustomization", "my-app", "--path=./deploy", "--export"])
        expect(r.stderr.split("\n")[0]).toBe("source is required")
    })
})

describeShared("bad input: one clear line, exit 1", () => {
    test.each([
        [["create", "source", "git", "Bad_Name", "--url=https://x/y", "--branch=main"], "name 'Bad_Name' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'"],
        [["create", "source", "git", "repo", "--branch=main"], "url is required"],
        [["create", "source", "git", "repo", "--url=https://x/y"], "a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver"],
        [["create", "source", "git", "repo", "--url=ftp://x/y", "--branch=main"], "git URL scheme 'ftp' not supported, can be: ssh, http and https"],
        [["create", "source", "git", "repo", "--url=https://x/y", "--branch=main", "--interval=1d"], 'invalid argument "1d" for "--interval" flag: time: unknown unit "d" in duration "1d"'],
        [["create", "ks", "apps"], "source is required"],
        [["create", "ks", "apps", "--source=apps", "--decryption-provider=vault"], `invalid argument "vault" for "--decryption-provider" flag: unsupported decryption provider 'vault', must be one of: sops`],
        [["create", "ks", "apps", "--source=Helm/apps"], `invalid argument "Helm/apps" for "--source" flag: source kind 'Helm' is not supported, must be one of: OCIRepository, GitRepository, Bucket`],
        [["create", "ks", "apps", "--source=apps", "--prune=yes"], 'invalid argument "yes" for "--prune" flag: strconv.ParseBool: parsing "yes": invalid syntax'],
        [["create", "ks", "apps", "--source=apps", "--label=a"], "invalid label format 'a', must be key=value"],
        [["create", "secret", "age", "sops-age"], "the age identity is required: use --from-agent KEY-ID or --from-file FILE"],
        [["create", "secret", "vault", "sops-hcvault"], "a Vault token is required"],
    ])("%j", async (args, message) => {
        const r = await ks([...args, "--export"])
        expect(r.code).toBe(1)
        expect(r.stdout).toBe("")
        expect(r.stderr.split("\n")[0]).toBe(message)
        expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/)
    })

    test("key material kustomize-controller could not use is refused before anything is applied", async () => {
        const pub = path.join(dir, "pub.asc")
        writeFileSync(pub, PGP_PUB)
        let r = await live(["create", "secret", "pgp", "sops-gpg", "--from-file", pub])
        expect(r.code).toBe(1)
        expect(r.stderr.split("\n")[0]).toBe(`${pub}: PGP key ${PGP_FP} has no secret key material (a public key cannot decrypt)`)
        r = await live(["create", "secret", "age", "sops-age", "--from-file", "-"], { input: `${AGE1.trimEnd()} \n` })
        expect(r.code).toBe(1)
        expect(r.stderr.split("\n")[0]).toBe("stdin: kustomize-controller could not import this key: failed to parse and add to age identities: malformed secret key: invalid character not part of charset")
        expect(r.stderr).not.toContain(AGE1_SECRET)
        r = await live(["create", "secret", "pgp", "sops-gpg", "--from-file", "-"], { input: AGE1 })
        expect(r.code).toBe(1)
        expect(api.object("v1", "Secret", "flux-system", "sops-gpg")).toBeUndefined()
    })
})

describeShared("live: server-side apply, checked with kubectl", () => {
    test("create secret age: created, additive, unchanged; other entries kept", async () => {
        const f1 = path.join(dir, "k1.agekey")
        const f2 = path.join(dir, "k2.agekey")
        writeFileSync(f1, AGE1)
        writeFileSync(f2, AGE2)
        let r = await live(["create", "secret", "age", "sops-age", "--from-file", f1, "--label", "reconcile.fluxcd.io/watch=Enabled"])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout).toBe("")
        expect(r.stderr).toContain("✔ Secret flux-system/sops-age created\n")
        expect(r.stderr).not.toContain(AGE1_SECRET)
        let s = await kubectlGet("secret", "sops-age", "v1", "Secret")
        expect(s).toMatchObject({ type: "Opaque", metadata: { labels: { "reconcile.fluxcd.io/watch": "Enabled" } } })
        expect(entry(s, "age.agekey")).toBe(AGE1)

        r = await live(["create", "secret", "age", "sops-age", "--from-file", f2, "--add", "--label", "reconcile.fluxcd.io/watch=Enabled"])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toContain("► age.agekey: added 1 age identity to the 1 already there\n")
        expect(r.stderr).toContain("✔ Secret flux-system/sops-age configured\n")
        s = await kubectlGet("secret", "sops-age", "v1", "Secret")
        expect(entry(s, "age.agekey")).toBe(AGE1 + AGE2)

        r = await live(["create", "secret", "age", "sops-age", "--from-file", f1, "--label", "reconcile.fluxcd.io/watch=Enabled"])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toContain("► age.agekey already holds this identity\n")
        expect(r.stderr).toContain("✔ Secret flux-system/sops-age unchanged\n")

        // a PGP key goes into sops.asc of the same Secret; the age entry stays
        r = await live(["create", "secret", "pgp", "sops-age", "--from-file", "-", "--label", "reconcile.fluxcd.io/watch=Enabled"], { input: PGP_SEC })
        expect(r.code, r.stderr).toBe(0)
        s = await kubectlGet("secret", "sops-age", "v1", "Secret")
        expect(entry(s, "age.agekey")).toBe(AGE1 + AGE2)
        expect(entry(s, "sops.asc")).toBe(PGP_SEC)
        r = await live(["create", "secret", "pgp", "sops-age", "--from-file", "-", "--label", "reconcile.fluxcd.io/watch=Enabled"], { input: PGP_SEC })
        expect(r.stderr).toContain(`► sops.asc already holds PGP key ${PGP_FP}\n`)

        // --replace
        r = await live(["create", "secret", "age", "sops-age", "--from-file", f2, "--replace", "--label", "reconcile.fluxcd.io/watch=Enabled"])
        expect(r.code, r.stderr).toBe(0)
        expect(entry(await kubectlGet("secret", "sops-age", "v1", "Secret"), "age.agekey")).toBe(AGE2)
    })

    test("create secret adds to a Secret made by kubectl create secret generic (taking over the entry)", async () => {
        api.seed(
            { apiVersion: "v1", kind: "Secret", metadata: { name: "sops-gpg", namespace: "flux-system" }, type: "Opaque", data: { "age.agekey": Buffer.from(AGE1).toString("base64") } },
            "kubectl-create",
        )
        const f2 = path.join(dir, "k2b.agekey")
        writeFileSync(f2, AGE2)
        const r = await live(["create", "secret", "age", "sops-gpg", "--from-file", f2])
        expect(r.code, r.stderr).toBe(0)
        expect(entry(await kubectlGet("secret", "sops-gpg", "v1", "Secret"), "age.agekey")).toBe(AGE1 + AGE2)
    })

    test("create source git with --username/--password/--ca-file: flux's credentials Secret, referenced by the source", async () => {
        const ca = path.join(dir, "ca.crt")
        writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        const args = ["create", "source", "git", "private-repo", "--url=https://git.example.com/org/private", "--branch=main", "-u", "git", "-p", "s3cr3t-pass", "--ca-file", ca]
        const r = await live(args)
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toContain("✔ Secret flux-system/private-repo created\n")
        expect(r.stdout + r.stderr).not.toContain("s3cr3t-pass")
        const secret = await kubectlGet("secret", "private-repo", "v1", "Secret")
        expect(entry(secret, "username")).toBe("git")
        expect(entry(secret, "password")).toBe("s3cr3t-pass")
        expect(entry(secret, "ca.crt")).toContain("BEGIN CERTIFICATE")
        const g = await kubectlGet("gitrepository", "private-repo", GIT_API, "GitRepository")
        expect(g.spec).toMatchObject({ secretRef: { name: "private-repo" }, url: "https://git.example.com/org/private" })
        const again = await live(args)
        expect(again.stderr).toContain("✔ Secret flux-system/private-repo unchanged\n")
        expect(again.stderr).toContain("✔ GitRepository source unchanged\n")
        // like flux, --export prints only the source (no Secret, no secretRef); ssh needs --secret-ref
        const exported = await ks([...args, "--export"])
        expect(exported.code, exported.stderr).toBe(0)
        expect(exported.stdout).not.toContain("Secret")
        const ssh = await live(["create", "source", "git", "ssh-repo", "--url=ssh://git@example.com/x", "--branch=main", "-u", "git", "-p", "p"])
        expect(ssh.code).toBe(1)
        expect(ssh.stderr.split("\n")[0]).toBe("--username, --password and --ca-file are for http(s) URLs")
    })

    test("create source git: created, then unchanged; --dry-run=server stores nothing", async () => {
        const args = ["create", "source", "git", "my-secrets", "--url=https://github.com/my-org/my-secrets", "--branch=main"]
        let r = await live([...args, "--dry-run=server"])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toBe("✚ generating GitRepository source\n► applying GitRepository source (server dry run)\n✔ GitRepository source created (server dry run)\n")
        expect(api.object(GIT_API, "GitRepository", "flux-system", "my-secrets")).toBeUndefined()
        r = await live(args)
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toBe("✚ generating GitRepository source\n► applying GitRepository source\n✔ GitRepository source created\n")
        const g = await kubectlGet("gitrepository", "my-secrets", GIT_API, "GitRepository")
        expect(g.spec).toMatchObject({ url: "https://github.com/my-org/my-secrets", interval: "1m0s", ref: { branch: "main" } })
        const stored = api.object(GIT_API, "GitRepository", "flux-system", "my-secrets")
        const managers = (stored.metadata.managedFields as { manager: string; operation: string }[]).map((m) => `${m.manager}/${m.operation}`)
        expect(managers).toContain("kubectl-sops/Apply")
        r = await live(args)
        expect(r.stderr).toContain("✔ GitRepository source unchanged\n")
        r = await live([...args.slice(0, -1), "--branch=dev", "-o", "json"])
        expect(r.stderr).toContain("✔ GitRepository source configured\n")
        const shown = JSON.parse(r.stdout)
        expect(shown.spec.ref).toEqual({ branch: "dev" })
        expect(shown.metadata.managedFields).toBeUndefined()
        expect(shown.metadata.resourceVersion).toMatch(/^\d+$/)
    })

    test("create kustomization --wait: ready with the applied revision", async () => {
        api.onWrite = (obj) => {
            if (obj.kind !== "Kustomization" || obj.metadata.name !== "my-secrets") return
            setTimeout(() => {
                api.setStatus(KS_API, "Kustomization", "flux-system", "my-secrets", {
                    observedGeneration: obj.metadata.generation,
                    lastAppliedRevision: "main@sha1:4a5b6c",
                    conditions: [{ type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "Applied revision: main@sha1:4a5b6c", observedGeneration: obj.metadata.generation }],
                })
            }, 100)
        }
        try {
            const r = await live([
                "create", "kustomization", "my-secrets", "--source=my-secrets", "--path=./clusters/cluster0", "--prune=true",
                "--interval=10m", "--decryption-provider=sops", "--decryption-secret=sops-gpg", "--wait",
            ])
            expect(r.code, r.stderr).toBe(0)
            expect(r.stderr).toBe(
                "✚ generating Kustomization\n► applying Kustomization\n✔ Kustomization created\n◎ waiting for Kustomization reconciliation\n✔ Kustomization my-secrets is ready\n✔ applied revision main@sha1:4a5b6c\n",
            )
            const k = await kubectlGet("kustomization", "my-secrets", KS_API, "Kustomization")
            expect(k.spec).toMatchObject({ decryption: { provider: "sops", secretRef: { name: "sops-gpg" } }, prune: true, wait: true, timeout: "2m0s", path: "./clusters/cluster0" })
        } finally {
            api.onWrite = undefined
        }
    })

    test("create kustomization --wait: a decryption failure is reported at once", async () => {
        api.onWrite = (obj) => {
            if (obj.kind !== "Kustomization" || obj.metadata.name !== "broken") return
            setTimeout(() => {
                api.setStatus(KS_API, "Kustomization", "flux-system", "broken", {
                    observedGeneration: obj.metadata.generation,
                    conditions: [
                        { type: "Ready", status: "False", reason: "BuildFailed", message: 'secrets "sops-missing" not found', observedGeneration: obj.metadata.generation },
                        { type: "Reconciling", status: "True", reason: "ProgressingWithRetry", message: "retrying", observedGeneration: obj.metadata.generation },
                    ],
                })
            }, 100)
        }
        try {
            const r = await live(["create", "ks", "broken", "--source=my-secrets", "--decryption-provider=sops", "--decryption-secret=sops-missing", "--wait", "--timeout=1m"])
            expect(r.code).toBe(1)
            expect(r.stderr).toContain('Kustomization flux-system/broken: secrets "sops-missing" not found\n')
        } finally {
            api.onWrite = undefined
        }
    })
})

describeShared("cluster errors: one line, exit 1", () => {
    test("Flux not installed", async () => {
        const bare = await startApiServer({ installFluxCrds: false })
        try {
            const r = await ks(["create", "source", "git", "repo", "--url=https://x/y", "--branch=main", "--kubeconfig", bare.kubeconfig()])
            expect(r.code).toBe(1)
            expect(r.stderr).toContain("the server has no GitRepository (source.toolkit.fluxcd.io/v1) API\nhint: install Flux first: flux install\n")
        } finally {
            await bare.close()
        }
    })

    test("unreachable cluster, malformed kubeconfig, forbidden", async () => {
        const dead = path.join(dir, "dead")
        writeFileSync(
            dead,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: t\ncurrent-context: c\n",
        )
        let r = await ks(["create", "ks", "apps", "--source=apps", "--kubeconfig", dead])
        expect(r.code).toBe(1)
        expect(r.stderr).toContain("cannot reach the cluster at https://127.0.0.1:1: connection refused\nhint: ")
        const bad = path.join(dir, "bad-kubeconfig")
        writeFileSync(bad, "clusters: [")
        r = await ks(["create", "ks", "apps", "--source=apps", "--kubeconfig", bad])
        expect(r.code).toBe(1)
        expect(r.stderr.split("\n")[1]).toMatch(new RegExp(`^invalid kubeconfig ${bad}: `))
        const viewer = api.kubeconfig({ user: "viewer", file: path.join(dir, "viewer") })
        const f1 = path.join(dir, "k3.agekey")
        writeFileSync(f1, AGE1)
        r = await ks(["create", "secret", "age", "sops-age", "--from-file", f1, "--kubeconfig", viewer])
        expect(r.code).toBe(1)
        expect(r.stderr).toMatch(/\nsecrets "sops-age" is forbidden: User "viewer" cannot patch resource "secrets"/)
        expect(r.stderr).not.toContain(AGE1_SECRET)
    })
})

describe.runIf(sharedData && needs("kubectl"))("kubectl sees the same objects", () => {
    test("kubectl get kustomization my-secrets", async () => {
        expect(which("kubectl")).toBeDefined()
        const k = await kubectlGet("kustomization", "my-secrets", KS_API, "Kustomization")
        expect(k.kind).toBe("Kustomization")
    })
})

describeShared("--from-agent: the key comes from the agent (file keychain)", () => {
    const agentDir = tempDir("ksops-create-agent-")
    const agentEnv = {
        KUBECTL_SOPS_NO_AGENT: undefined,
        KUBECTL_SOPS_AGENT_SOCK: path.join(agentDir, "agent", "agent.sock"),
        KUBECTL_SOPS_KEYCHAIN: `file:${path.join(agentDir, "keychain.age")}`,
        KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "create test keychain",
        KUBECTL_SOPS_KEYCHAIN_SERVICE: undefined,
        XDG_RUNTIME_DIR: undefined,
    }
    afterAll(async () => {
        await ks(["agent", "stop"], { env: agentEnv })
    })

    test("age and PGP keys by id prefix; a type mismatch is refused", async () => {
        for (const input of [AGE1, PGP_SEC]) {
            const imp = await ks(["keys", "import", "-"], { env: agentEnv, input })
            expect(imp.code, imp.stderr).toBe(0)
        }
        const recipient = (/public key: (age1\w+)/.exec(AGE1) as RegExpExecArray)[1]
        let r = await ks(["create", "secret", "age", "sops-agent", "--from-agent", recipient.slice(0, 20), "--export"], { env: agentEnv })
        expect(r.code, r.stderr).toBe(0)
        const data = (parse(r.stdout) as { data: Record<string, string> }).data
        expect(Buffer.from(data["age.agekey"], "base64").toString("utf8")).toContain(AGE1_SECRET)
        r = await live(["create", "secret", "pgp", "sops-agent", "--from-agent", PGP_FP], { env: agentEnv })
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).toContain("✔ Secret flux-system/sops-agent created\n")
        const s = await kubectlGet("secret", "sops-agent", "v1", "Secret")
        expect(entry(s, "sops.asc")).toContain("-----BEGIN PGP PRIVATE KEY BLOCK-----")
        r = await ks(["create", "secret", "age", "sops-agent", "--from-agent", PGP_FP, "--export"], { env: agentEnv })
        expect(r.code).toBe(1)
        expect(r.stderr.split("\n")[0]).toBe(`the agent's key ${PGP_FP} is a pgp key, not an age key`)
    })
})
