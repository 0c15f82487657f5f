/** `doctor` against the test API server (real HTTP, the real kube client): findings and their fixes. */
import { afterAll, beforeAll, expect, it } from "vitest"
import { baseEnv, run, tempDir } from "../cli/run.js"
import { runDoctor } from "../../src/flux/doctor.js"
import { connect } from "../../src/kube/client.js"
import { startApiServer, type TestApiServer } from "../kube/apiserver/index.js"
import { AGE, encrypt, keyText, kustomization, repo, secretYaml } from "./helpers.js"
import { describeShared } from "../conformance-data.js"

let api: TestApiServer
let root = ""

const b64 = (s: string) => Buffer.from(s).toString("base64")

function ks(name: string, spec: Record<string, unknown>, namespace = "flux-system") {
    return {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name, namespace },
        spec: { interval: "10m0s", prune: true, sourceRef: { kind: "GitRepository", name: "flux-system" }, ...spec },
    }
}

function secret(name: string, data: Record<string, string>, namespace = "flux-system") {
    return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, type: "Opaque", data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) }
}

async function doctor(o: { allNamespaces?: boolean } = {}) {
    const kube = await connect({ kubeconfig: api.kubeconfig(), env: {} })
    return runDoctor(kube, { namespace: "flux-system", allNamespaces: o.allNamespaces ?? false, root })
}

beforeAll(async () => {
    api = await startApiServer()
    const ageSecret = await encrypt(secretYaml("db", { password: "x" }), { groups: [[AGE[1]]] })
    const kmsSecret = (await encrypt(secretYaml("kms", { a: "1" }), { groups: [[AGE[4]]] })).replace(
        /sops:\n/,
        'sops:\n    kms:\n        - arn: arn:aws:kms:eu-west-1:111122223333:key/abc\n          created_at: "2026-01-01T00:00:00Z"\n          enc: AQIDAHg=\n          aws_profile: ""\n',
    )
    root = repo({
        ".sops.yaml": `creation_rules:\n  - path_regex: ^clusters/other/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: ${AGE[3]}\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: ${AGE[1]}\n`,
        "clusters/good/kustomization.yaml": kustomization({ resources: ["s.yaml"] }),
        "clusters/good/s.yaml": ageSecret,
        "clusters/nodec/kustomization.yaml": kustomization({ resources: ["s.yaml"] }),
        "clusters/nodec/s.yaml": ageSecret,
        "clusters/other/kustomization.yaml": kustomization({ resources: ["s.yaml"] }),
        "clusters/other/s.yaml": ageSecret,
        "clusters/kms/kustomization.yaml": kustomization({ resources: ["s.yaml"] }),
        "clusters/kms/s.yaml": kmsSecret,
    })
})

afterAll(async () => {
    await api?.close()
})

describeShared("kubectl sops doctor", () => {
    it("without the Flux CRDs: one finding, fix flux install", async () => {
        const bare = await startApiServer({ installFluxCrds: false })
        try {
            const kube = await connect({ kubeconfig: bare.kubeconfig(), env: {} })
            const r = await runDoctor(kube, { namespace: "flux-system", allNamespaces: false, root })
            expect(r.ok).toBe(false)
            expect(r.findings).toEqual([expect.objectContaining({ subject: "cluster", fix: "flux install" })])
        } finally {
            await bare.close()
        }
    })

    it("a healthy Kustomization: its Secret's keys decrypt every file", async () => {
        api.seed(secret("sops-age", { "age.agekey": keyText("age1.agekey") }))
        api.seed(ks("good", { path: "./clusters/good", decryption: { provider: "sops", secretRef: { name: "sops-age" } } }))
        const r = await doctor()
        expect(r.findings).toEqual([])
        expect(r.ok).toBe(true)
        expect(r.kustomizations).toEqual([{ namespace: "flux-system", name: "good", path: "./clusters/good", state: "checked", decrypts: 1, fails: 0 }])
    })

    it("finds a missing decryption, a missing Secret, a misnamed entry, a .sops.yaml rule for keys the cluster lacks, and KMS without identity", async () => {
        api.seed(ks("nodec", { path: "./clusters/nodec" }))
        api.seed(ks("gone", { path: "./clusters/good", decryption: { provider: "sops", secretRef: { name: "missing" } } }, "apps"))
        api.seed(secret("misnamed", { "age.key": keyText("age1.agekey") }, "apps"))
        api.seed(ks("misnamed", { path: "./clusters/good", decryption: { provider: "sops", secretRef: { name: "misnamed" } } }, "apps"))
        api.seed(ks("other", { path: "./clusters/other", decryption: { provider: "sops", secretRef: { name: "sops-age" } } }))
        api.seed(ks("kms", { path: "./clusters/kms", decryption: { provider: "sops" } }))
        api.seed(ks("elsewhere", { path: "./not/here", decryption: { provider: "sops" } }))
        const r = await doctor({ allNamespaces: true })
        expect(r.ok).toBe(false)
        const by = (subject: string) => r.findings.filter((f) => f.subject === subject)
        expect(by("flux-system/nodec")[0].message).toContain("no spec.decryption: Secret/db is SOPS encrypted, configuring decryption is required")
        expect(by("flux-system/nodec")[0].fix).toMatch(/^kubectl -n flux-system patch kustomization nodec --type merge -p '\{"spec":\{"decryption":/)
        expect(by("apps/gone").map((f) => f.message)).toEqual(['secrets "missing" not found (the decryption Secret is read from the Kustomization\'s namespace apps)'])
        const misnamed = by("apps/misnamed").map((f) => f.message).join("\n")
        expect(misnamed).toContain("entry 'age.key' looks like an age identity but is ignored")
        expect(misnamed).toContain("failed to load age identities")
        const other = by("flux-system/other")
        expect(other.some((f) => f.severity === "warning" && f.message.includes(`encrypts for ${AGE[3]}, none of which the cluster holds`))).toBe(true)
        expect(other.find((f) => f.severity === "warning")?.fix).toBe(`add ${AGE[1]} to that rule in .sops.yaml, then kubectl sops updatekeys -y ./clusters/other`)
        const kms = by("flux-system/kms")
        expect(kms.map((f) => f.message)).toEqual([expect.stringContaining("files use AWS KMS keys but serviceaccount kustomize-controller in flux-system has no eks.amazonaws.com/role-arn annotation")])
        expect(kms[0].fix).toContain("annotate serviceaccount kustomize-controller --field-manager=flux-client-side-apply eks.amazonaws.com/role-arn=")
        expect(r.kustomizations.find((k) => k.name === "elsewhere")?.state).toBe("skipped")
    })

    it("the IRSA annotation satisfies the KMS check", async () => {
        const sa = api.object("v1", "ServiceAccount", "flux-system", "kustomize-controller")
        api.seed({ ...sa, metadata: { ...sa.metadata, annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/flux" } } })
        const r = await doctor()
        expect(r.findings.filter((f) => f.subject === "flux-system/kms")).toEqual([])
    })

    it("the controller's --sops-age-secret when secretRef is unset, and serviceAccountName without the feature gate", async () => {
        const own = await startApiServer()
        try {
            const dep = own.object("apps/v1", "Deployment", "flux-system", "kustomize-controller")
            dep.spec.template.spec.containers[0].args.push("--sops-age-secret=global-age")
            own.seed(dep)
            own.seed(secret("global-age", { "age.agekey": keyText("age1.agekey"), "sops.asc": "ignored for the global Secret" }))
            own.seed(ks("global", { path: "./clusters/good", decryption: { provider: "sops" } }))
            own.seed(ks("wi", { path: "./clusters/good", decryption: { provider: "sops", serviceAccountName: "sops" } }))
            const kube = await connect({ kubeconfig: own.kubeconfig(), env: {} })
            const r = await runDoctor(kube, { namespace: "flux-system", allNamespaces: false, root })
            expect(r.kustomizations.find((k) => k.name === "global")).toMatchObject({ state: "checked", decrypts: 1, fails: 0 })
            expect(r.findings.filter((f) => f.subject === "flux-system/global")).toEqual([])
            const wi = r.findings.filter((f) => f.subject === "flux-system/wi")
            expect(wi[0].message).toBe(
                "to use spec.decryption.serviceAccountName for decryption authentication please enable the ObjectLevelWorkloadIdentity feature gate in the controller",
            )
            expect(wi[0].fix).toContain("--feature-gates=ObjectLevelWorkloadIdentity=true")
        } finally {
            await own.close()
        }
    })

    it("end to end: check --secret reads the cluster's Secret; doctor prints findings with fix: lines and exits 1", async () => {
        const env = baseEnv(tempDir("ksops-doctor-home-"))
        const kubeconfig = api.kubeconfig()
        const ok = await run(["check", "clusters/good", "--root", root, "--secret", "sops-age", "--kubeconfig", kubeconfig], { cwd: root, env })
        expect(ok.stderr).toBe("")
        expect(ok.code).toBe(0)
        expect(ok.stdout).toContain(`✔ clusters/good/s.yaml  decrypts with ${AGE[1]}`)
        const missing = await run(["check", "clusters/good", "--root", root, "--secret", "nope", "-n", "apps", "--kubeconfig", kubeconfig], { cwd: root, env })
        expect(missing.code).toBe(1)
        expect(missing.stderr.split("\n")[0]).toBe('secrets "nope" not found')
        const d = await run(["doctor", root, "--kubeconfig", kubeconfig], { cwd: root, env })
        expect(d.code).toBe(1)
        expect(d.stdout).toContain("✔ flux-system/good (./clusters/good): 1 decrypt, 0 fail")
        expect(d.stdout).toMatch(/✗ flux-system\/nodec: .*\n {2}fix: kubectl -n flux-system patch kustomization nodec/)
        expect(d.stderr).toContain("doctor found")
        const j = JSON.parse((await run(["doctor", root, "--kubeconfig", kubeconfig, "-o", "json"], { cwd: root, env })).stdout)
        expect(Object.keys(j).sort()).toEqual(["findings", "kustomizations", "ok", "server"])
        expect(JSON.stringify(j)).not.toContain("AGE-SECRET-KEY")
    }, 60_000)
})
