/**
 * The pre-flight check (flux-decryption.md §8): what kustomize-controller v1.9.4 will do with the SOPS files of a
 * Kustomization path, with a given decryption key set. Pure of I/O except reading the repository files.
 */
import { readFileSync } from "node:fs"
import { MetadataNotFoundError } from "../errors.js"
import { isEncryptedValue } from "../sops/cipher.js"
import { type Metadata, metadataFromTree } from "../sops/metadata.js"
import { Branch, type Branches, Comment, METADATA_KEY, type TreeValue } from "../sops/tree.js"
import { storeFor } from "../stores/index.js"
import type { Format } from "../stores/store.js"
import { YamlStore } from "../stores/yaml.js"
import { collectFileSet, FORMAT_MARKERS, formatForPath, readSource, type SourceTarget } from "./fileset.js"
import { describeKeys, type ImportedKeys } from "./keys.js"
import { checkValueShape, indexKeys, type KeyIndex, predictDataKey } from "./predict.js"
import type { Verifier } from "./verify.js"

/** One checked file or document. */
export interface FileResult {
    /** Path relative to the root. */
    path: string
    /** Document index in a multi-document YAML file. */
    document?: number
    /** `sources`: decrypted before the build (§5.2); `resource`: after the build (§5.3); `apply`: the apply guard (§5.5). */
    stage: "sources" | "resource" | "apply"
    result: "decrypts" | "fails" | "plaintext" | "skipped"
    /** The object, `Kind/namespace/name`, for resources. */
    object?: string
    /** The Secret data key (Secret field decryption, secretGenerator files). */
    field?: string
    /** The key that decrypts (recipient, fingerprint, ARN…). */
    key?: string
    /** Predicted through a cloud identity or token only (not provable offline). */
    likely?: boolean
    /** With `likely`: the key types that need the controller's identity or a token (`kms`, `gcp_kms`, `azure_kv`, `hc_vault`). */
    identity?: string[]
    /** The controller's error. */
    error?: string
    /** Why it is skipped / plaintext. */
    note?: string
}

/** The whole report (the `-o json` schema). */
export interface CheckReport {
    ok: boolean
    /** The Kustomization path, relative to the root. */
    path: string
    keys: { type: string; id: string; entry: string; note?: string }[]
    files: FileResult[]
    warnings: string[]
    /** A failure that stops the reconcile before any file (key import, kustomization files). */
    error?: string
}

/** Inputs of {@link runCheck}. */
export interface CheckInput {
    /** Absolute artifact root. */
    root: string
    /** `spec.path` relative to root. */
    specPath: string
    /** The imported keys; ignored when `decryption` is false. */
    keys: ImportedKeys
    /** `spec.decryption` is set (provider sops). */
    decryption: boolean
    /** Real decryption of every value (`--verify`). */
    verifier?: Verifier
    /** The Kustomization's `spec.components` (added to the top kustomization). */
    components?: readonly string[]
    /** The Kustomization's `spec.targetNamespace`. */
    targetNamespace?: string
}

const FORMAT_NAMES: Record<Format, string> = { yaml: "YAML", json: "JSON", binary: "binary", dotenv: "dotenv", ini: "INI" }
const MARKER_ORDER: Format[] = ["yaml", "json", "dotenv", "ini"]

/** The first marker (in §5.2 table order) a payload contains: the input format of the Secret-field decryption. */
function markerFormat(bytes: Uint8Array): Format | undefined {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (const f of MARKER_ORDER) if (buf.includes(FORMAT_MARKERS[f])) return f
    return undefined
}

function str(v: TreeValue | undefined): string | undefined {
    return typeof v === "string" ? v : undefined
}

function branch(v: TreeValue | undefined): Branch | undefined {
    return v instanceof Branch ? v : undefined
}

/** Plain JS value (from the `yaml` package) → tree, for documents our YAML store refuses. */
function toTree(v: unknown): TreeValue {
    if (v === null || v === undefined) return null
    if (Array.isArray(v)) return v.map(toTree)
    if (v instanceof Date) return v.toISOString()
    if (typeof v === "object") return new Branch(Object.entries(v as Record<string, unknown>).map(([key, value]) => ({ key, value: toTree(value) })))
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return v
    return String(v)
}

type YamlModule = typeof import("yaml")

/** kyaml's GVK string: `Kind.version.group`, `[noGrp]` for the core group. */
function gvk(apiVersion: string, kind: string): string {
    const slash = apiVersion.indexOf("/")
    return slash < 0 ? `${kind}.${apiVersion}.[noGrp]` : `${kind}.${apiVersion.slice(slash + 1)}.${apiVersion.slice(0, slash)}`
}

interface Ctx {
    input: CheckInput
    ix: KeyIndex
    report: CheckReport
    yaml: YamlModule
    yamlStore: YamlStore
    /** Documents parsed while the kustomization was generated (one parse per file). */
    parsed: Map<string, unknown[]>
}

/** What the output store would refuse to write (the Secret-field case: output format from the data key). */
function emitProblem(branches: Branches, out: Format): string | undefined {
    if (out === "binary") {
        const data = branches.length === 1 ? branches[0].get("data") : undefined
        return typeof data === "string" ? undefined : "No binary data found in tree"
    }
    if (out === "dotenv") {
        for (const b of branches) for (const it of b.items) if (it.value instanceof Branch || Array.isArray(it.value)) return "cannot use complex value in dotenv file"
    }
    return undefined
}

/** Predict one encrypted payload read with a store (sources and Secret fields). */
async function predictPayload(
    ctx: Ctx,
    bytes: Uint8Array,
    format: Format,
    outFormat: Format = format,
): Promise<{ ok: boolean; key?: string; likely?: boolean; needs?: string[]; identityTypes?: string[]; error?: string }> {
    const store = format === "yaml" ? ctx.yamlStore : storeFor(format)
    let branches: Branches
    let md: Metadata
    try {
        const f = store.loadEncrypted(bytes)
        branches = f.branches
        md = metadataFromTree(f.metadata)
    } catch (e) {
        const msg = e instanceof MetadataNotFoundError ? "sops metadata not found" : (e as Error).message
        return { ok: false, error: `failed to load encrypted ${FORMAT_NAMES[format]} data: ${msg}` }
    }
    const p = predictDataKey(md, ctx.ix)
    if (!p.ok) return { ok: false, error: p.error }
    const shape = format === "binary" ? undefined : checkValueShape(branches, md.selection)
    if (shape !== undefined) return { ok: false, error: shape }
    const emit = emitProblem(branches, outFormat)
    if (emit !== undefined) return { ok: false, error: `failed to emit encrypted ${FORMAT_NAMES[format]} file as decrypted ${FORMAT_NAMES[outFormat]}: ${emit}` }
    if (ctx.input.verifier !== undefined && p.likely !== true) {
        const err = await ctx.input.verifier.verify(branches, md, { raw: format === "binary" })
        if (err !== undefined) return { ok: false, error: err }
    }
    return { ok: true, ...(p.key === undefined ? {} : { key: p.key }), ...(p.likely ? { likely: true, needs: p.needs, identityTypes: p.identityTypes } : {}) }
}

function noteNeeds(ctx: Ctx, where: string, needs: string[] | undefined): void {
    for (const n of needs ?? []) {
        const w = `${where}: decrypts only through ${n} (not verifiable offline; run kubectl sops doctor against the cluster)`
        if (!ctx.report.warnings.includes(w)) ctx.report.warnings.push(w)
    }
}

async function checkSource(ctx: Ctx, t: SourceTarget, postBuild: { t: SourceTarget; bytes: Buffer }[]): Promise<void> {
    const r = readSource(ctx.input.root, t.path)
    const base = { path: t.path, stage: "sources" as const, ...(t.key === undefined ? {} : { field: t.key }) }
    if (!r.ok) {
        ctx.report.files.push({ ...base, result: "fails", error: `error decrypting sources: ${r.error}` })
        return
    }
    if (!r.bytes.includes(FORMAT_MARKERS[t.format])) {
        // left as it is; a secretGenerator file with another format's marker is tried again after the build
        if (t.generator !== undefined && t.key !== undefined && markerFormat(r.bytes) !== undefined && t.via.includes("files")) {
            postBuild.push({ t, bytes: r.bytes })
            return
        }
        ctx.report.files.push({ ...base, result: "plaintext", note: `not encrypted (left as is; no '${FORMAT_MARKERS[t.format]}' for ${t.format})` })
        return
    }
    const p = await predictPayload(ctx, r.bytes, t.format)
    if (p.ok) {
        ctx.report.files.push({ ...base, result: "decrypts", ...(p.key === undefined ? {} : { key: p.key }), ...(p.likely ? { likely: true, identity: p.identityTypes ?? [] } : {}) })
        noteNeeds(ctx, t.path, p.needs)
    } else ctx.report.files.push({ ...base, result: "fails", error: `error decrypting sources: ${p.error}` })
}

/** A tree → plain JS value (kustomization files). */
function toPlain(v: TreeValue): unknown {
    if (v instanceof Branch) {
        const out: Record<string, unknown> = {}
        for (const it of v.items) if (typeof it.key === "string") out[it.key] = toPlain(it.value)
        return out
    }
    if (Array.isArray(v)) return v.filter((e) => !(e instanceof Comment)).map(toPlain)
    if (typeof v === "bigint") return Number(v)
    if (v instanceof Uint8Array) return Buffer.from(v).toString("utf8")
    if (v !== null && typeof v === "object") return "text" in v ? (v as { text: string }).text : String(v)
    return v
}

/** A kustomization file: our fast YAML parser, the `yaml` package for what it refuses (and its error messages). */
function parseKustomization(ctx: Ctx, text: string): unknown {
    try {
        const docs = ctx.yamlStore.loadPlain(Buffer.from(text))
        return docs.length === 0 ? null : toPlain(docs[0])
    } catch {
        return ctx.yaml.parse(text)
    }
}

/** Parse a resource file into documents (our YAML store; the `yaml` package for what it refuses). */
function parseDocs(ctx: Ctx, bytes: Buffer): Branch[] | string {
    try {
        return ctx.yamlStore.loadPlain(bytes)
    } catch (e) {
        // an alias bomb: the `yaml` package would be told the same (below), after expanding up to its own limit
        if (e instanceof Error && e.message.endsWith("excessive aliasing")) return e.message.replace(/^Error unmarshaling input YAML: yaml: /, "")
        try {
            return ctx.yaml
                .parseAllDocuments(bytes.toString("utf8"))
                .map((d) => {
                    if (d.errors.length > 0) throw d.errors[0]
                    return toTree(d.toJS({ maxAliasCount: 100 }))
                })
                .filter((d): d is Branch => d instanceof Branch)
        } catch (e) {
            return (e as Error).message.split("\n")[0]
        }
    }
}

async function checkResourceFile(ctx: Ctx, res: { path: string; namespace?: string; namePrefix: string; nameSuffix: string }): Promise<void> {
    const { report, input } = ctx
    let bytes: Buffer
    try {
        bytes = readFileSync(`${input.root}/${res.path}`)
    } catch (e) {
        report.warnings.push(`${res.path}: cannot read: ${(e as Error).message}`)
        return
    }
    const cached = ctx.parsed.get(res.path) as Branch[] | undefined
    const parsed = cached ?? parseDocs(ctx, bytes)
    if (typeof parsed === "string") {
        report.files.push({ path: res.path, stage: "resource", result: "fails", error: `kustomize build failed: ${res.path}: ${parsed}` })
        return
    }
    const docs = parsed.filter((d) => d.items.length > 0)
    const multi = docs.length > 1
    for (const [i, doc] of docs.entries()) {
        const apiVersion = str(doc.get("apiVersion")) ?? ""
        const kind = str(doc.get("kind")) ?? ""
        const meta = branch(doc.get("metadata"))
        const rawName = str(meta?.get("name")) ?? ""
        const sops = doc.get(METADATA_KEY)
        const where = { path: res.path, ...(multi ? { document: i } : {}), stage: "resource" as const }
        if ([apiVersion, kind, rawName].some((v) => isEncryptedValue(v))) {
            report.files.push({
                ...where,
                result: "fails",
                error: "failed to decode Kubernetes apiVersion, kind and name from: the document (apiVersion, kind or metadata.name is encrypted)",
                note: "encrypt only data and stringData: --encrypted-regex '^(data|stringData)$'",
            })
            continue
        }
        if (apiVersion === "" || kind === "" || rawName === "") {
            if (sops !== undefined) {
                report.files.push({ ...where, result: "fails", error: `failed to decode Kubernetes apiVersion, kind and name from: ${res.path}` })
            }
            continue
        }
        const name = res.namePrefix + rawName + res.nameSuffix
        const namespace = res.namespace ?? str(meta?.get("namespace")) ?? ""
        const annotations = branch(meta?.get("annotations"))
        const disabled = (str(annotations?.get("kustomize.toolkit.fluxcd.io/decrypt")) ?? "").toLowerCase() === "disabled"
        const object = `${kind}/${namespace === "" ? "" : `${namespace}/`}${name}`
        const sopsBranch = branch(sops)
        const mac = str(sopsBranch?.get("mac")) ?? ""
        const isSecret = kind === "Secret" && apiVersion === "v1"
        const guard = () => {
            report.files.push({
                ...where,
                stage: "apply",
                object,
                result: "fails",
                error: `${object} is SOPS encrypted, configuring decryption is required for this secret to be reconciled`,
            })
        }

        if (!input.decryption) {
            if (sops !== undefined && isSecret && !disabled) guard()
            else if (sops !== undefined) {
                report.files.push({ ...where, object, result: "skipped", note: disabled ? "decrypt: disabled (applied as is)" : "no decryption configured (applied as is)" })
                if (!disabled) report.warnings.push(`${res.path}: ${object} carries sops metadata but the Kustomization has no decryption: it would be applied encrypted`)
            } else if (isSecret && secretHasEncryptedData(doc)) {
                report.warnings.push(`${res.path}: ${object} has encrypted data values but the Kustomization has no decryption: they would be applied encrypted`)
            }
            continue
        }
        if (disabled) {
            if (sops !== undefined || (isSecret && secretHasEncryptedData(doc))) {
                report.files.push({ ...where, object, result: "skipped", note: "kustomize.toolkit.fluxcd.io/decrypt: disabled" })
            }
            continue
        }
        const prefix = `decryption failed for '${gvk(apiVersion, kind)}/${name}': `
        if (sopsBranch !== undefined && mac !== "") {
            // whole resource, any kind (JSON store)
            const docTree = new Branch(doc.items.filter((it) => it.key !== METADATA_KEY))
            let md: Metadata
            try {
                md = metadataFromTree(sopsBranch)
            } catch (e) {
                report.files.push({ ...where, object, result: "fails", error: `${prefix}failed to decrypt and format '${namespace}/${name}' ${kind} data: failed to load encrypted JSON data: ${(e as Error).message}` })
                continue
            }
            const p = predictDataKey(md, ctx.ix)
            let error = p.ok ? checkValueShape([docTree], md.selection) : p.error
            if (error === undefined && input.verifier !== undefined && p.likely !== true) {
                error = await input.verifier.verify([docTree], md, { dropComments: true })
            }
            if (error !== undefined) {
                report.files.push({ ...where, object, result: "fails", error: `${prefix}failed to decrypt and format '${namespace}/${name}' ${kind} data: ${error}` })
            } else {
                report.files.push({ ...where, object, result: "decrypts", ...(p.key === undefined ? {} : { key: p.key }), ...(p.likely ? { likely: true, identity: p.identityTypes ?? [] } : {}) })
                noteNeeds(ctx, res.path, p.needs)
            }
            continue
        }
        if (sops !== undefined && isSecret) {
            // sops without a mac: not decrypted, but the apply guard still stops it
            guard()
            continue
        }
        if (kind !== "Secret") {
            if (sops !== undefined) report.warnings.push(`${res.path}: ${object} has a sops block without a mac: it is not decrypted and would be applied as is`)
            continue
        }
        const found = await checkSecretFields(ctx, doc, where, object, prefix, `${namespace}/${name}`)
        if (!found && sops === undefined) {
            report.files.push({ ...where, object, result: "plaintext", note: "Secret is not encrypted" })
            report.warnings.push(`${res.path}: ${object} is not encrypted: it would be applied in plaintext (encrypt it: kubectl sops encrypt -i ${res.path})`)
        }
    }
}

function secretHasEncryptedData(doc: Branch): boolean {
    const data = branch(doc.get("data"))
    if (data === undefined) return false
    for (const it of data.items) {
        if (typeof it.value !== "string") continue
        if (markerFormat(Buffer.from(it.value, "base64")) !== undefined) return true
    }
    return false
}

/** §5.3 step 4: Secret `data` values whose base64 holds a SOPS file. @returns whether any was found */
async function checkSecretFields(
    ctx: Ctx,
    doc: Branch,
    where: { path: string; document?: number; stage: "resource" },
    object: string,
    prefix: string,
    nsName: string,
): Promise<boolean> {
    const data = branch(doc.get("data"))
    if (data === undefined) return false
    let found = false
    for (const it of data.items) {
        if (typeof it.key !== "string" || typeof it.value !== "string") continue
        const bytes = Buffer.from(it.value.replace(/\s+/g, ""), "base64")
        if (!/^[A-Za-z0-9+/=\s]*$/.test(it.value)) continue
        const inFormat = markerFormat(bytes)
        if (inFormat === undefined) continue
        found = true
        const p = await predictPayload(ctx, bytes, inFormat, formatForPath(it.key))
        if (p.ok) {
            ctx.report.files.push({ ...where, object, field: it.key, result: "decrypts", ...(p.key === undefined ? {} : { key: p.key }), ...(p.likely ? { likely: true, identity: p.identityTypes ?? [] } : {}) })
            noteNeeds(ctx, where.path, p.needs)
        } else {
            ctx.report.files.push({
                ...where,
                object,
                field: it.key,
                result: "fails",
                error: `${prefix}failed to decrypt and format '${nsName}' Secret field '${it.key}': ${p.error}`,
            })
        }
    }
    return found
}

/**
 * Run the check.
 * @returns the report; `ok` is false when the controller would fail.
 */
export async function runCheck(input: CheckInput): Promise<CheckReport> {
    const yaml = await import("yaml")
    const ix = indexKeys(input.keys)
    const report: CheckReport = { ok: true, path: "", keys: input.decryption ? describeKeys(input.keys) : [], files: [], warnings: [] }
    const ctx: Ctx = { input, ix, report, yaml, yamlStore: new YamlStore(), parsed: new Map() }
    if (input.decryption) {
        report.warnings.push(...input.keys.warnings)
        if (input.keys.error !== undefined) report.error = input.keys.error
    }
    const set = collectFileSet(
        input.root,
        input.specPath,
        (t) => parseKustomization(ctx, t),
        {
            ...(input.components === undefined ? {} : { components: input.components }),
            ...(input.targetNamespace === undefined ? {} : { targetNamespace: input.targetNamespace }),
        },
        (t) => {
            const docs = parseDocs(ctx, Buffer.from(t))
            if (typeof docs === "string") throw new Error(docs)
            return docs
        },
    )
    ctx.parsed = set.parsed
    report.path = set.dirPath
    report.warnings.push(...set.warnings)
    if (set.error !== undefined) {
        report.error ??= input.decryption && !/^(kustomization path not found|component path |kustomize create failed)/.test(set.error) ? `error decrypting sources: ${set.error}` : set.error
        report.ok = false
        return report
    }
    const postBuild: { t: SourceTarget; bytes: Buffer }[] = []
    if (input.decryption) for (const t of set.sources) await checkSource(ctx, t, postBuild)
    else {
        for (const t of set.sources) {
            const r = readSource(input.root, t.path)
            if (r.ok && markerFormat(r.bytes) !== undefined) {
                report.files.push({ path: t.path, stage: "sources", ...(t.key === undefined ? {} : { field: t.key }), result: "skipped", note: "no decryption configured" })
                report.warnings.push(`${t.path}: SOPS-encrypted file used by ${t.via}, but the Kustomization has no decryption: it would be used encrypted`)
            }
        }
    }
    for (const res of set.resources) await checkResourceFile(ctx, res)
    // secretGenerator files with another format's marker: the Secret-field scan after the build (§5.3 step 4)
    const decryptedBefore = new Set(report.files.filter((f) => f.stage === "sources" && f.result === "decrypts").map((f) => f.path))
    for (const { t, bytes } of postBuild) {
        if (decryptedBefore.has(t.path)) {
            report.files.push({ path: t.path, stage: "resource", object: `Secret/${t.generator}`, field: t.key!, result: "skipped", note: "decrypted in place before the build through another reference" })
            continue
        }
        const inFormat = markerFormat(bytes)!
        const p = await predictPayload(ctx, bytes, inFormat, formatForPath(t.key!))
        const object = `Secret/${t.generator}`
        if (p.ok) report.files.push({ path: t.path, stage: "resource", object, field: t.key!, result: "decrypts", ...(p.key === undefined ? {} : { key: p.key }), ...(p.likely ? { likely: true, identity: p.identityTypes ?? [] } : {}) })
        else {
            report.files.push({
                path: t.path,
                stage: "resource",
                object,
                field: t.key!,
                result: "fails",
                error: `decryption failed for 'Secret.v1.[noGrp]/${t.generator}-<hash>': failed to decrypt and format '<ns>/${t.generator}-<hash>' Secret field '${t.key}': ${p.error}`,
            })
        }
        report.warnings.push(`${t.path}: referenced as '${t.key}' (${t.format}) but encrypted as ${inFormat}: decrypted only after the build, as Secret field '${t.key}'`)
    }
    // configMapGenerator sources stay encrypted (unless a secretGenerator also decrypts them)
    const decryptedSources = new Set(set.sources.map((s) => s.path))
    for (const c of set.configMapSources) {
        if (decryptedSources.has(c.path)) continue
        const r = readSource(input.root, c.path)
        if (r.ok && markerFormat(r.bytes) !== undefined) {
            report.warnings.push(`${c.path}: SOPS-encrypted file used by ${c.via}: configMapGenerator sources are not decrypted, the ConfigMap would hold ciphertext`)
        }
    }
    for (const m of set.missing) {
        report.files.push({
            path: m.path,
            stage: "resource",
            result: "fails",
            error: `kustomize build failed: accumulating resources: accumulation err='accumulating resources from '${m.ref}': open ${m.path}: no such file or directory'`,
            note: `referenced by ${m.via}`,
        })
    }
    for (const c of set.undecryptedPatches) {
        const r = readSource(input.root, c.path)
        if (r.ok && markerFormat(r.bytes) !== undefined) {
            report.warnings.push(`${c.path}: SOPS-encrypted patch in ${c.via}: the controller decrypts only patches[].path files, this one would be applied encrypted (move it to patches:)`)
        }
    }
    report.ok = report.error === undefined && report.files.every((f) => f.result !== "fails")
    return report
}
