/** Fixtures for the Flux check tests: repository trees in temp folders, files encrypted with the engine. */
import { randomBytes } from "node:crypto"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { type CheckReport, runCheck } from "../../src/flux/check.js"
import { type ImportedKeys, importKeys, type SecretEntries } from "../../src/flux/keys.js"
import { createVerifier } from "../../src/flux/verify.js"
import { LocalKeyService } from "../../src/keys/local.js"
import { encryptDocument } from "../../src/sops/document.js"
import type { KeyEntry } from "../../src/sops/keys.js"
import { metadataToTree, type Selection } from "../../src/sops/metadata.js"
import { tempDir } from "../cli/run.js"
import { storeFor } from "../../src/stores/index.js"
import type { Format } from "../../src/stores/store.js"
import { vectorsDir } from "../cli/run.js"
import { isolatedContext } from "../keys/helpers.js"
import { sharedData } from "../conformance-data.js"

/** The sops 3.13.2 key folder. */
export const KEYS = path.join(vectorsDir, "sops-3.13.2", "keys")

/** A key file's text. */
export function keyText(name: string): string {
    return readFileSync(path.join(KEYS, name), "utf8")
}

function recipientOf(n: number): string {
    return /public key: (age1[0-9a-z]+)/.exec(keyText(`age${n}.agekey`))![1]
}

/** Recipients of age1..age4.agekey. */
export const AGE = [0, 1, 2, 3, 4].map((n) => (n === 0 || !sharedData ? "" : recipientOf(n)))
/** The Flux-guide PGP key's fingerprint. */
export const PGP_FP = sharedData ? keyText("cluster0.fpr").trim() : ""

/** Secret entries from text values. */
export function entries(values: Record<string, string | Uint8Array>): SecretEntries {
    const out: SecretEntries = {}
    for (const [k, v] of Object.entries(values)) out[k] = typeof v === "string" ? new Uint8Array(Buffer.from(v)) : v
    return out
}

/** Keys as the controller imports them from a Secret `flux-system/sops-keys`. */
export function keysFrom(values: Record<string, string | Uint8Array>): Promise<ImportedKeys> {
    return importKeys(entries(values), { namespace: "flux-system", name: "sops-keys" })
}

const ctx = isolatedContext({ KUBECTL_SOPS_PGP_PUBKEYS: path.join(KEYS, "cluster0.pub.asc") })
const service = new LocalKeyService(ctx)
const entropy = { randomBytes: (n: number) => new Uint8Array(randomBytes(n)), now: () => new Date() }

/** Key groups: strings `age1…` are age recipients, 40-hex strings PGP fingerprints, `arn:` AWS KMS. */
function entry(k: string): KeyEntry {
    if (k.startsWith("age1")) return { type: "age", params: { recipient: k }, enc: "" }
    if (k.startsWith("arn:")) return { type: "kms", params: { arn: k, role: "", context: {} }, enc: "" }
    if (k.startsWith("https://")) return { type: "hc_vault", params: { vault_address: k, engine_path: "sops", key_name: "k" }, enc: "" }
    return { type: "pgp", params: { fp: k }, enc: "" }
}

/** Options of {@link encrypt}. */
export interface EncryptOptions {
    /** Key groups (one group: a flat list). */
    groups: string[][]
    threshold?: number
    format?: Format
    selection?: Selection
}

/** Encrypt plaintext with the engine (any format), as sops would write it. */
export async function encrypt(plain: string, o: EncryptOptions): Promise<string> {
    const format = o.format ?? "yaml"
    const store = storeFor(format)
    const branches = store.loadPlain(Buffer.from(plain))
    const selection = o.selection ?? (format === "yaml" || format === "json" ? { encryptedRegex: "^(data|stringData)$" } : {})
    const md = await encryptDocument(
        branches,
        { keyGroups: o.groups.map((g) => g.map(entry)), shamirThreshold: o.threshold ?? 0, selection, binary: format === "binary" },
        service,
        entropy,
    )
    return Buffer.from(store.emitEncrypted(branches, metadataToTree(md))).toString("utf8")
}

/** A Secret manifest (stringData). */
export function secretYaml(name: string, values: Record<string, string>, extra = ""): string {
    const data = Object.entries(values)
        .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
        .join("\n")
    return `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n${extra}stringData:\n${data}\n`
}

/** A temp repository: write files (relative path → text), get the root. */
export function repo(files: Record<string, string | Buffer>): string {
    const root = tempDir("ksops-flux-")
    for (const [rel, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
        writeFileSync(path.join(root, rel), text)
    }
    return root
}

/** A kustomization.yaml (each field written as a JSON flow value, which is YAML). */
export function kustomization(fields: Record<string, unknown>): string {
    const body = Object.entries(fields)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
        .join("")
    return `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`
}

/** Run the check in process. */
export async function check(
    root: string,
    specPath: string,
    keys: ImportedKeys,
    o: { decryption?: boolean; verify?: boolean; components?: string[]; targetNamespace?: string } = {},
): Promise<CheckReport> {
    const verifier = o.verify ? await createVerifier(keys) : undefined
    try {
        return await runCheck({
            root,
            specPath,
            keys,
            decryption: o.decryption ?? true,
            ...(verifier === undefined ? {} : { verifier }),
            ...(o.components === undefined ? {} : { components: o.components }),
            ...(o.targetNamespace === undefined ? {} : { targetNamespace: o.targetNamespace }),
        })
    } finally {
        verifier?.close()
    }
}

/** The files of a report as compact `path:result` strings. */
export function results(r: CheckReport): string[] {
    return r.files.map((f) => `${f.path}${f.document === undefined ? "" : `#${f.document}`}${f.field === undefined ? "" : `[${f.field}]`}:${f.stage}:${f.result}`)
}
