/**
 * The golden files themselves, checked against sources other than our code (README.md beside each folder says
 * who wrote each file): every object validates against the Flux CRD schema (the shared CRDs) or, for core kinds,
 * against the Kubernetes fields of its kind; the decryption Secrets are what `kubectl create secret generic
 * --dry-run=client -o yaml` prints; the Flux guide's objects are the guide's own --export output.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import { parse, parseAllDocuments } from "yaml"
import { needs, tempDir, which } from "../cli/run.js"
import { docsDir, requireSharedData, sharedData } from "../conformance-data.js"
import { crdSchema, goldenDir, schemaErrors } from "./helpers.js"

const commandsGoldenDir = path.resolve(goldenDir, "../../commands/golden")
const guide = sharedData ? readFileSync(path.join(docsDir, "flux-decryption.md"), "utf8") : ""

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are free-form JSON
type Obj = Record<string, any>

const goldens = [
    ...readdirSync(goldenDir)
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => path.join(goldenDir, f)),
    ...readdirSync(commandsGoldenDir)
        .filter((f) => f.endsWith(".yaml") && !f.endsWith(".sops.yaml"))
        .map((f) => path.join(commandsGoldenDir, f)),
]

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/
const BASE64 = /^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function unknownFields(obj: Obj, known: string[], at: string): string[] {
    return Object.keys(obj)
        .filter((k) => !known.includes(k))
        .map((k) => `${at}.${k}: unknown field`)
}

/** ObjectMeta as these objects use it: name (a DNS subdomain), namespace, labels and annotations. */
function metadataErrors(meta: Obj | undefined, at: string, nameRequired = true): string[] {
    if (meta === undefined || typeof meta !== "object") return [`${at}: Required value`]
    const errs = unknownFields(meta, ["name", "namespace", "labels", "annotations"], at)
    if (nameRequired && (typeof meta.name !== "string" || !DNS_SUBDOMAIN.test(meta.name) || meta.name.length > 253)) errs.push(`${at}.name: invalid`)
    if (meta.namespace !== undefined && !DNS_LABEL.test(meta.namespace)) errs.push(`${at}.namespace: invalid`)
    for (const [k, v] of Object.entries((meta.labels as Obj | undefined) ?? {})) {
        if (!QUALIFIED_NAME.test(k) || k.split("/").at(-1)!.length > 63) errs.push(`${at}.labels[${k}]: invalid key`)
        if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) errs.push(`${at}.labels[${k}]: invalid value`)
    }
    for (const [k, v] of Object.entries((meta.annotations as Obj | undefined) ?? {})) {
        if (!QUALIFIED_NAME.test(k)) errs.push(`${at}.annotations[${k}]: invalid key`)
        if (typeof v !== "string") errs.push(`${at}.annotations[${k}]: must be a string`)
    }
    return errs
}

/** core/v1 Secret: its fields, base64 data under valid keys. */
function secretErrors(o: Obj): string[] {
    const errs = [...unknownFields(o, ["apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"], ""), ...metadataErrors(o.metadata, ".metadata")]
    for (const [k, v] of Object.entries((o.data as Obj | undefined) ?? {})) {
        if (!SECRET_KEY.test(k)) errs.push(`.data[${k}]: invalid key`)
        if (typeof v !== "string" || !BASE64.test(v)) errs.push(`.data[${k}]: not base64`)
    }
    if (o.type !== undefined && typeof o.type !== "string") errs.push(".type: must be a string")
    return errs
}

/** A strategic-merge patch of the kustomize-controller ServiceAccount or Deployment (the fields these patches set). */
function patchErrors(p: Obj, at: string): string[] {
    if (p.apiVersion === "v1" && p.kind === "ServiceAccount") {
        return [...unknownFields(p, ["apiVersion", "kind", "metadata"], at), ...metadataErrors(p.metadata, `${at}.metadata`)]
    }
    if (p.apiVersion === "apps/v1" && p.kind === "Deployment") {
        const errs = [...unknownFields(p, ["apiVersion", "kind", "metadata", "spec"], at), ...metadataErrors(p.metadata, `${at}.metadata`)]
        errs.push(...unknownFields(p.spec ?? {}, ["template"], `${at}.spec`))
        const template = p.spec?.template ?? {}
        errs.push(...unknownFields(template, ["metadata", "spec"], `${at}.spec.template`))
        if (template.metadata !== undefined) errs.push(...metadataErrors(template.metadata, `${at}.spec.template.metadata`, false))
        errs.push(...unknownFields(template.spec ?? {}, ["containers"], `${at}.spec.template.spec`))
        for (const [i, c] of ((template.spec?.containers as Obj[] | undefined) ?? []).entries()) {
            const cat = `${at}.spec.template.spec.containers[${i}]`
            errs.push(...unknownFields(c, ["name", "env"], cat))
            if (typeof c.name !== "string" || !DNS_LABEL.test(c.name)) errs.push(`${cat}.name: Required value`)
            for (const [j, e] of ((c.env as Obj[] | undefined) ?? []).entries()) {
                errs.push(...unknownFields(e, ["name", "value"], `${cat}.env[${j}]`))
                if (typeof e.name !== "string" || e.name === "") errs.push(`${cat}.env[${j}].name: Required value`)
                if (e.value !== undefined && typeof e.value !== "string") errs.push(`${cat}.env[${j}].value: must be a string`)
            }
        }
        return errs
    }
    return [`${at}: unexpected patch ${p.apiVersion} ${p.kind}`]
}

/** kustomize.config.k8s.io/v1beta1 Kustomization (kustomization.yaml) with inline patches and their targets. */
function kustomizeErrors(o: Obj): string[] {
    const errs = unknownFields(o, ["apiVersion", "kind", "resources", "patches"], "")
    if (!Array.isArray(o.resources) || o.resources.some((r: unknown) => typeof r !== "string")) errs.push(".resources: must be a list of strings")
    for (const [i, entry] of ((o.patches as Obj[] | undefined) ?? []).entries()) {
        const at = `.patches[${i}]`
        errs.push(...unknownFields(entry, ["patch", "target"], at))
        if (typeof entry.patch !== "string") {
            errs.push(`${at}.patch: must be a string`)
            continue
        }
        const p = parse(entry.patch) as Obj
        errs.push(...patchErrors(p, `${at}.patch`))
        errs.push(...unknownFields(entry.target ?? {}, ["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"], `${at}.target`))
        if (entry.target?.kind !== p.kind || entry.target?.name !== p.metadata?.name) errs.push(`${at}.target: does not select the patched object`)
    }
    return errs
}

function objectErrors(o: Obj): string[] {
    const group = String(o.apiVersion).split("/")[0]
    if (group === "kustomize.toolkit.fluxcd.io" || group === "source.toolkit.fluxcd.io") {
        return [...schemaErrors(o, crdSchema(o.apiVersion, o.kind)), ...metadataErrors(o.metadata, ".metadata")]
    }
    if (o.apiVersion === "v1" && o.kind === "Secret") return secretErrors(o)
    if (o.apiVersion === "kustomize.config.k8s.io/v1beta1" && o.kind === "Kustomization") return kustomizeErrors(o)
    return [`no schema for ${o.apiVersion} ${o.kind}`]
}

describe("golden files validate", () => {
    it("finds the goldens", () => {
        expect(goldens.length).toBeGreaterThanOrEqual(25)
    })

    it.each(goldens.map((f) => [path.relative(path.resolve(goldenDir, "../.."), f), f]))("%s", (_name, file) => {
        const docs = parseAllDocuments(readFileSync(file, "utf8"))
        expect(docs.length).toBeGreaterThan(0)
        for (const d of docs) {
            expect(d.errors).toEqual([])
            const o = d.toJS() as Obj
            expect({ kind: o.kind, errors: objectErrors(o) }).toEqual({ kind: o.kind, errors: [] })
        }
    })

    it("the checks can fail: an unknown field, a bad label, a wrong patch target, a bad base64 value", () => {
        const ks = parse(readFileSync(path.join(goldenDir, "kustomization-full.yaml"), "utf8")) as Obj
        ks.spec.decryption.secretref = ks.spec.decryption.secretRef
        expect(objectErrors(ks)).toContain(".spec.decryption.secretref: unknown field")
        const secret = parse(readFileSync(path.join(goldenDir, "secret-age.yaml"), "utf8")) as Obj
        secret.metadata.labels = { "bad key!": "x" }
        secret.data["age.agekey"] += "="
        expect(objectErrors(secret)).toEqual([".metadata.labels[bad key!]: invalid key", ".data[age.agekey]: not base64"])
        const identity = parse(readFileSync(path.join(goldenDir, "identity-aws.yaml"), "utf8")) as Obj
        identity.patches[0].target.name = "source-controller"
        expect(objectErrors(identity)).toEqual([".patches[0].target: does not select the patched object"])
    })

    it("bootstrap-vault.sops.yaml is a .sops.yaml with one creation rule for a Vault transit key", () => {
        const config = parse(readFileSync(path.join(commandsGoldenDir, "bootstrap-vault.sops.yaml"), "utf8")) as Obj
        expect(Object.keys(config)).toEqual(["creation_rules"])
        expect(config.creation_rules).toHaveLength(1)
        const rule = config.creation_rules[0] as Obj
        expect(Object.keys(rule).sort()).toEqual(["encrypted_regex", "hc_vault_transit_uri", "path_regex"])
        expect(rule.hc_vault_transit_uri).toMatch(/^https?:\/\/[^/]+\/v1\/[^/]+\/keys\/[^/]+$/)
    })
})

/** The yaml blocks that follow "Guide command" in the shared Flux guide notes: what `flux create … --export` printed. */
function guideExports(): string[] {
    return [...guide.matchAll(/Guide command[^\n]*\n(?:[\s\S]*?)```yaml\n([\s\S]*?)```/g)].map((m) => m[1])
}

describe("goldens against outputs other programs wrote", () => {
    it("source-git-branch.yaml and kustomization-guide.yaml are the Flux guide's `flux create … --export` output", () => {
        requireSharedData()
        const exports = guideExports()
        expect(exports).toHaveLength(2)
        expect(readFileSync(path.join(goldenDir, "source-git-branch.yaml"), "utf8")).toBe(exports[0])
        expect(readFileSync(path.join(goldenDir, "kustomization-guide.yaml"), "utf8")).toBe(exports[1])
    })

    it.runIf(needs("kubectl")).each([
        ["secret-age.yaml", "sops-age", "age.agekey"],
        ["secret-pgp.yaml", "sops-gpg", "sops.asc"],
        ["secret-vault.yaml", "sops-hcvault", "sops.vault-token"],
    ])("%s is what `kubectl create secret generic %s --from-file=%s=…` makes", (file, name, key) => {
        const kubectl = which("kubectl")
        expect(kubectl, "kubectl on PATH").toBeDefined()
        const golden = readFileSync(path.join(goldenDir, file), "utf8")
        const dir = tempDir("ksops-goldens-")
        onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
        const value = path.join(dir, "value")
        writeFileSync(value, Buffer.from((parse(golden) as Obj).data[key], "base64"))
        // the Flux guide's command (which reads /dev/stdin); --type=Opaque is what the API server gives a Secret without one
        const args = ["create", "secret", "generic", name, "--namespace=flux-system", `--from-file=${key}=${value}`, "--type=Opaque", "--dry-run=client", "-o", "yaml"]
        const r = spawnSync(kubectl!, args, { encoding: "utf8" })
        expect(r.status, r.stderr).toBe(0)
        // flux's --export form: a leading document marker and no empty creationTimestamp
        expect(golden).toBe(`---\n${r.stdout.replace(/^ {2}creationTimestamp: null\n/m, "")}`)
    })
})
