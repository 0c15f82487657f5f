/**
 * The objects of the Flux SOPS setup, built exactly as `flux create … --export` and `kubectl create secret generic`
 * build them (spec §3, §9), plus the kustomize-controller identity settings for cloud KMS (§7). Validation
 * messages are flux's own. Pure: no I/O, no client library.
 */
import { UsageError } from "../errors.js"
import type { IdentityOptions, KubeObject } from "./types.js"
import { toKubeYaml } from "./yaml.js"

/** The namespace Flux is installed in by default. */
export const FLUX_NAMESPACE = "flux-system"
/** The controller that decrypts. */
export const KUSTOMIZE_CONTROLLER = "kustomize-controller"
/** API versions. */
export const GITREPOSITORY_API = "source.toolkit.fluxcd.io/v1"
export const KUSTOMIZATION_API = "kustomize.toolkit.fluxcd.io/v1"
export const HELMRELEASE_API = "helm.toolkit.fluxcd.io/v2"

// ---------------------------------------------------------------------------------------------------------
// names and labels (k8s.io/apimachinery validation, flux messages)

const OBJECT_NAME = /^[a-z0-9]([a-z0-9-]){0,61}[a-z0-9]$/
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

/**
 * The positional NAME of `flux create …`: RFC 1123, 2 to 63 characters.
 * @throws UsageError `name is required` / `name '<n>' is invalid, …`
 */
export function validateName(name: string | undefined): string {
    if (name === undefined) throw new UsageError("name is required")
    if (!OBJECT_NAME.test(name)) {
        throw new UsageError(
            `name '${name}' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'`,
        )
    }
    return name
}

function regexError(msg: string, fmt: string, ...examples: string[]): string {
    if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`
    return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(" or ")}regex used for validation is '${fmt}')`
}

/** `validation.IsDNS1123Label`: the error list (empty when valid). */
export function dns1123LabelErrors(value: string): string[] {
    const errs: string[] = []
    if (value.length > 63) errs.push("must be no more than 63 characters")
    if (!DNS1123_LABEL.test(value)) {
        errs.push(
            regexError(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                "[a-z0-9]([-a-z0-9]*[a-z0-9])?",
                "my-name",
                "123-abc",
            ),
        )
    }
    return errs
}

function qualifiedNameErrors(value: string): string[] {
    const errs: string[] = []
    const parts = value.split("/")
    const qnameMsg = regexError(
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]",
        "MyName",
        "my.name",
        "123-abc",
    )
    let name: string
    if (parts.length === 1) name = parts[0]
    else if (parts.length === 2) {
        const prefix = parts[0]
        name = parts[1]
        if (prefix.length === 0) errs.push("prefix part must be non-empty")
        else {
            if (prefix.length > 253) errs.push("prefix part must be no more than 253 characters")
            if (!DNS1123_SUBDOMAIN.test(prefix)) {
                errs.push(
                    `prefix part ${regexError(
                        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                        "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
                        "example.com",
                    )}`,
                )
            }
        }
    } else {
        return [`a qualified name ${qnameMsg} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`]
    }
    if (name.length === 0) errs.push("name part must be non-empty")
    else if (name.length > 63) errs.push("name part must be no more than 63 characters")
    if (!QUALIFIED_NAME.test(name)) errs.push(`name part ${qnameMsg}`)
    return errs
}

function labelValueErrors(value: string): string[] {
    const errs: string[] = []
    if (value.length > 63) errs.push("must be no more than 63 characters")
    if (!LABEL_VALUE.test(value)) {
        errs.push(
            regexError(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
                "MyValue",
                "my_value",
                "12345",
            ),
        )
    }
    return errs
}

/**
 * `--label k=v` values (each may hold several, comma-separated, like pflag's StringSlice) → a label map.
 * @throws UsageError with flux's messages (`invalid label format '<x>', must be key=value`, …)
 */
export function parseLabels(values: readonly string[] | undefined): Record<string, string> {
    const out: Record<string, string> = {}
    for (const label of splitSlice(values)) {
        const parts = label.split("=")
        if (parts.length !== 2) throw new UsageError(`invalid label format '${label}', must be key=value`)
        const keyErrs = qualifiedNameErrors(parts[0])
        if (keyErrs.length > 0) throw new UsageError(`invalid label '${parts[0]}': [${keyErrs.join(" ")}]`)
        const valueErrs = labelValueErrors(parts[1])
        if (valueErrs.length > 0) throw new UsageError(`invalid label value '${parts[1]}': [${valueErrs.join(" ")}]`)
        out[parts[0]] = parts[1]
    }
    return out
}

/** pflag StringSlice: every value is split at commas (no CSV quoting support needed here). */
export function splitSlice(values: readonly string[] | undefined): string[] {
    if (values === undefined) return []
    return values.flatMap((v) => (v === "" ? [] : v.split(",")))
}

// ---------------------------------------------------------------------------------------------------------
// Go durations

const UNITS: Readonly<Record<string, bigint>> = {
    ns: 1n,
    us: 1000n,
    "µs": 1000n,
    "μs": 1000n,
    ms: 1_000_000n,
    s: 1_000_000_000n,
    m: 60_000_000_000n,
    h: 3_600_000_000_000n,
}
const MAX_DURATION = (1n << 63n) - 1n

function durationError(text: string, flag: string, detail: string): UsageError {
    return new UsageError(`invalid argument "${text}" for "--${flag}" flag: time: ${detail}`)
}

/**
 * Go `time.ParseDuration`: nanoseconds.
 * @throws UsageError `invalid argument "x" for "--flag" flag: time: invalid duration "x"` (pflag's wording)
 */
export function parseGoDuration(text: string, flag: string): bigint {
    const quoted = JSON.stringify(text)
    let s = text
    let neg = false
    if (s !== "" && (s[0] === "-" || s[0] === "+")) {
        neg = s[0] === "-"
        s = s.slice(1)
    }
    if (s === "0") return 0n
    if (s === "") throw durationError(text, flag, `invalid duration ${quoted}`)
    let total = 0n
    while (s !== "") {
        if (!(s[0] === "." || (s[0] >= "0" && s[0] <= "9"))) throw durationError(text, flag, `invalid duration ${quoted}`)
        const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s) as RegExpExecArray
        const intPart = m[1]
        const frac = m[2]
        if (intPart === "" && (frac === undefined || frac === "")) throw durationError(text, flag, `invalid duration ${quoted}`)
        s = s.slice(m[0].length)
        const u = /^[^0-9.]*/.exec(s)?.[0] ?? ""
        if (u === "") throw durationError(text, flag, `missing unit in duration ${quoted}`)
        const unit = UNITS[u]
        if (unit === undefined) throw durationError(text, flag, `unknown unit ${JSON.stringify(u)} in duration ${quoted}`)
        s = s.slice(u.length)
        let v = intPart === "" ? 0n : BigInt(intPart)
        if (v > MAX_DURATION / unit) throw durationError(text, flag, `invalid duration ${quoted}`)
        v *= unit
        if (frac !== undefined && frac !== "") {
            // Go keeps at most the digits that fit, then scales in floating point
            let f = 0n
            let scale = 1
            for (const d of frac) {
                if (f > (MAX_DURATION - 9n) / 10n) break
                f = f * 10n + BigInt(d)
                scale *= 10
            }
            v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)))
            if (v > MAX_DURATION) throw durationError(text, flag, `invalid duration ${quoted}`)
        }
        total += v
        if (total > MAX_DURATION) throw durationError(text, flag, `invalid duration ${quoted}`)
    }
    return neg ? -total : total
}

function fmtFrac(v: bigint, prec: number): [string, bigint] {
    let out = ""
    let print = false
    for (let i = 0; i < prec; i++) {
        const digit = v % 10n
        print = print || digit !== 0n
        if (print) out = `${digit}${out}`
        v /= 10n
    }
    return [print ? `.${out}` : "", v]
}

/** Go `time.Duration.String()`: `1m0s`, `10m0s`, `1h0m0s`, `1.5s`, `500ms`, `0s`. */
export function formatGoDuration(ns: bigint): string {
    if (ns === 0n) return "0s"
    const neg = ns < 0n
    let u = neg ? -ns : ns
    let out: string
    if (u < 1_000_000_000n) {
        let prec: number
        let unit: string
        if (u < 1000n) return `${neg ? "-" : ""}${u}ns`
        if (u < 1_000_000n) {
            prec = 3
            unit = "µs"
        } else {
            prec = 6
            unit = "ms"
        }
        const [frac, rest] = fmtFrac(u, prec)
        out = `${rest}${frac}${unit}`
    } else {
        const [frac, secsTotal] = fmtFrac(u, 9)
        u = secsTotal
        out = `${u % 60n}${frac}s`
        u /= 60n
        if (u > 0n) {
            out = `${u % 60n}m${out}`
            u /= 60n
            if (u > 0n) out = `${u}h${out}`
        }
    }
    return neg ? `-${out}` : out
}

/**
 * A duration flag as flux stores it: parsed like Go, printed with `Duration.String()` (`10m` → `10m0s`).
 * @throws UsageError with pflag's message
 */
export function goDuration(text: string, flag: string): string {
    return formatGoDuration(parseGoDuration(text, flag))
}

/** A Go duration in milliseconds (for timeouts). */
export function goDurationMs(text: string, flag: string): number {
    return Number(parseGoDuration(text, flag) / 1_000_000n)
}

// ---------------------------------------------------------------------------------------------------------
// paths and references

/**
 * `flux create kustomization --path` (SafeRelativePath: secure-join onto `./`): `foo` → `./foo`,
 * `/foo/../bar` → `./bar`, `..` → `./`, `./clusters/x/` → `./clusters/x`.
 */
export function cleanFluxPath(p: string): string {
    const parts: string[] = []
    for (const seg of p.trim().replaceAll("\\", "/").split("/")) {
        if (seg === "" || seg === ".") continue
        if (seg === "..") parts.pop()
        else parts.push(seg)
    }
    return `./${parts.join("/")}`
}

const SOURCE_KINDS = ["OCIRepository", "GitRepository", "Bucket"] as const

/**
 * `--source [<kind>/]<name>[.<namespace>]` (flux's KustomizationSource): the last `.` splits off the namespace;
 * the kind is matched case-insensitively and defaults to GitRepository.
 * @throws UsageError with flux's messages
 */
export function parseSourceRef(text: string): { kind: string; name: string; namespace?: string } {
    const flagError = (detail: string) => new UsageError(`invalid argument "${text}" for "--source" flag: ${detail}`)
    if (text.trim() === "") {
        throw flagError(
            `no Kustomization source given, please specify source that contains the Kubernetes manifests in the format '[<kind>/]<name>.<namespace>', where kind must be one of: (${SOURCE_KINDS.join(", ")}), if kind is not specified it defaults to GitRepository`,
        )
    }
    let kind = ""
    let name = text
    const slash = text.split("/")
    if (slash.length === 2) [kind, name] = slash
    let namespace: string | undefined
    const dots = name.split(".")
    if (dots.length > 1) {
        namespace = dots[dots.length - 1]
        name = dots.slice(0, -1).join(".")
    }
    if (name === "") throw flagError(`no name given for source of kind '${kind}'`)
    if (kind === "") {
        if ((SOURCE_KINDS as readonly string[]).includes(name)) throw flagError(`no kind specified for source '${name}'`)
        kind = "GitRepository"
    }
    const clean = SOURCE_KINDS.find((k) => k.toLowerCase() === kind.toLowerCase())
    if (clean === undefined) throw flagError(`source kind '${kind}' is not supported, must be one of: ${SOURCE_KINDS.join(", ")}`)
    return namespace === undefined || namespace === "" ? { kind: clean, name } : { kind: clean, name, namespace }
}

const HEALTH_CHECK_KINDS = ["Deployment", "DaemonSet", "StatefulSet", "HelmRelease"]

/** A health check reference (`meta.NamespacedObjectKindReference`). */
export interface HealthCheck {
    apiVersion?: string
    kind: string
    name: string
    namespace?: string
}

/**
 * `--health-check <kind>/<name>.<namespace>` as flux reads it: exactly one `/` and one `.`, the kind matched
 * case-sensitively; only a HelmRelease gets an apiVersion (helm.toolkit.fluxcd.io/v2), the workload kinds none
 * (the API server's preferred version is used).
 * @throws UsageError with flux's messages
 */
export function parseHealthCheck(text: string): HealthCheck {
    const kindObj = text.split("/")
    if (kindObj.length !== 2) throw new UsageError(`invalid health check '${text}' must be in the format 'kind/name.namespace' [${kindObj.join(" ")}]`)
    const kind = kindObj[0]
    if (!HEALTH_CHECK_KINDS.includes(kind)) throw new UsageError(`invalid health check kind '${kind}' can be HelmRelease, Deployment, DaemonSet or StatefulSet`)
    const nameNs = kindObj[1].split(".")
    if (nameNs.length !== 2) throw new UsageError(`invalid health check '${text}' must be in the format 'kind/name.namespace'`)
    const check: HealthCheck = { kind, name: nameNs[0] }
    if (kind === "HelmRelease") check.apiVersion = HELMRELEASE_API
    if (nameNs[1] !== "") check.namespace = nameNs[1]
    return check
}

// ---------------------------------------------------------------------------------------------------------
// objects

function meta(name: string, namespace: string, labels: Record<string, string> | undefined): KubeObject["metadata"] {
    const m: KubeObject["metadata"] = { name, namespace }
    if (labels !== undefined && Object.keys(labels).length > 0) m.labels = { ...labels }
    return m
}

/**
 * The decryption Secret of the guide (§3.6): v1 Secret, type Opaque, `data` = base64 of each entry's bytes, kept
 * exactly (strings are UTF-8).
 */
export function decryptionSecret(o: {
    name: string
    namespace: string
    entries: Readonly<Record<string, string | Uint8Array>>
    labels?: Record<string, string>
}): KubeObject {
    const data: Record<string, string> = {}
    for (const [k, v] of Object.entries(o.entries)) data[k] = Buffer.from(typeof v === "string" ? Buffer.from(v, "utf8") : v).toString("base64")
    return { apiVersion: "v1", kind: "Secret", metadata: meta(o.name, o.namespace, o.labels), type: "Opaque", data }
}

/** Options of {@link gitRepository} (flags of `flux create source git`). */
export interface GitRepositoryOptions {
    name: string
    namespace: string
    url: string
    branch?: string
    tag?: string
    semver?: string
    refName?: string
    commit?: string
    /** Go duration text (default `1m`). */
    interval?: string
    secretRef?: string
    proxySecretRef?: string
    provider?: string
    recurseSubmodules?: boolean
    ignorePaths?: readonly string[]
    sparseCheckoutPaths?: readonly string[]
    /** `--fetch-timeout` (omitted when 0). */
    fetchTimeout?: string
    labels?: Record<string, string>
}

const GIT_PROVIDERS = ["generic", "github", "aws", "azure"]

/**
 * A GitRepository as `flux create source git` builds it (§3.3).
 * @throws UsageError with flux's messages (url, scheme, ref, provider, durations)
 */
export function gitRepository(o: GitRepositoryOptions): KubeObject {
    validateName(o.name)
    if (o.url === "") throw new UsageError("url is required")
    // Go url.Parse: a scheme is letters, digits, + - . before the first colon
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(o.url)
    const scheme = m === null ? "" : m[1].toLowerCase()
    if (m === null && (o.url.split("/")[0] ?? "").includes(":")) {
        throw new UsageError(`git URL parse failed: parse ${JSON.stringify(o.url)}: first path segment in URL cannot contain colon`)
    }
    if (scheme !== "ssh" && scheme !== "http" && scheme !== "https") {
        throw new UsageError(`git URL scheme '${scheme}' not supported, can be: ssh, http and https`)
    }
    const branch = o.branch ?? ""
    const tag = o.tag ?? ""
    const semver = o.semver ?? ""
    const refName = o.refName ?? ""
    const commit = o.commit ?? ""
    if (branch === "" && tag === "" && semver === "" && commit === "" && refName === "") {
        throw new UsageError("a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver")
    }
    if (o.provider !== undefined) {
        if (o.provider.trim() === "") throw new UsageError(`invalid argument "${o.provider}" for "--provider" flag: no source Git provider given, please specify the Git provider name`)
        if (!GIT_PROVIDERS.includes(o.provider)) {
            throw new UsageError(
                `invalid argument "${o.provider}" for "--provider" flag: source Git provider '${o.provider}' is not supported, must be one of: ${GIT_PROVIDERS.join("|")}`,
            )
        }
    }
    const ref: Record<string, string> = {}
    if (commit !== "") {
        ref.commit = commit
        if (branch !== "") ref.branch = branch
    } else if (refName !== "") ref.name = refName
    else if (semver !== "") ref.semver = semver
    else if (tag !== "") ref.tag = tag
    else ref.branch = branch
    const spec: Record<string, unknown> = { url: o.url, interval: goDuration(o.interval ?? "1m", "interval"), ref }
    if (o.recurseSubmodules) spec.recurseSubmodules = true
    const ignore = splitSlice(o.ignorePaths)
    if (ignore.length > 0) spec.ignore = ignore.join("\n")
    const sparse = splitSlice(o.sparseCheckoutPaths)
    if (sparse.length > 0) spec.sparseCheckout = sparse
    if (o.fetchTimeout !== undefined && parseGoDuration(o.fetchTimeout, "fetch-timeout") > 0n) spec.timeout = goDuration(o.fetchTimeout, "fetch-timeout")
    if (o.secretRef !== undefined && o.secretRef !== "") spec.secretRef = { name: o.secretRef }
    if (o.proxySecretRef !== undefined && o.proxySecretRef !== "") spec.proxySecretRef = { name: o.proxySecretRef }
    if (o.provider !== undefined && o.provider !== "") spec.provider = o.provider
    return { apiVersion: GITREPOSITORY_API, kind: "GitRepository", metadata: meta(o.name, o.namespace, o.labels), spec }
}

/** Options of {@link kustomization} (flags of `flux create kustomization`). */
export interface KustomizationOptions {
    name: string
    namespace: string
    /** `--source` text (`[<kind>/]<name>[.<namespace>]`). */
    source: string
    /** `--path` (default `./`). */
    path?: string
    prune?: boolean
    /** Go duration text (default `1m`). */
    interval?: string
    /** `--decryption-provider`: only `sops`. */
    decryptionProvider?: string
    /** Ignored unless {@link decryptionProvider} is set (like flux). */
    decryptionSecret?: string
    targetNamespace?: string
    serviceAccountName?: string
    /** `name` or `namespace/name`, comma-separated values allowed. */
    dependsOn?: readonly string[]
    wait?: boolean
    /** `--health-check` values (`<kind>/<name>.<namespace>`, comma-separated allowed); ignored with {@link wait} (like flux). */
    healthChecks?: readonly string[]
    /** `--health-check-timeout` (default `2m`), used with {@link wait} or {@link healthChecks}. */
    healthCheckTimeout?: string
    retryInterval?: string
    kubeconfigSecretRef?: string
    labels?: Record<string, string>
}

/**
 * A Kustomization as `flux create kustomization` builds it (§3.4). `prune` is always present.
 * @throws UsageError with flux's messages
 */
export function kustomization(o: KustomizationOptions): KubeObject {
    validateName(o.name)
    if (o.source === "") throw new UsageError("source is required")
    const source = parseSourceRef(o.source)
    const path = o.path === undefined ? "./" : cleanFluxPath(o.path)
    let provider: string | undefined
    if (o.decryptionProvider !== undefined) {
        if (o.decryptionProvider.trim() === "") {
            throw new UsageError(`invalid argument "${o.decryptionProvider}" for "--decryption-provider" flag: no decryption provider given, must be one of: sops`)
        }
        if (o.decryptionProvider !== "sops") {
            throw new UsageError(
                `invalid argument "${o.decryptionProvider}" for "--decryption-provider" flag: unsupported decryption provider '${o.decryptionProvider}', must be one of: sops`,
            )
        }
        provider = o.decryptionProvider
    }
    const sourceRef: Record<string, string> = { kind: source.kind, name: source.name }
    if (source.namespace !== undefined) sourceRef.namespace = source.namespace
    const spec: Record<string, unknown> = {
        interval: goDuration(o.interval ?? "1m", "interval"),
        path,
        prune: o.prune === true,
        sourceRef,
    }
    if (o.targetNamespace !== undefined && o.targetNamespace !== "") spec.targetNamespace = o.targetNamespace
    const deps = splitSlice(o.dependsOn)
    if (deps.length > 0) {
        spec.dependsOn = deps.map((d) => {
            const parts = d.split("/")
            return parts.length > 1 ? { name: parts[1], namespace: parts[0] } : { name: parts[0] }
        })
    }
    if (o.kubeconfigSecretRef !== undefined && o.kubeconfigSecretRef !== "") spec.kubeConfig = { secretRef: { name: o.kubeconfigSecretRef } }
    const timeout = goDuration(o.healthCheckTimeout ?? "2m", "health-check-timeout")
    const checks = splitSlice(o.healthChecks)
    if (checks.length > 0 && o.wait !== true) {
        spec.healthChecks = checks.map(parseHealthCheck)
        spec.timeout = timeout
    }
    if (o.wait === true) {
        spec.wait = true
        spec.timeout = timeout
    }
    if (o.serviceAccountName !== undefined && o.serviceAccountName !== "") spec.serviceAccountName = o.serviceAccountName
    if (provider !== undefined) {
        const decryption: Record<string, unknown> = { provider }
        if (o.decryptionSecret !== undefined && o.decryptionSecret !== "") decryption.secretRef = { name: o.decryptionSecret }
        spec.decryption = decryption
    }
    if (o.retryInterval !== undefined && parseGoDuration(o.retryInterval, "retry-interval") > 0n) spec.retryInterval = goDuration(o.retryInterval, "retry-interval")
    return { apiVersion: KUSTOMIZATION_API, kind: "Kustomization", metadata: meta(o.name, o.namespace, o.labels), spec }
}

// ---------------------------------------------------------------------------------------------------------
// kustomize-controller identity for cloud KMS (§7)

function identityParts(o: IdentityOptions): { annotations: Record<string, string>; podLabels: Record<string, string>; env: { name: string; value: string }[] } {
    const annotations: Record<string, string> = {}
    const podLabels: Record<string, string> = {}
    const env: { name: string; value: string }[] = []
    if (o.awsRoleArn !== undefined) annotations["eks.amazonaws.com/role-arn"] = o.awsRoleArn
    if (o.gcpServiceAccount !== undefined) annotations["iam.gke.io/gcp-service-account"] = o.gcpServiceAccount
    if (o.azureClientId !== undefined || o.azureTenantId !== undefined) {
        if (o.azureClientId !== undefined) annotations["azure.workload.identity/client-id"] = o.azureClientId
        if (o.azureTenantId !== undefined) annotations["azure.workload.identity/tenant-id"] = o.azureTenantId
        podLabels["azure.workload.identity/use"] = "true"
    }
    if (o.azurePodIdentity !== undefined) {
        podLabels.aadpodidbinding = o.azurePodIdentity
        env.push({ name: "AZURE_AUTH_METHOD", value: "msi" })
    }
    return { annotations, podLabels, env }
}

/**
 * Partial apply configurations (server-side apply) that give kustomize-controller its cloud identity: the
 * ServiceAccount's annotations and, for Azure, the Deployment's pod template labels / manager container environment.
 * Only the objects that change are returned.
 */
export function identityObjects(o: IdentityOptions, namespace = FLUX_NAMESPACE): KubeObject[] {
    const { annotations, podLabels, env } = identityParts(o)
    const out: KubeObject[] = []
    if (Object.keys(annotations).length > 0) {
        out.push({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: KUSTOMIZE_CONTROLLER, namespace, annotations } })
    }
    if (Object.keys(podLabels).length > 0 || env.length > 0) {
        const template: Record<string, unknown> = {}
        if (Object.keys(podLabels).length > 0) template.metadata = { labels: podLabels }
        if (env.length > 0) template.spec = { containers: [{ name: "manager", env }] }
        out.push({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: KUSTOMIZE_CONTROLLER, namespace }, spec: { template } })
    }
    return out
}

function indentBlock(text: string, prefix: string): string {
    return text
        .trimEnd()
        .split("\n")
        .map((l) => (l === "" ? l : prefix + l))
        .join("\n")
}

/** A `kustomization.yaml` (kustomize's own Kustomization: no metadata). */
export interface KustomizeFile {
    apiVersion: "kustomize.config.k8s.io/v1beta1"
    kind: "Kustomization"
    resources: string[]
    patches: { patch: string; target: { kind: string; name: string } }[]
}

/**
 * The `flux-system/kustomization.yaml` that bootstrap repositories use to patch kustomize-controller's identity
 * (as in the Flux docs): `resources: [gotk-components.yaml, gotk-sync.yaml]` and one strategic-merge patch per object.
 */
export function identityKustomizePatch(o: IdentityOptions): KustomizeFile {
    const { annotations, podLabels, env } = identityParts(o)
    const patches: { patch: string; target: { kind: string; name: string } }[] = []
    if (Object.keys(annotations).length > 0) {
        const patch = [
            "apiVersion: v1",
            "kind: ServiceAccount",
            "metadata:",
            `  name: ${KUSTOMIZE_CONTROLLER}`,
            "  annotations:",
            indentBlock(toKubeYaml(annotations), "    "),
        ].join("\n")
        patches.push({ patch, target: { kind: "ServiceAccount", name: KUSTOMIZE_CONTROLLER } })
    }
    if (Object.keys(podLabels).length > 0 || env.length > 0) {
        const lines = ["apiVersion: apps/v1", "kind: Deployment", "metadata:", `  name: ${KUSTOMIZE_CONTROLLER}`, "spec:", "  template:"]
        if (Object.keys(podLabels).length > 0) lines.push("    metadata:", "      labels:", indentBlock(toKubeYaml(podLabels), "        "))
        if (env.length > 0) {
            lines.push("    spec:", "      containers:", "        - name: manager", "          env:")
            for (const e of env) lines.push(`            - name: ${e.name}`, `              value: ${toKubeYaml(e.value).trimEnd()}`)
        }
        patches.push({ patch: lines.join("\n"), target: { kind: "Deployment", name: KUSTOMIZE_CONTROLLER } })
    }
    return {
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: ["gotk-components.yaml", "gotk-sync.yaml"],
        patches,
    }
}
