/**
 * The cluster flags the Flux commands share (kubectl and flux spellings) and their resolution. Pure: loading the
 * kubeconfig happens in `src/kube/client.ts`, only when a command talks to the cluster.
 */
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

/** The namespace: `-n`, else `$FLUX_SYSTEM_NAMESPACE` when it is a valid DNS-1123 label (else a warning), else flux-system. */
export function resolveNamespace(flags: ParsedFlags, env: Readonly<Record<string, string | undefined>>, warn: (message: string) => void): string {
    const given = flags.namespace as string | undefined
    if (given !== undefined) {
        const errs = dns1123LabelErrors(given)
        if (errs.length > 0) throw new UsageError(`invalid namespace '${given}': [${errs.join(" ")}]`)
        return given
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
