/** `check --secret NAME`: the decryption Secret read from the cluster (as the controller reads it). */
import { ErrorKind, KsopsError } from "../errors.js"
import type { KubeObject } from "../kube/types.js"
import type { LoadedEntries } from "./sources.js"

/** The process context a cluster connection needs (the CLI passes its `CommandIo`). */
export interface KubeEnv {
    readonly env: Readonly<Record<string, string | undefined>>
    readonly cwd: string
}

/** What check and doctor use of the kube client (`src/kube/client.ts`). */
export interface KubeReader {
    readonly server: string
    get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KubeObject | undefined>
    list(apiVersion: string, kind: string, namespace?: string): Promise<KubeObject[]>
}

/** Connect with the kubeconfig flags (loads `@kubernetes/client-node` only here). */
export async function connectKube(io: KubeEnv, o: { kubeconfig?: string | undefined; context?: string | undefined }): Promise<KubeReader> {
    const client = await import("../kube/client.js")
    return client.connect({ ...(o.kubeconfig === undefined ? {} : { kubeconfig: o.kubeconfig }), ...(o.context === undefined ? {} : { context: o.context }), env: io.env, cwd: io.cwd })
}

/**
 * Read the Secret `<namespace>/<name>`. A missing Secret is the controller's error: `secrets "<name>" not found`.
 */
export async function secretFromCluster(
    io: KubeEnv,
    o: { name: string; namespace: string; kubeconfig?: string | undefined; context?: string | undefined },
): Promise<LoadedEntries> {
    const kube = await connectKube(io, o)
    const obj = await kube.get("v1", "Secret", o.namespace, o.name)
    if (obj === undefined) {
        throw new KsopsError(ErrorKind.CheckFailed, `secrets "${o.name}" not found`, {
            hint: `the controller reads the decryption Secret in the Kustomization's namespace (${o.namespace}); create it with kubectl sops create secret or check -n`,
        })
    }
    const { secretEntries } = await import("./sources.js")
    return { entries: secretEntries(obj as unknown as Record<string, unknown>), namespace: o.namespace, name: o.name, notes: [] }
}
