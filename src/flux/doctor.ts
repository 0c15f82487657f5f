/**
 * `kubectl sops doctor`: the live chain in the cluster, checked against the repository checkout — Flux CRDs, each
 * Kustomization's `spec.decryption`, its decryption Secret (ImportKeys emulation), the controller's identity for
 * the KMS key types the files use, and whether `.sops.yaml` encrypts for keys the cluster holds.
 */
import { existsSync, statSync } from "node:fs"
import path from "node:path"
import { ErrorKind, KsopsError, KubeError } from "../errors.js"
import type { KubeObject } from "../kube/types.js"
import { type CheckReport, runCheck } from "./check.js"
import type { KubeReader } from "./cluster.js"
import { type ImportedKeys, importKeys } from "./keys.js"
import { secretEntries } from "./sources.js"

/** One problem, with a concrete command to fix it. */
export interface Finding {
    severity: "error" | "warning"
    /** `namespace/name` of the Kustomization, or `cluster`. */
    subject: string
    message: string
    fix: string
}

/** What was checked per Kustomization. */
export interface KustomizationStatus {
    namespace: string
    name: string
    path: string
    /** `checked`: the local path was checked; `skipped`: not in this checkout; `no-sops`: no SOPS files. */
    state: "checked" | "skipped" | "no-sops"
    decrypts?: number
    fails?: number
}

/** The doctor report (`-o json`). */
export interface DoctorReport {
    ok: boolean
    server: string
    kustomizations: KustomizationStatus[]
    findings: Finding[]
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
    /** Namespace of the Kustomizations (undefined with allNamespaces) and of the controller. */
    namespace: string
    allNamespaces: boolean
    /** The repository checkout root (spec.path is resolved against it). */
    root: string
}

const KS_API = "kustomize.toolkit.fluxcd.io/v1"
const CONTROLLER = "kustomize-controller"

type Obj = Record<string, unknown>

function get(o: unknown, ...keys: string[]): unknown {
    let cur = o
    for (const k of keys) {
        if (cur === null || typeof cur !== "object") return undefined
        cur = (cur as Obj)[k]
    }
    return cur
}

function str(v: unknown): string | undefined {
    return typeof v === "string" && v !== "" ? v : undefined
}

/** The controller container's args and env names of the kustomize-controller Deployment. */
function controllerConfig(dep: KubeObject | undefined): { args: string[]; env: Set<string>; podLabels: Record<string, string> } {
    const containers = (get(dep, "spec", "template", "spec", "containers") as Obj[] | undefined) ?? []
    const c = containers.find((x) => x.name === "manager") ?? containers[0]
    const args = [...((c?.args as string[] | undefined) ?? []), ...((c?.command as string[] | undefined) ?? [])].filter((a) => typeof a === "string")
    const env = new Set(((c?.env as Obj[] | undefined) ?? []).map((e) => String(e.name)))
    const podLabels = (get(dep, "spec", "template", "metadata", "labels") as Record<string, string> | undefined) ?? {}
    return { args, env, podLabels }
}

function argValue(args: string[], flag: string): string | undefined {
    for (let i = 0; i < args.length; i++) {
        if (args[i].startsWith(`${flag}=`)) return args[i].slice(flag.length + 1)
        if (args[i] === flag) return args[i + 1]
    }
    return undefined
}

/** The sops report on one line (the `- |` / `|` continuation marks dropped). */
function oneLine(text: string): string {
    return text
        .replace(/\n\s*(?:- )?\| /g, " ")
        .replace(/\s*\n+\s*/g, " ")
        .trim()
}

const quoteJson = (v: unknown) => `'${JSON.stringify(v)}'`

/**
 * Check the live chain.
 * @throws KubeError when the cluster cannot be reached (the caller prints it)
 */
export async function runDoctor(kube: KubeReader, o: DoctorOptions): Promise<DoctorReport> {
    const report: DoctorReport = { ok: true, server: kube.server, kustomizations: [], findings: [] }
    const add = (f: Finding) => report.findings.push(f)
    let list: KubeObject[]
    try {
        list = await kube.list(KS_API, "Kustomization", o.allNamespaces ? undefined : o.namespace)
    } catch (e) {
        if (e instanceof KubeError && (e.kind === ErrorKind.ClusterNotFound || e.status === 404)) {
            add({ severity: "error", subject: "cluster", message: "the Flux CRDs are not installed: the server has no Kustomization (kustomize.toolkit.fluxcd.io/v1) API", fix: "flux install" })
            report.ok = false
            return report
        }
        throw e
    }
    const dep = await kube.get("apps/v1", "Deployment", o.namespace, CONTROLLER)
    const controllerSa = await kube.get("v1", "ServiceAccount", o.namespace, CONTROLLER)
    if (dep === undefined) {
        add({ severity: "warning", subject: "cluster", message: `Deployment ${o.namespace}/${CONTROLLER} not found: cannot check the controller's flags and identity`, fix: "flux check (or give -n the namespace Flux runs in)" })
    }
    const cfg = controllerConfig(dep)
    const globalAge = argValue(cfg.args, "--sops-age-secret")
    const gates = argValue(cfg.args, "--feature-gates") ?? ""
    const vaultConfigMap = argValue(cfg.args, "--sops-vault-configmap")

    if (list.length === 0) {
        add({ severity: "warning", subject: "cluster", message: `no Kustomization in ${o.allNamespaces ? "any namespace" : `namespace ${o.namespace}`}`, fix: "kubectl sops bootstrap (or flux create kustomization …)" })
    }
    for (const ks of list) {
        const ns = ks.metadata.namespace ?? o.namespace
        const name = ks.metadata.name
        const subject = `${ns}/${name}`
        const specPath = str(get(ks, "spec", "path")) ?? "./"
        const local = path.join(o.root, specPath)
        const status: KustomizationStatus = { namespace: ns, name, path: specPath, state: "checked" }
        report.kustomizations.push(status)
        if (!existsSync(local) || !statSync(local).isDirectory()) {
            status.state = "skipped"
            continue
        }
        const decryption = get(ks, "spec", "decryption") as Obj | undefined
        const secretName = str(get(decryption, "secretRef", "name"))
        const saName = str(get(decryption, "serviceAccountName"))

        // key material, as ImportKeys gets it
        let keys: ImportedKeys = await importKeys({}, { namespace: ns, name: "" })
        let staticCreds = keys.credentials
        let secretMissing = false
        if (decryption !== undefined && secretName !== undefined) {
            const secret = await kube.get("v1", "Secret", ns, secretName)
            if (secret === undefined) {
                secretMissing = true
                add({
                    severity: "error",
                    subject,
                    message: `secrets "${secretName}" not found (the decryption Secret is read from the Kustomization's namespace ${ns})`,
                    fix: `kubectl create secret generic ${secretName} -n ${ns} --from-file=age.agekey=<your age key file>`,
                })
            } else keys = await importKeys(secretEntries(secret as unknown as Obj), { namespace: ns, name: secretName })
        } else if (decryption !== undefined && globalAge !== undefined) {
            const secret = await kube.get("v1", "Secret", o.namespace, globalAge)
            if (secret === undefined) {
                secretMissing = true
                add({ severity: "error", subject, message: `secrets "${globalAge}" not found (--sops-age-secret of ${CONTROLLER})`, fix: `kubectl create secret generic ${globalAge} -n ${o.namespace} --from-file=age.agekey=<your age key file>` })
            } else keys = await importKeys(secretEntries(secret as unknown as Obj), { namespace: o.namespace, name: globalAge, globalAge: true })
        }
        staticCreds = keys.credentials
        if (keys.error !== undefined) {
            add({ severity: "error", subject, message: keys.error, fix: `fix the entry in Secret ${ns}/${secretName ?? globalAge}: one identity per line in *.agekey entries, armored unprotected keys in *.asc entries (kubectl -n ${ns} edit secret ${secretName ?? globalAge})` })
        }
        for (const w of keys.warnings) {
            const m = /^entry '([^']+)' looks like .* rename it to (\S+)$/.exec(w)
            add({
                severity: "warning",
                subject,
                message: `Secret ${ns}/${secretName ?? globalAge}: ${w}`,
                fix: m !== null ? `kubectl -n ${ns} get secret ${secretName} -o json | jq '.data["${m[2]}"] = .data["${m[1]}"] | del(.data["${m[1]}"])' | kubectl apply -f -` : `replace the key in Secret ${ns}/${secretName ?? globalAge}`,
            })
        }
        if (saName !== undefined && !/ObjectLevelWorkloadIdentity=true/.test(gates)) {
            add({
                severity: "error",
                subject,
                message: "to use spec.decryption.serviceAccountName for decryption authentication please enable the ObjectLevelWorkloadIdentity feature gate in the controller",
                fix: `add --feature-gates=ObjectLevelWorkloadIdentity=true to the args of deployment/${CONTROLLER} in ${o.namespace} (flux-system/kustomization.yaml patch), then kubectl -n ${o.namespace} rollout restart deployment/${CONTROLLER}`,
            })
        }

        const components = ((get(ks, "spec", "components") as unknown[] | undefined) ?? []).filter((c): c is string => typeof c === "string")
        const targetNamespace = str(get(ks, "spec", "targetNamespace"))
        const check: CheckReport = await runCheck({
            root: o.root,
            specPath,
            keys,
            decryption: decryption !== undefined,
            components,
            ...(targetNamespace === undefined ? {} : { targetNamespace }),
        })
        const encrypted = check.files.filter((f) => f.result === "decrypts" || f.result === "fails")
        status.decrypts = check.files.filter((f) => f.result === "decrypts").length
        status.fails = check.files.filter((f) => f.result === "fails").length
        if (check.error !== undefined && check.error !== keys.error) {
            add({ severity: "error", subject, message: check.error, fix: `kubectl sops check ${specPath} --secret ${secretName ?? "<secret>"} -n ${ns}` })
        }
        if (decryption === undefined) {
            const guarded = check.files.filter((f) => f.stage === "apply")
            if (guarded.length > 0) {
                add({
                    severity: "error",
                    subject,
                    message: `${guarded.length} SOPS-encrypted Secret(s) under ${specPath} but the Kustomization has no spec.decryption: ${guarded[0].error}`,
                    fix: `kubectl -n ${ns} patch kustomization ${name} --type merge -p ${quoteJson({ spec: { decryption: { provider: "sops", secretRef: { name: "sops-age" } } } })}`,
                })
            } else status.state = "no-sops"
            continue
        }
        if (encrypted.length === 0 && check.error === undefined) status.state = "no-sops"
        for (const f of check.files.filter((x) => x.result === "fails")) {
            if (keys.error !== undefined || secretMissing) break
            add({
                severity: "error",
                subject,
                message: `${f.path}${f.object === undefined ? "" : ` (${f.object})`}: ${oneLine(f.error ?? "")}`,
                fix: keys.age.length > 0 ? `kubectl sops rotate -i --add-age ${keys.age[0].recipient} ${f.path}` : `kubectl sops check ${specPath} --secret ${secretName ?? "<secret>"} -n ${ns} (then add a cluster key to the file: kubectl sops rotate -i --add-age|--add-pgp …)`,
            })
        }

        // the controller's identity for the key types that need it
        const types = new Set(check.files.flatMap((f) => f.identity ?? []))
        const saRef = saName !== undefined ? await kube.get("v1", "ServiceAccount", ns, saName) : controllerSa
        const saWhere = saName !== undefined ? `serviceaccount ${saName} in ${ns}` : `serviceaccount ${CONTROLLER} in ${o.namespace}`
        const annotations = (saRef?.metadata.annotations ?? {}) as Record<string, string>
        const annotate = (kv: string) =>
            `kubectl -n ${saName !== undefined ? ns : o.namespace} annotate serviceaccount ${saName ?? CONTROLLER} --field-manager=flux-client-side-apply ${kv} && kubectl -n ${o.namespace} rollout restart deployment/${CONTROLLER}`
        if (types.has("kms") && !staticCreds.awsKms && annotations["eks.amazonaws.com/role-arn"] === undefined && !cfg.env.has("AWS_ROLE_ARN") && !cfg.env.has("AWS_ACCESS_KEY_ID")) {
            add({ severity: "error", subject, message: `files use AWS KMS keys but ${saWhere} has no eks.amazonaws.com/role-arn annotation and the Secret has no sops.aws-kms`, fix: annotate("eks.amazonaws.com/role-arn=arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>") })
        }
        if (types.has("gcp_kms") && !staticCreds.gcpKms && annotations["iam.gke.io/gcp-service-account"] === undefined && !cfg.env.has("GOOGLE_APPLICATION_CREDENTIALS")) {
            add({ severity: "error", subject, message: `files use GCP KMS keys but ${saWhere} has no iam.gke.io/gcp-service-account annotation and the Secret has no sops.gcp-kms`, fix: annotate("iam.gke.io/gcp-service-account=<GSA_NAME>@<PROJECT_ID>.iam.gserviceaccount.com") })
        }
        if (types.has("azure_kv") && !staticCreds.azureKv && !cfg.env.has("AZURE_CLIENT_ID")) {
            if (annotations["azure.workload.identity/client-id"] === undefined) {
                add({ severity: "error", subject, message: `files use Azure Key Vault keys but ${saWhere} has no azure.workload.identity/client-id annotation and the Secret has no sops.azure-kv`, fix: annotate("azure.workload.identity/client-id=<CLIENT_ID> azure.workload.identity/tenant-id=<TENANT_ID>") })
            }
            if (cfg.podLabels["azure.workload.identity/use"] !== "true") {
                add({
                    severity: "error",
                    subject,
                    message: `files use Azure Key Vault keys but the pod template of deployment/${CONTROLLER} lacks the label azure.workload.identity/use: "true"`,
                    fix: `kubectl -n ${o.namespace} patch deployment ${CONTROLLER} --field-manager=flux-client-side-apply --type merge -p ${quoteJson({ spec: { template: { metadata: { labels: { "azure.workload.identity/use": "true" } } } } })}`,
                })
            }
        }
        if (types.has("hc_vault") && !staticCreds.vaultToken && vaultConfigMap === undefined && !cfg.env.has("VAULT_TOKEN")) {
            add({ severity: "error", subject, message: "files use Vault transit keys but there is no sops.vault-token in the Secret, no --sops-vault-configmap and no VAULT_TOKEN on the controller", fix: `kubectl -n ${ns} create secret generic ${secretName ?? "sops-hcvault"} --from-literal=sops.vault-token=<token> (and set spec.decryption.secretRef)` })
        }

        // .sops.yaml: new files must be encrypted for a key the cluster holds
        if (keys.age.length + keys.pgp.length > 0) await checkSopsYaml(o.root, specPath, keys, subject, add)
    }
    report.ok = report.findings.every((f) => f.severity !== "error")
    return report
}

async function checkSopsYaml(root: string, specPath: string, keys: ImportedKeys, subject: string, add: (f: Finding) => void): Promise<void> {
    const cfg = await import("../config/sops-yaml.js")
    const sample = path.join(root, specPath, "secret.yaml")
    let config: ReturnType<typeof cfg.findConfig>
    try {
        config = cfg.findConfig(sample, { cwd: root })
    } catch {
        return
    }
    if (config === undefined) return
    let rule: Awaited<ReturnType<typeof cfg.creationRuleFor>>
    try {
        rule = await cfg.creationRuleFor(config, sample, root)
    } catch {
        return
    }
    if (rule === undefined) return
    const entries = rule.keyGroups.flat()
    if (entries.some((e) => e.type !== "age" && e.type !== "pgp")) return
    const ages = new Set(keys.age.map((a) => a.recipient))
    const fps = new Set(keys.pgp.filter((p) => !p.publicOnly && !p.protected).flatMap((p) => [p.fingerprint, ...p.keyIds]))
    const held = entries.filter((e) => (e.type === "age" ? ages.has(String(e.params.recipient)) : fps.has(String(e.params.fp).toUpperCase()) || [...fps].some((f) => String(e.params.fp).toUpperCase().endsWith(f))))
    if (held.length > 0 || entries.length === 0) return
    const rel = path.relative(root, config.path) || ".sops.yaml"
    const first = keys.age[0]?.recipient ?? keys.pgp.find((p) => !p.publicOnly)?.fingerprint
    add({
        severity: "warning",
        subject,
        message: `the ${rel} creation rule for ${specPath} encrypts for ${entries.map((e) => String(e.params.recipient ?? e.params.fp)).join(", ")}, none of which the cluster holds: new files will not decrypt in the cluster`,
        fix: first === undefined ? `put the cluster's key into the decryption Secret, or its recipient into ${rel}` : `add ${first} to that rule in ${rel}, then kubectl sops updatekeys -y ${specPath}`,
    })
}

/** Text output: one line per finding plus `fix:`, a line per Kustomization checked. */
export function renderDoctor(r: DoctorReport): string {
    const out: string[] = []
    for (const k of r.kustomizations) {
        const where = `${k.namespace}/${k.name} (${k.path})`
        if (k.state === "skipped") out.push(`· ${where}: path not in this checkout, skipped`)
        else if (k.state === "no-sops") out.push(`· ${where}: no SOPS-encrypted files`)
        else out.push(`${k.fails ? "✗" : "✔"} ${where}: ${k.decrypts ?? 0} decrypt, ${k.fails ?? 0} fail`)
    }
    for (const f of r.findings) {
        out.push(`${f.severity === "error" ? "✗" : "⚠️"} ${f.subject}: ${f.message.split("\n").join("\n    ")}`)
        out.push(`  fix: ${f.fix}`)
    }
    out.push(r.ok ? "✔ the Flux SOPS chain looks healthy" : `✗ ${r.findings.filter((f) => f.severity === "error").length} problem(s) found`)
    return `${out.join("\n")}\n`
}

/** Fail the command when the report has errors. */
export function doctorFailure(r: DoctorReport): KsopsError | undefined {
    if (r.ok) return undefined
    return new KsopsError(ErrorKind.CheckFailed, `doctor found ${r.findings.filter((f) => f.severity === "error").length} problem(s)`, { hint: "run the fix: lines above" })
}
