/**
 * The Flux SOPS guide as kubectl-sops does it, against the in-process test API server (real HTTPS, real Status
 * errors, CRD schemas from the shared data's crds/) through the real @kubernetes/client-node, asserted with the real
 * kubectl: `bootstrap --key pgp`, `create generic basic-auth`, a commit-ready tree, `check` with the cluster's
 * Secret (passes) and with a wrong key (fails). Then the bad inputs: no cluster, 403 on secrets, no Flux CRDs, a
 * malformed kubeconfig — one clear line and exit 1 each.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parse } from "yaml"
import { needs, run, } from "../cli/run.js"
import { startApiServer, type TestApiServer } from "../kube/apiserver/index.js"
import { fluxSandbox } from "../commands/flux-sandbox.js"
import { describeShared } from "../conformance-data.js"

const hasKubectl = needs("kubectl")

const sandbox = (name: string) => fluxSandbox("" + name)

/**
 * `kubectl … -o json` against the test server, or the server's own copy without kubectl. Asynchronous: the API
 * server runs in this process, so a synchronous child would deadlock it.
 */
async function kubectlJson(api: TestApiServer, kubeconfig: string, ref: [string, string, string, string]): Promise<Record<string, unknown>> {
    const [apiVersion, kind, namespace, name] = ref
    if (!hasKubectl) return api.object(apiVersion, kind, namespace, name)
    const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : ""
    const lower = kind.toLowerCase()
    const resource = lower.endsWith("y") ? `${lower.slice(0, -1)}ies` : `${lower}s`
    const r = await run(["--kubeconfig", kubeconfig, "-n", namespace, "get", group === "" ? resource : `${resource}.${group}`, name, "-o", "json"], { command: "kubectl" })
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout)
}

/** Every line a failed run printed on stderr (the error and its hint). */
function errorLines(stderr: string): string[] {
    return stderr.split("\n").filter((l) => l !== "")
}

describeShared("the Flux guide in one flow: bootstrap --key pgp, create generic, check", () => {
    const sb = sandbox("guide")
    let api: TestApiServer
    let kubeconfig = ""
    let fp = ""
    const clusterDir = () => path.join(sb.repo, "clusters", "cluster0")

    beforeAll(async () => {
        api = await startApiServer()
        kubeconfig = api.kubeconfig()
        sb.env.KUBECONFIG = kubeconfig
    })

    afterAll(async () => {
        await sb.ks(["agent", "stop"])
        spawnSync("secret-tool", ["clear", "service", sb.env.KUBECTL_SOPS_KEYCHAIN_SERVICE])
        await api?.close()
    })

    it("bootstrap applies the decryption Secret, the GitRepository and the Kustomization, and writes .sops.yaml and .sops.pub.asc", async () => {
        const r = await sb.ks([
            "bootstrap",
            "--url=https://github.com/my-org/my-secrets",
            "--branch=main",
            "--path=./clusters/cluster0",
            "--name=my-secrets",
            "--key=pgp",
            "--key-name=cluster0.yourdomain.com",
            "--interval=10m",
            "--prune",
        ])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout).toBe("")
        expect(r.stderr).toContain('generating PGP (RSA 4096) key "cluster0.yourdomain.com" in the agent')
        expect(r.stderr).toContain("Secret flux-system/sops-gpg created")
        expect(r.stderr).toContain("GitRepository flux-system/my-secrets created")
        expect(r.stderr).toContain("Kustomization flux-system/my-secrets created")
        expect(r.stderr).toContain("git add clusters/cluster0/.sops.yaml clusters/cluster0/.sops.pub.asc")

        // .sops.yaml: the guide's rule with the new key's fingerprint
        const config = parse(readFileSync(path.join(clusterDir(), ".sops.yaml"), "utf8"))
        expect(config.creation_rules).toHaveLength(1)
        expect(config.creation_rules[0]).toMatchObject({ path_regex: ".*.yaml", encrypted_regex: "^(data|stringData)$" })
        fp = config.creation_rules[0].pgp
        expect(fp).toMatch(/^[0-9A-F]{40}$/)
        expect(readFileSync(path.join(clusterDir(), ".sops.pub.asc"), "utf8")).toContain("-----BEGIN PGP PUBLIC KEY BLOCK-----")

        // the objects, as the real kubectl sees them
        const ks = await kubectlJson(api, kubeconfig, ["kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "my-secrets"])
        expect(ks.spec).toEqual({
            decryption: { provider: "sops", secretRef: { name: "sops-gpg" } },
            force: false,
            interval: "10m0s",
            path: "./clusters/cluster0",
            prune: true,
            sourceRef: { kind: "GitRepository", name: "my-secrets" },
        })
        // kubectl hides managedFields; the server's copy has them
        const stored = api.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "my-secrets")
        const managers = stored.metadata.managedFields as { manager: string; operation: string }[]
        expect(managers.map((m) => `${m.manager}/${m.operation}`)).toContain("kubectl-sops/Apply")
        const repo = await kubectlJson(api, kubeconfig, ["source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "my-secrets"])
        expect(repo.spec).toMatchObject({ interval: "10m0s", ref: { branch: "main" }, url: "https://github.com/my-org/my-secrets" })
        const secret = await kubectlJson(api, kubeconfig, ["v1", "Secret", "flux-system", "sops-gpg"])
        expect(secret.type).toBe("Opaque")
        expect(Object.keys(secret.data as object)).toEqual(["sops.asc"])

        // the entry is the guide's unprotected secret key, importable by gpg with the fingerprint of .sops.yaml
        const gnupg = path.join(sb.dir, "gnupg-cluster")
        mkdirSync(gnupg, { mode: 0o700 })
        const armored = Buffer.from((secret.data as Record<string, string>)["sops.asc"], "base64")
        expect(armored.toString("utf8")).toContain("-----BEGIN PGP PRIVATE KEY BLOCK-----")
        execFileSync("gpg", ["--homedir", gnupg, "--batch", "--import"], { input: armored, stdio: ["pipe", "ignore", "ignore"] })
        const colons = execFileSync("gpg", ["--homedir", gnupg, "--list-secret-keys", "--with-colons"], { encoding: "utf8" })
        expect(colons).toContain(`fpr:::::::::${fp}:`)
        expect(colons).toMatch(/^ssb:[^\n]*:4096:1:/m)
        spawnSync("gpgconf", ["--homedir", gnupg, "--kill", "gpg-agent"])
    }, 180_000)

    it("a re-run changes nothing: same resourceVersions, same files, every object unchanged", async () => {
        const before = ["v1/Secret/sops-gpg", "source.toolkit.fluxcd.io/v1/GitRepository/my-secrets", "kustomize.toolkit.fluxcd.io/v1/Kustomization/my-secrets"].map((id) => {
            const parts = id.split("/")
            const name = parts.pop() as string
            const kind = parts.pop() as string
            return api.object(parts.join("/"), kind, "flux-system", name).metadata.resourceVersion
        })
        const configBefore = readFileSync(path.join(clusterDir(), ".sops.yaml"), "utf8")
        const r = await sb.ks(["bootstrap", "--url=https://github.com/my-org/my-secrets", "--key=pgp", "--key-name=cluster0.yourdomain.com", "--interval=10m", "--prune"])
        expect(r.code, r.stderr).toBe(0)
        expect(r.stderr).not.toContain("generating")
        expect(r.stderr.match(/ unchanged$/gm)).toHaveLength(3)
        expect(r.stderr).not.toContain("git add")
        expect(api.object("v1", "Secret", "flux-system", "sops-gpg").metadata.resourceVersion).toBe(before[0])
        expect(api.object("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "my-secrets").metadata.resourceVersion).toBe(before[1])
        expect(api.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "my-secrets").metadata.resourceVersion).toBe(before[2])
        expect(readFileSync(path.join(clusterDir(), ".sops.yaml"), "utf8")).toBe(configBefore)
    }, 120_000)

    it("create generic basic-auth writes an encrypted Secret: a commit-ready tree", async () => {
        const out = path.join("clusters", "cluster0", "basic-auth.yaml")
        const r = await sb.ks(["create", "generic", "basic-auth", "-n", "default", "--from-literal=user=admin", "--from-literal=password=change-me", "--output", out])
        expect(r.code, r.stderr).toBe(0)
        const text = readFileSync(path.join(sb.repo, out), "utf8")
        expect(text).not.toContain("change-me")
        expect(text).not.toContain(Buffer.from("change-me").toString("base64"))
        const doc = parse(text)
        expect(doc).toMatchObject({ apiVersion: "v1", kind: "Secret", metadata: { name: "basic-auth", namespace: "default" } })
        expect(doc.data.password).toMatch(/^ENC\[AES256_GCM,/)
        expect(doc.sops.pgp[0].fp).toBe(fp)
        expect(doc.sops.encrypted_regex).toBe("^(data|stringData)$")
        expect(text).toContain("mac: ENC[")
        // the tree Flux reads: a kustomization listing the Secret, next to .sops.yaml and the public key
        writeFileSync(path.join(clusterDir(), "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - basic-auth.yaml\n")
        for (const f of [".sops.yaml", ".sops.pub.asc", "basic-auth.yaml", "kustomization.yaml"]) expect(existsSync(path.join(clusterDir(), f))).toBe(true)
        execFileSync("git", ["-C", sb.repo, "add", "."])
        const staged = execFileSync("git", ["-C", sb.repo, "diff", "--cached", "--name-only"], { encoding: "utf8" })
        expect(staged.split("\n").filter(Boolean).sort()).toEqual([
            "clusters/cluster0/.sops.pub.asc",
            "clusters/cluster0/.sops.yaml",
            "clusters/cluster0/basic-auth.yaml",
            "clusters/cluster0/kustomization.yaml",
        ])
    }, 120_000)

    it("check passes with the cluster's decryption Secret", async () => {
        const r = await sb.ks(["check", "clusters/cluster0", "--secret", "sops-gpg", "--verify"])
        expect(r.code, r.stdout + r.stderr).toBe(0)
        expect(r.stdout).toContain("basic-auth.yaml")
        expect(r.stdout).not.toContain("change-me")
        const json = await sb.ks(["check", "clusters/cluster0", "--secret", "sops-gpg", "-o", "json"])
        expect(json.code, json.stderr).toBe(0)
        const report = JSON.parse(json.stdout)
        expect(report.ok).toBe(true)
        expect(report.files.find((f: { path: string }) => f.path.endsWith("basic-auth.yaml"))?.result).toBe("decrypts")
    }, 120_000)

    it("check fails with a wrong key, with the controller's error text", async () => {
        const wrong = path.join(sb.dir, "wrong-secret.yaml")
        // another cluster's key: an age identity made by age-keygen
        const age = /^AGE-SECRET-KEY-1\S+$/m.exec(execFileSync("age-keygen", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))?.[0]
        writeFileSync(wrong, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: flux-system\nstringData:\n  age.agekey: ${age}\n`)
        const r = await sb.ks(["check", "clusters/cluster0", "--keys", wrong])
        expect(r.code).toBe(1)
        expect(r.stdout + r.stderr).toContain("basic-auth.yaml")
        expect(r.stdout + r.stderr).toMatch(/cannot get sops data key|No secret key|FAILED/)
        expect(r.stdout + r.stderr).not.toContain("change-me")
    }, 120_000)

    it("--wait reports the Kustomization's failure message at once, and success when it is Ready", async () => {
        const ksRef = ["kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "my-secrets"] as const
        const generation = api.object(...ksRef).metadata.generation
        const condition = (status: string, reason: string, message: string) => ({
            type: "Ready",
            status,
            reason,
            message,
            observedGeneration: generation,
            lastTransitionTime: "2026-11-29T00:00:00Z",
        })
        api.setStatus(...ksRef, {
            observedGeneration: generation,
            conditions: [condition("False", "BuildFailed", 'decryption failed for \'Secret.v1.[noGrp]/basic-auth\': secrets "sops-gpg" not found')],
        })
        const failed = await sb.ks(["bootstrap", "--url=https://github.com/my-org/my-secrets", "--key=pgp", "--key-name=cluster0.yourdomain.com", "--interval=10m", "--prune", "--wait", "--timeout=20s"])
        expect(failed.code).toBe(1)
        expect(failed.stderr).toContain('secrets "sops-gpg" not found')
        api.setStatus(...ksRef, {
            observedGeneration: generation,
            lastAppliedRevision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
            conditions: [condition("True", "ReconciliationSucceeded", "Applied revision: main@sha1:0123456789abcdef0123456789abcdef01234567")],
        })
        const ok = await sb.ks(["bootstrap", "--url=https://github.com/my-org/my-secrets", "--key=pgp", "--key-name=cluster0.yourdomain.com", "--interval=10m", "--prune", "--wait", "--timeout=20s"])
        expect(ok.code, ok.stderr).toBe(0)
        expect(ok.stderr).toContain("Kustomization my-secrets is ready")
        expect(ok.stderr).toContain("applied revision main@sha1:0123456789abcdef0123456789abcdef01234567")
    }, 120_000)
})

describe("bootstrap: bad inputs give one clear line and exit 1", () => {
    const sb = sandbox("bad")
    const args = ["bootstrap", "--url=https://github.com/my-org/my-secrets"]
    const servers: TestApiServer[] = []

    afterAll(async () => {
        for (const s of servers) await s.close()
    })

    it("no cluster reachable", async () => {
        const file = path.join(sb.dir, "unreachable.kubeconfig")
        writeFileSync(
            file,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
        )
        const r = await sb.ks([...args, "--kubeconfig", file])
        expect(r.code).toBe(1)
        const lines = errorLines(r.stderr)
        expect(lines[0]).toMatch(/^cannot reach the cluster at https:\/\/127\.0\.0\.1:1: connection refused/)
        expect(lines.length).toBeLessThanOrEqual(2)
        expect(existsSync(path.join(sb.repo, "clusters"))).toBe(false)
    })

    it("a malformed kubeconfig", async () => {
        const file = path.join(sb.dir, "bad.kubeconfig")
        writeFileSync(file, "apiVersion: v1\nclusters: [unclosed\n")
        const r = await sb.ks([...args, "--kubeconfig", file])
        expect(r.code).toBe(1)
        const lines = errorLines(r.stderr)
        expect(lines[0]).toContain(`invalid kubeconfig ${file}`)
        expect(lines.length).toBeLessThanOrEqual(2)
    })

    it("403 on secrets", async () => {
        const api = await startApiServer({ users: { ci: { token: "ci-token", forbid: [{ resource: "secrets" }] } } })
        servers.push(api)
        const r = await sb.ks([...args, "--kubeconfig", api.kubeconfig({ user: "ci" })])
        expect(r.code).toBe(1)
        const lines = errorLines(r.stderr)
        expect(lines[0]).toContain('secrets "sops-age" is forbidden: User "ci" cannot get resource "secrets" in API group "" in the namespace "flux-system"')
        expect(lines.length).toBeLessThanOrEqual(2)
        expect(existsSync(path.join(sb.repo, "clusters"))).toBe(false)
    })

    it("the Flux CRDs are missing", async () => {
        const api = await startApiServer({ installFluxCrds: false })
        servers.push(api)
        const r = await sb.ks([...args, "--kubeconfig", api.kubeconfig()])
        expect(r.code).toBe(1)
        const lines = errorLines(r.stderr)
        expect(lines[0]).toMatch(/GitRepository|Flux/)
        expect(r.stderr).toMatch(/flux install|install Flux/i)
        expect(lines.length).toBeLessThanOrEqual(2)
    })
})
