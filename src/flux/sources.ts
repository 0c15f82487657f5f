/**
 * Where `check` gets its decryption Secret entries: a Secret manifest or raw key file (`--keys FILE`), the key
 * agent (`--keys agent`), or the cluster (`--secret NAME`, through `src/kube/client.ts`).
 */
import { readFileSync } from "node:fs"
import path from "node:path"
import { ErrorKind, KsopsError, UsageError } from "../errors.js"
import type { SecretEntries } from "./keys.js"

/** Entries plus the Secret's identity for messages. */
export interface LoadedEntries {
    entries: SecretEntries
    namespace: string
    name: string
    /** Notes about how the entries were made (file name used as entry name, agent keys left out). */
    notes: string[]
}

/** A Kubernetes Secret object (as JSON) → entries: `data` base64-decoded, `stringData` merged over it. */
export function secretEntries(obj: Record<string, unknown>): SecretEntries {
    const out: SecretEntries = {}
    const data = obj.data
    if (data !== null && typeof data === "object") {
        for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
            if (typeof v === "string") out[k] = new Uint8Array(Buffer.from(v, "base64"))
        }
    }
    const stringData = obj.stringData
    if (stringData !== null && typeof stringData === "object") {
        for (const [k, v] of Object.entries(stringData as Record<string, unknown>)) {
            if (typeof v === "string") out[k] = new Uint8Array(Buffer.from(v, "utf8"))
        }
    }
    return out
}

/**
 * `--keys FILE`: a Secret manifest (YAML or JSON, `data`/`stringData`), or a raw key file whose base name becomes
 * the entry name, as `kubectl create secret generic --from-file=FILE` would make it.
 */
export async function entriesFromFile(file: string, cwd: string, namespace: string): Promise<LoadedEntries> {
    const abs = path.resolve(cwd, file)
    let bytes: Buffer
    try {
        bytes = readFileSync(abs)
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        throw new KsopsError(ErrorKind.CouldNotReadInputFile, `cannot read key file ${file}: ${code === "ENOENT" ? "no such file or directory" : (e as Error).message}`)
    }
    const text = bytes.toString("utf8")
    if (/^\s*(kind|apiVersion)\s*:/m.test(text) || /"kind"\s*:\s*"Secret"/.test(text)) {
        const { parseAllDocuments } = await import("yaml")
        for (const doc of parseAllDocuments(text)) {
            if (doc.errors.length > 0) continue
            const v = doc.toJS() as Record<string, unknown> | null
            if (v === null || typeof v !== "object" || v.kind !== "Secret") continue
            const meta = (v.metadata ?? {}) as Record<string, unknown>
            return {
                entries: secretEntries(v),
                namespace: typeof meta.namespace === "string" && meta.namespace !== "" ? meta.namespace : namespace,
                name: typeof meta.name === "string" ? meta.name : path.basename(file),
                notes: [],
            }
        }
        if (/^\s*kind\s*:/m.test(text)) throw new UsageError(`${file} holds no Secret manifest`, { hint: "give a Secret manifest, an age key file or an armored PGP key" })
    }
    const entry = path.basename(abs)
    const { goExt } = await import("./keys.js")
    const read = [".agekey", ".asc"].includes(goExt(entry)) || ["sops.vault-token", "sops.aws-kms", "sops.azure-kv", "sops.gcp-kms"].includes(entry)
    return {
        entries: { [entry]: new Uint8Array(bytes) },
        namespace,
        name: entry,
        notes: read
            ? []
            : [`${file} becomes the Secret entry '${entry}' (the file name is the entry name, as with kubectl create secret generic --from-file=${entry}), which kustomize-controller ignores`],
    }
}
