import { describe, expect, test } from "vitest"
import { UsageError } from "../../src/errors.js"
import {
    cleanFluxPath,
    decryptionSecret,
    formatGoDuration,
    gitRepository,
    goDuration,
    identityKustomizePatch,
    identityObjects,
    kustomization,
    parseGoDuration,
    parseLabels,
    parseHealthCheck,
    parseSourceRef,
    validateName,
} from "../../src/kube/manifests.js"
import type { KubeObject } from "../../src/kube/types.js"
import { exportManifests, parseManifests, toKubeYaml } from "../../src/kube/yaml.js"
import { crdSchema, expectGolden, schemaErrors } from "./helpers.js"

function expectValid(obj: KubeObject): void {
    expect(schemaErrors(obj, crdSchema(obj.apiVersion, obj.kind))).toEqual([])
}

describe("validateName", () => {
    test.each(["ab", "my-secrets", "a".repeat(63), "0a"])("%s is valid", (n) => expect(validateName(n)).toBe(n))
    test.each(["a", "A1", "-ab", "ab-", "a_b", "a.b", "a".repeat(64)])("%s is invalid with flux's message", (n) => {
        expect(() => validateName(n)).toThrow(
            `name '${n}' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'`,
        )
    })
    test("missing", () => expect(() => validateName(undefined)).toThrow(new UsageError("name is required")))
})

describe("Go durations", () => {
    test.each([
        ["1m", "1m0s"],
        ["10m", "10m0s"],
        ["60m", "1h0m0s"],
        ["1h", "1h0m0s"],
        ["90s", "1m30s"],
        ["1.5s", "1.5s"],
        ["500ms", "500ms"],
        ["1.5ms", "1.5ms"],
        ["1500us", "1.5ms"],
        ["2µs", "2µs"],
        ["100ns", "100ns"],
        ["0", "0s"],
        ["1h30m", "1h30m0s"],
        ["2m0s", "2m0s"],
        ["-1m", "-1m0s"],
        [".5h", "30m0s"],
        ["1.000000001s", "1.000000001s"],
    ])("%s → %s", (input, out) => expect(goDuration(input, "interval")).toBe(out))

    test.each([
        ["x", 'time: invalid duration "x"'],
        ["", 'time: invalid duration ""'],
        ["1", 'time: missing unit in duration "1"'],
        ["1d", 'time: unknown unit "d" in duration "1d"'],
        [".s", 'time: invalid duration ".s"'],
        ["9999999999h", 'time: invalid duration "9999999999h"'],
    ])("%j is rejected with pflag's message", (input, detail) => {
        expect(() => goDuration(input, "interval")).toThrow(`invalid argument "${input}" for "--interval" flag: ${detail}`)
    })

    test("nanosecond precision", () => {
        expect(parseGoDuration("1h2m3.5s", "x")).toBe(3_723_500_000_000n)
        expect(formatGoDuration(3_723_500_000_000n)).toBe("1h2m3.5s")
    })
})

describe("cleanFluxPath (secure-join onto ./)", () => {
    test.each([
        ["./clusters/cluster0/", "./clusters/cluster0"],
        ["clusters/cluster0", "./clusters/cluster0"],
        ["foo", "./foo"],
        ["/foo/../bar", "./bar"],
        ["..", "./"],
        ["../../x", "./x"],
        ["./", "./"],
        ["", "./"],
        ["  ./a//b/./c  ", "./a/b/c"],
    ])("%j → %s", (input, out) => expect(cleanFluxPath(input)).toBe(out))
})

describe("parseSourceRef", () => {
    test.each([
        ["my-secrets", { kind: "GitRepository", name: "my-secrets" }],
        ["GitRepository/repo", { kind: "GitRepository", name: "repo" }],
        ["gitrepository/repo.ns", { kind: "GitRepository", name: "repo", namespace: "ns" }],
        ["ocirepository/o", { kind: "OCIRepository", name: "o" }],
        ["Bucket/b.x.y", { kind: "Bucket", name: "b.x", namespace: "y" }],
        ["my.repo", { kind: "GitRepository", name: "my", namespace: "repo" }],
    ])("%s", (input, out) => expect(parseSourceRef(input)).toEqual(out))

    test("errors as flux prints them", () => {
        expect(() => parseSourceRef("HelmRepository/x")).toThrow(
            `invalid argument "HelmRepository/x" for "--source" flag: source kind 'HelmRepository' is not supported, must be one of: OCIRepository, GitRepository, Bucket`,
        )
        expect(() => parseSourceRef("GitRepository/")).toThrow(`no name given for source of kind 'GitRepository'`)
        expect(() => parseSourceRef("Bucket")).toThrow(`no kind specified for source 'Bucket'`)
        expect(() => parseSourceRef(" ")).toThrow(/no Kustomization source given, please specify source that contains/)
    })
})

describe("parseLabels", () => {
    test("k=v, several and comma-separated", () => {
        expect(parseLabels(["a=b,c.io/d=e", "reconcile.fluxcd.io/watch=Enabled", "e="])).toEqual({
            a: "b",
            "c.io/d": "e",
            "reconcile.fluxcd.io/watch": "Enabled",
            e: "",
        })
    })
    test("flux's messages", () => {
        expect(() => parseLabels(["x"])).toThrow("invalid label format 'x', must be key=value")
        expect(() => parseLabels(["a=b=c"])).toThrow("invalid label format 'a=b=c', must be key=value")
        expect(() => parseLabels(["-a=b"])).toThrow(
            "invalid label '-a': [name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')]",
        )
        expect(() => parseLabels(["a=-b"])).toThrow(/^invalid label value '-b': \[a valid label must be an empty string/)
        expect(() => parseLabels(["A.io/x=b"])).toThrow(/^invalid label 'A\.io\/x': \[prefix part a lowercase RFC 1123 subdomain/)
    })
})

describe("gitRepository (flux create source git)", () => {
    test("the guide's --export output, byte for byte", () => {
        const obj = gitRepository({ name: "my-secrets", namespace: "flux-system", url: "https://github.com/my-org/my-secrets", branch: "main" })
        expectValid(obj)
        expectGolden("source-git-branch.yaml", exportManifests([obj]))
    })

    test("every option", () => {
        const obj = gitRepository({
            name: "repo",
            namespace: "apps",
            url: "ssh://git@github.com/org/repo",
            tag: "v1.0.0",
            interval: "5m",
            secretRef: "repo-auth",
            provider: "github",
            ignorePaths: ["/*,!/deploy", "*.md"],
            recurseSubmodules: true,
            fetchTimeout: "90s",
            labels: parseLabels(["team=core"]),
        })
        expectValid(obj)
        expectGolden("source-git-full.yaml", exportManifests([obj]))
        expect((obj.spec as { ignore: string }).ignore).toBe("/*\n!/deploy\n*.md")
    })

    test("ref precedence: commit (keeps branch) > ref-name > semver > tag > branch", () => {
        const ref = (o: object) => (gitRepository({ name: "ab", namespace: "n", url: "https://x/y", ...o }).spec as { ref: unknown }).ref
        expect(ref({ branch: "main", commit: "abc" })).toEqual({ branch: "main", commit: "abc" })
        expect(ref({ refName: "refs/heads/x", commit: "abc" })).toEqual({ commit: "abc" })
        expect(ref({ refName: "refs/heads/x", semver: ">=1", tag: "t", branch: "b" })).toEqual({ name: "refs/heads/x" })
        expect(ref({ semver: ">=1", tag: "t", branch: "b" })).toEqual({ semver: ">=1" })
        expect(ref({ tag: "t", branch: "b" })).toEqual({ tag: "t" })
    })

    test("flux's errors", () => {
        const base = { name: "ab", namespace: "n", url: "https://x/y", branch: "main" }
        expect(() => gitRepository({ ...base, url: "" })).toThrow("url is required")
        expect(() => gitRepository({ ...base, url: "ftp://x/y" })).toThrow("git URL scheme 'ftp' not supported, can be: ssh, http and https")
        expect(() => gitRepository({ ...base, url: "git@github.com:org/repo" })).toThrow(
            'git URL parse failed: parse "git@github.com:org/repo": first path segment in URL cannot contain colon',
        )
        expect(() => gitRepository({ ...base, branch: undefined })).toThrow(
            "a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver",
        )
        expect(() => gitRepository({ ...base, provider: "gitlab" })).toThrow(
            `invalid argument "gitlab" for "--provider" flag: source Git provider 'gitlab' is not supported, must be one of: generic|github|aws|azure`,
        )
        expect(() => gitRepository({ ...base, interval: "1x" })).toThrow(`invalid argument "1x" for "--interval" flag: time: unknown unit "x" in duration "1x"`)
    })
})

describe("kustomization (flux create kustomization)", () => {
    test("the guide's --export output, byte for byte", () => {
        const obj = kustomization({
            name: "my-secrets",
            namespace: "flux-system",
            source: "my-secrets",
            path: "./clusters/cluster0",
            prune: true,
            interval: "10m",
            decryptionProvider: "sops",
            decryptionSecret: "sops-gpg",
        })
        expectValid(obj)
        expectGolden("kustomization-guide.yaml", exportManifests([obj]))
    })

    test("defaults: path ./, prune false always emitted, interval 1m0s; KMS case has only provider", () => {
        const obj = kustomization({ name: "kms", namespace: "flux-system", source: "GitRepository/repo.flux-system", decryptionProvider: "sops" })
        expectValid(obj)
        expectGolden("kustomization-kms.yaml", exportManifests([obj]))
        expect(obj.spec).toEqual({
            decryption: { provider: "sops" },
            interval: "1m0s",
            path: "./",
            prune: false,
            sourceRef: { kind: "GitRepository", name: "repo", namespace: "flux-system" },
        })
    })

    test("--decryption-secret is ignored without --decryption-provider", () => {
        const obj = kustomization({ name: "ab", namespace: "n", source: "ab", decryptionSecret: "sops-age" })
        expect(obj.spec).not.toHaveProperty("decryption")
    })

    test("every option", () => {
        const obj = kustomization({
            name: "apps",
            namespace: "flux-system",
            source: "OCIRepository/apps",
            path: "apps/prod/",
            prune: true,
            interval: "1h",
            decryptionProvider: "sops",
            decryptionSecret: "sops-age",
            targetNamespace: "prod",
            serviceAccountName: "deployer",
            dependsOn: ["infra,flux-system/crds"],
            wait: true,
            healthCheckTimeout: "3m",
            retryInterval: "30s",
            labels: { "reconcile.fluxcd.io/watch": "Enabled" },
        })
        expectValid(obj)
        expectGolden("kustomization-full.yaml", exportManifests([obj]))
    })

    test("--health-check: spec.healthChecks as flux writes them (apiVersion only for HelmRelease) and spec.timeout", () => {
        const obj = kustomization({
            name: "apps",
            namespace: "flux-system",
            source: "apps",
            path: "./apps",
            prune: true,
            interval: "10m",
            decryptionProvider: "sops",
            decryptionSecret: "sops-age",
            healthChecks: ["Deployment/podinfo.apps,StatefulSet/db.data", "HelmRelease/redis.flux-system"],
            healthCheckTimeout: "3m",
        })
        expectValid(obj)
        expectGolden("kustomization-health-checks.yaml", exportManifests([obj]))
    })

    test("--health-check: default timeout 2m0s; ignored with --wait (flux keeps only spec.wait)", () => {
        const base = { name: "ab", namespace: "n", source: "ab" }
        const checked = kustomization({ ...base, healthChecks: ["DaemonSet/agent.kube-system"] })
        expect(checked.spec).toMatchObject({ healthChecks: [{ kind: "DaemonSet", name: "agent", namespace: "kube-system" }], timeout: "2m0s" })
        const waited = kustomization({ ...base, healthChecks: ["DaemonSet/agent.kube-system"], wait: true, healthCheckTimeout: "1m" })
        expect(waited.spec).not.toHaveProperty("healthChecks")
        expect(waited.spec).toMatchObject({ wait: true, timeout: "1m0s" })
        const none = kustomization({ ...base, healthChecks: [""] })
        expect(none.spec).not.toHaveProperty("healthChecks")
        expect(none.spec).not.toHaveProperty("timeout")
    })

    test("parseHealthCheck: flux's parsing and messages", () => {
        expect(parseHealthCheck("HelmRelease/podinfo.apps")).toEqual({ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", name: "podinfo", namespace: "apps" })
        expect(parseHealthCheck("Deployment/web.")).toEqual({ kind: "Deployment", name: "web" })
        expect(() => parseHealthCheck("Deployment")).toThrow(new UsageError("invalid health check 'Deployment' must be in the format 'kind/name.namespace' [Deployment]"))
        expect(() => parseHealthCheck("apps/Deployment/web.ns")).toThrow(
            new UsageError("invalid health check 'apps/Deployment/web.ns' must be in the format 'kind/name.namespace' [apps Deployment web.ns]"),
        )
        expect(() => parseHealthCheck("deployment/web.ns")).toThrow(new UsageError("invalid health check kind 'deployment' can be HelmRelease, Deployment, DaemonSet or StatefulSet"))
        expect(() => parseHealthCheck("Service/web.ns")).toThrow(new UsageError("invalid health check kind 'Service' can be HelmRelease, Deployment, DaemonSet or StatefulSet"))
        expect(() => parseHealthCheck("Deployment/web")).toThrow(new UsageError("invalid health check 'Deployment/web' must be in the format 'kind/name.namespace'"))
        expect(() => parseHealthCheck("Deployment/my.web.ns")).toThrow(new UsageError("invalid health check 'Deployment/my.web.ns' must be in the format 'kind/name.namespace'"))
    })

    test("flux's errors", () => {
        const base = { name: "ab", namespace: "n", source: "ab" }
        expect(() => kustomization({ ...base, source: "" })).toThrow("source is required")
        expect(() => kustomization({ ...base, healthChecks: ["Job/x.y"] })).toThrow("invalid health check kind 'Job' can be HelmRelease, Deployment, DaemonSet or StatefulSet")
        expect(() => kustomization({ ...base, decryptionProvider: "vault" })).toThrow(
            `invalid argument "vault" for "--decryption-provider" flag: unsupported decryption provider 'vault', must be one of: sops`,
        )
        expect(() => kustomization({ ...base, decryptionProvider: "" })).toThrow(
            `invalid argument "" for "--decryption-provider" flag: no decryption provider given, must be one of: sops`,
        )
        expect(() => kustomization({ ...base, name: "A" })).toThrow(/^name 'A' is invalid/)
        expect(() => kustomization({ ...base, healthCheckTimeout: "soon", wait: true })).toThrow(/--health-check-timeout/)
    })
})

describe("decryptionSecret", () => {
    const age = "# created: 2024-01-01T00:00:00Z\n# public key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\nAGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQY\n"
    test.each([
        ["age", "sops-age", "age.agekey", age],
        ["pgp", "sops-gpg", "sops.asc", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxcLYBGX\n-----END PGP PRIVATE KEY BLOCK-----\n"],
        ["vault", "sops-hcvault", "sops.vault-token", "hvs.example-token\n"],
    ])("%s: v1 Secret, type Opaque, base64 data, bytes kept exactly", (type, name, entry, text) => {
        const obj = decryptionSecret({ name, namespace: "flux-system", entries: { [entry]: text } })
        expect(Buffer.from((obj.data as Record<string, string>)[entry], "base64").toString("utf8")).toBe(text)
        expectGolden(`secret-${type}.yaml`, exportManifests([obj]))
        expect(parseManifests(exportManifests([obj]))).toEqual([obj])
    })

    test("binary bytes and labels", () => {
        const obj = decryptionSecret({ name: "s", namespace: "n", entries: { "x.agekey": new Uint8Array([0, 255, 10]) }, labels: { "reconcile.fluxcd.io/watch": "Enabled" } })
        expect(obj).toEqual({
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "s", namespace: "n", labels: { "reconcile.fluxcd.io/watch": "Enabled" } },
            type: "Opaque",
            data: { "x.agekey": "AP8K" },
        })
    })
})

describe("kustomize-controller identity (§7)", () => {
    const cases = {
        aws: { awsRoleArn: "arn:aws:iam::123456789012:role/flux-sops" },
        gcp: { gcpServiceAccount: "flux-sops@my-project.iam.gserviceaccount.com" },
        azure: { azureClientId: "00000000-0000-0000-0000-000000000001", azureTenantId: "00000000-0000-0000-0000-000000000002" },
        "aad-pod-identity": { azurePodIdentity: "sops-akv-decryptor" },
    }

    test.each(Object.entries(cases))("%s: flux-system/kustomization.yaml patches", (name, o) => {
        const file = identityKustomizePatch(o)
        expectGolden(`identity-${name}.yaml`, toKubeYaml(file))
        // every patch is a YAML object naming its target
        for (const p of file.patches) {
            const [doc] = parseManifests(p.patch)
            expect(doc.kind).toBe(p.target.kind)
            expect(doc.metadata.name).toBe(p.target.name)
        }
    })

    test("apply configurations: SA annotations, Deployment pod labels and manager env", () => {
        expect(identityObjects(cases.aws)).toEqual([
            {
                apiVersion: "v1",
                kind: "ServiceAccount",
                metadata: { name: "kustomize-controller", namespace: "flux-system", annotations: { "eks.amazonaws.com/role-arn": cases.aws.awsRoleArn } },
            },
        ])
        const azure = identityObjects({ ...cases.azure, ...cases["aad-pod-identity"] })
        expect(azure).toHaveLength(2)
        expect(azure[1]).toEqual({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "kustomize-controller", namespace: "flux-system" },
            spec: {
                template: {
                    metadata: { labels: { "azure.workload.identity/use": "true", aadpodidbinding: "sops-akv-decryptor" } },
                    spec: { containers: [{ name: "manager", env: [{ name: "AZURE_AUTH_METHOD", value: "msi" }] }] },
                },
            },
        })
        expect(identityObjects({})).toEqual([])
    })
})
