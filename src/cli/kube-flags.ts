/**
 * The cluster flags the Flux commands share (kubectl and flux spellings) and their resolution. Loading the
 * kubeconfig happens in `src/kube/client.ts`, only when a command talks to the cluster; the one exception is
 * `--ns-follows-kube-context`, which reads the context's namespace from the kubeconfig files here (with `yaml`
 * only, so --export and --dry-run=client still do not load the Kubernetes client).
 */
import { readFileSync } from "node:fs"
import path from "node:path"
import { parse } from "yaml"
import { UsageError } from "../errors.js"
import type { FlagSpec, ParsedFlags } from "./spec.js"
import { dns1123LabelErrors, FLUX_NAMESPACE, goDurationMs, parseLabels } from "../kube/manifests.js"

const GROUP = "Cluster"

/** `--kubeconfig`, `--context`, `-n/--namespace`. */
export const clusterFlags = {
    kubeconfig: { type: "string", summary: "Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)", helpGroup: GROUP },
    context: { type: "string", summary: "The kubeconfig context to use", helpGroup: GROUP },
    namespace: {
        type: "string",
        char: "n",
        summary: "Namespace of the Flux objects (default: $FLUX_SYSTEM_NAMESPACE or flux-system)",
        helpGroup: GROUP,
    },
    "ns-follows-kube-context": {
        type: "boolean",
        summary: "Without -n, use the namespace of the kubeconfig context (also $FLUX_NS_FOLLOWS_KUBE_CONTEXT)",
        helpGroup: GROUP,
    },
    timeout: { type: "string", default: "5m", summary: "How long to wait for the cluster (Go duration: 30s, 5m)", helpGroup: GROUP },
} as const satisfies Record<string, FlagSpec>

/** `--export`, `--dry-run`, `-o/--output`. */
export const outputFlags = {
    export: { type: "boolean", summary: "Print the manifests (flux --export format) instead of applying them; the cluster is not contacted" },
    "dry-run": {
        type: "string",
        options: ["none", "client", "server"],
        summary: "client: print what would be applied without contacting the cluster; server: let the API server validate without persisting",
    },
    output: { type: "string", char: "o", options: ["yaml", "json"], summary: "Print the object(s) as yaml or json" },
} as const satisfies Record<string, FlagSpec>

/** `--label k=v` (repeatable, comma-separated). */
export const labelFlag = {
    label: { type: "string", multiple: true, summary: "Set labels on the resource (key=value, repeatable or comma-separated)" },
} as const satisfies Record<string, FlagSpec>

/** Dry-run mode. */
export type DryRun = "none" | "client" | "server"

type Env = Readonly<Record<string, string | undefined>>

/** The kubeconfig files kubectl reads: `--kubeconfig`, else the `$KUBECONFIG` list, else `~/.kube/config`. */
function kubeconfigFiles(flags: ParsedFlags, env: Env, cwd: string): string[] {
    const given = flags.kubeconfig as string | undefined
    if (given !== undefined && given !== "") return [path.resolve(cwd, given)]
    const list = env.KUBECONFIG
    if (list !== undefined && list !== "") return list.split(path.delimiter).filter((f) => f !== "").map((f) => path.resolve(cwd, f))
    const home = env.HOME ?? env.USERPROFILE
    return home === undefined ? [] : [path.join(home, ".kube", "config")]
}

function record(v: unknown): Record<string, unknown> | undefined {
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
}

/**
 * The namespace of the kubeconfig context (`--context`, else the current context), like flux's
 * `getKubeconfigContextNamespace`: the files are merged as client-go merges them (the first `current-context` and
 * the first definition of a context win; a missing file of the `$KUBECONFIG` list is skipped).
 * @returns undefined when the context has no namespace or the kubeconfig cannot be read (flux ignores it then)
 */
export function kubeContextNamespace(flags: ParsedFlags, env: Env, cwd: string): string | undefined {
    const explicit = flags.kubeconfig !== undefined && flags.kubeconfig !== ""
    let current: string | undefined
    const contexts = new Map<string, unknown>()
    for (const file of kubeconfigFiles(flags, env, cwd)) {
        let text: string
        try {
            text = readFileSync(file, "utf8")
        } catch {
            if (explicit) return undefined
            continue
        }
        let doc: Record<string, unknown> | undefined
        try {
            const parsed: unknown = parse(text)
            if (parsed === null || parsed === undefined) continue
            doc = record(parsed)
        } catch {
            return undefined
        }
        if (doc === undefined) return undefined
        if (current === undefined && typeof doc["current-context"] === "string" && doc["current-context"] !== "") current = doc["current-context"]
        for (const entry of Array.isArray(doc.contexts) ? (doc.contexts as unknown[]) : []) {
            const name = record(entry)?.name
            if (typeof name === "string" && !contexts.has(name)) contexts.set(name, record(entry)?.context)
        }
    }
    const wanted = flags.context as string | undefined
    const name = wanted !== undefined && wanted !== "" ? wanted : current
    if (name === undefined) return undefined
    const ns = record(contexts.get(name))?.namespace
    return typeof ns === "string" && ns !== "" ? ns : undefined
}

/**
 * The namespace: `-n`; else, with `--ns-follows-kube-context` or a non-empty `$FLUX_NS_FOLLOWS_KUBE_CONTEXT`, the
 * kubeconfig context's namespace when it has one; else `$FLUX_SYSTEM_NAMESPACE` when it is a valid DNS-1123 label
 * (else a warning); else flux-system.
 * @param cwd what a relative `--kubeconfig` or `$KUBECONFIG` entry is relative to
 */
export function resolveNamespace(flags: ParsedFlags, env: Env, warn: (message: string) => void, cwd: string = process.cwd()): string {
    const given = flags.namespace as string | undefined
    if (given !== undefined) {
        const errs = dns1123LabelErrors(given)
        if (errs.length > 0) throw new UsageError(`invalid namespace '${given}': [${errs.join(" ")}]`)
        return given
    }
    const follow = env.FLUX_NS_FOLLOWS_KUBE_CONTEXT
    if (flags["ns-follows-kube-context"] === true || (follow !== undefined && follow !== "")) {
        const fromContext = kubeContextNamespace(flags, env, cwd)
        if (fromContext !== undefined) {
            if (dns1123LabelErrors(fromContext).length > 0) throw new UsageError(`namespace must be a valid DNS label: ${JSON.stringify(fromContext)}`)
            return fromContext
        }
    }
    const fromEnv = env.FLUX_SYSTEM_NAMESPACE
    if (fromEnv !== undefined && fromEnv !== "") {
        if (dns1123LabelErrors(fromEnv).length > 0) warn(`ignoring invalid FLUX_SYSTEM_NAMESPACE: ${JSON.stringify(fromEnv)}`)
        else return fromEnv
    }
    return FLUX_NAMESPACE
}

/** `--dry-run` (none when absent). */
export function resolveDryRun(flags: ParsedFlags): DryRun {
    return ((flags["dry-run"] as string | undefined) ?? "none") as DryRun
}

/** `--timeout` in milliseconds. */
export function resolveTimeoutMs(flags: ParsedFlags): number {
    const ms = goDurationMs((flags.timeout as string | undefined) ?? "5m", "timeout")
    if (ms <= 0) throw new UsageError(`invalid argument "${flags.timeout}" for "--timeout" flag: must be positive`)
    return ms
}

/** `--label` values → labels (flux's validation). */
export function resolveLabels(flags: ParsedFlags): Record<string, string> {
    return parseLabels(flags.label as string[] | undefined)
}

/** What `connect()` needs from the flags. */
export function connectOptions(
    flags: ParsedFlags,
    env: Readonly<Record<string, string | undefined>>,
): { kubeconfig?: string; context?: string; env: Readonly<Record<string, string | undefined>> } {
    const kubeconfig = flags.kubeconfig as string | undefined
    const context = flags.context as string | undefined
    return { ...(kubeconfig === undefined ? {} : { kubeconfig }), ...(context === undefined ? {} : { context }), env }
}
