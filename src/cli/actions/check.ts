/**
 * `kubectl sops check [PATH]`: predicts kustomize-controller v1.9.4's decryption of a Kustomization path with a
 * decryption key set (a cluster Secret, a key file, or the agent's keys), file by file, with the controller's own
 * error texts. Exits 1 (CheckFailed) when the controller would fail.
 */
import { existsSync, statSync } from "node:fs"
import path from "node:path"
import { ErrorKind, KsopsError, UsageError } from "../../errors.js"
import { clusterFlags as kubeFlags, resolveNamespace } from "../kube-flags.js"
import { writeOut } from "../io.js"
import type { CommandIo, CommandSpec, FlagSpec } from "../spec.js"
import type { SecretEntries } from "../../flux/keys.js"
import type { LoadedEntries } from "../../flux/sources.js"

/** The cluster flags check and doctor take (kubectl/flux spellings, shared with the other Flux commands). */
export const clusterFlags = {
    kubeconfig: kubeFlags.kubeconfig,
    context: kubeFlags.context,
    namespace: { ...kubeFlags.namespace, summary: "Namespace of the Kustomization and its decryption Secret (default: $FLUX_SYSTEM_NAMESPACE or flux-system)" },
    "ns-follows-kube-context": kubeFlags["ns-follows-kube-context"],
} as const satisfies Record<string, FlagSpec>

/** The repository root of a path: the nearest folder up with `.git`, else undefined. */
export function gitRoot(dir: string): string | undefined {
    let cur = path.resolve(dir)
    for (;;) {
        if (existsSync(path.join(cur, ".git"))) return cur
        const up = path.dirname(cur)
        if (up === cur) return undefined
        cur = up
    }
}

/** PATH and --root → absolute root and `spec.path` relative to it. */
export function resolveRoot(io: CommandIo, target: string, rootFlag: string | undefined): { root: string; specPath: string } {
    let abs = path.resolve(io.cwd, target)
    // with --root, PATH may also be given as spec.path (relative to the root)
    if (rootFlag !== undefined && !path.isAbsolute(target) && !existsSync(abs)) abs = path.resolve(io.cwd, rootFlag, target)
    let isDir = false
    try {
        isDir = statSync(abs).isDirectory()
    } catch {
        throw new UsageError(`path ${target} does not exist`, { hint: "give the folder of the Kustomization's spec.path" })
    }
    if (!isDir) throw new UsageError(`path ${target} is not a folder`, { hint: "give the folder of the Kustomization's spec.path" })
    const root = rootFlag !== undefined ? path.resolve(io.cwd, rootFlag) : (gitRoot(abs) ?? (abs.startsWith(`${path.resolve(io.cwd)}${path.sep}`) ? path.resolve(io.cwd) : abs))
    const rel = path.relative(root, abs)
    if (rel.startsWith("..") || path.isAbsolute(rel)) throw new UsageError(`path ${target} is outside the root ${root}`, { hint: "give --root the repository folder that holds PATH" })
    return { root, specPath: rel === "" ? "." : rel.split(path.sep).join("/") }
}

/** The check command. */
export const check: CommandSpec = {
    id: "check",
    summary: "Predict whether kustomize-controller will decrypt a path",
    description:
        "Walks a Kustomization path exactly as Flux's kustomize-controller (v1.9.4) does — the kustomization files, resources, components, secretGenerator files and envs, patches — and tells, file by file, whether the controller will decrypt it with the given keys, with the controller's own error text when it will not. The keys come from the decryption Secret in the cluster (--secret), a Secret manifest or key file (--keys FILE; a raw file becomes the entry named like the file, so keys.txt is ignored as the controller would), or the key agent (--keys agent, the default). --verify also decrypts every value. Prints no secret values. Exits 1 when the controller would fail.",
    examples: [
        { description: "Check a cluster folder with the agent's keys", command: "kubectl sops check clusters/cluster0" },
        { description: "Check with an age key file (its file name is the Secret entry name, as with --from-file)", command: "kubectl sops check clusters/cluster0 --keys age.agekey" },
        { description: "Also decrypt every value (authoritative)", command: "kubectl sops check clusters/cluster0 --keys age.agekey --verify" },
        { description: "Check with the decryption Secret of the cluster, as JSON for CI", command: "kubectl sops check clusters/cluster0 --secret sops-age -n flux-system -o json" },
    ],
    flags: {
        secret: { type: "string", summary: "Name of the decryption Secret in the cluster (namespace -n)" },
        keys: { type: "string", summary: "Key material: a Secret manifest, an age key file, an armored PGP key, or 'agent' (default)" },
        root: { type: "string", summary: "Repository root (the source artifact); default: the git root of PATH" },
        "no-decryption": { type: "boolean", summary: "The Kustomization has no spec.decryption (predict the apply guard)" },
        "target-namespace": { type: "string", summary: "The Kustomization's spec.targetNamespace (the namespace in the controller's messages)" },
        verify: { type: "boolean", summary: "Also decrypt every value with the keys (authoritative, slower)" },
        verbose: { type: "boolean", summary: "Also list files that are not encrypted or skipped, and the keys" },
        output: { type: "string", char: "o", options: ["text", "json"], default: "text", summary: "Output format" },
        ...clusterFlags,
    },
    args: [{ name: "path", summary: "The Kustomization's spec.path (default: the current folder)" }],
    async run(parsed, io) {
        const f = parsed.flags
        if (parsed.argv.length > 1) throw new UsageError(`check takes one PATH, got ${parsed.argv.length}`)
        if (f.secret !== undefined && f.keys !== undefined) {
            throw new UsageError("--secret and --keys cannot be used together", { hint: "use --secret for the cluster's Secret or --keys for local key material" })
        }
        const namespace = resolveNamespace(f, io.env, (m) => io.stderr.write(`⚠️ ${m}\n`), io.cwd)
        const { root, specPath } = resolveRoot(io, parsed.argv[0] ?? ".", f.root as string | undefined)
        const decryption = f["no-decryption"] !== true
        const { importKeys } = await import("../../flux/keys.js")
        let loaded: import("../../flux/sources.js").LoadedEntries = { entries: {}, namespace, name: "", notes: [] }
        if (decryption) {
            const sources = await import("../../flux/sources.js")
            if (f.secret !== undefined) {
                const { secretFromCluster } = await import("../../flux/cluster.js")
                loaded = await secretFromCluster(io, { name: f.secret as string, namespace, kubeconfig: f.kubeconfig as string | undefined, context: f.context as string | undefined })
            } else if (f.keys === undefined || f.keys === "agent") loaded = await entriesFromAgent(io, namespace)
            else loaded = await sources.entriesFromFile(f.keys as string, io.cwd, namespace)
        }
        const keys = await importKeys(loaded.entries, { namespace: loaded.namespace, name: loaded.name })
        keys.warnings.unshift(...loaded.notes)
        const verifier = decryption && f.verify === true ? await (await import("../../flux/verify.js")).createVerifier(keys) : undefined
        const { runCheck } = await import("../../flux/check.js")
        let report: import("../../flux/check.js").CheckReport
        try {
            report = await runCheck({
                root,
                specPath,
                keys,
                decryption,
                ...(verifier === undefined ? {} : { verifier }),
                ...(f["target-namespace"] === undefined ? {} : { targetNamespace: f["target-namespace"] as string }),
            })
        } finally {
            verifier?.close()
        }
        const render = await import("../../flux/render.js")
        await writeOut(io, f.output === "json" ? render.renderJson(report) : render.renderText(report, f.verbose === true))
        if (!report.ok) {
            const failed = report.files.filter((x) => x.result === "fails").length
            throw new KsopsError(
                ErrorKind.CheckFailed,
                report.error !== undefined ? "kustomize-controller would fail before decrypting any file" : `kustomize-controller would fail to decrypt ${failed} file(s)`,
                { hint: "see the report above" },
            )
        }
        return 0
    },
}

/** `--keys agent`: the agent's keys as the Secret `kubectl sops bootstrap` would make (`age.agekey`, `sops.asc`). */
async function entriesFromAgent(io: CommandIo, namespace: string): Promise<LoadedEntries> {
    const { withAgent } = await import("./agent-support.js")
    const notes: string[] = []
    const { age, pgp } = await withAgent(io, { start: true }, async (c) => {
        const keys = await c.listKeys()
        const age: string[] = []
        const pgp: string[] = []
        for (const k of keys) {
            if (k.type !== "pgp" && k.protected) {
                notes.push(`agent key ${k.recipient.slice(0, 24)}… is passphrase-protected: an age key in a Secret cannot be, so it is left out`)
                continue
            }
            const exported = await c.exportKey(k.id, true)
            if (k.type === "pgp") pgp.push(exported.text.endsWith("\n") ? exported.text : `${exported.text}\n`)
            else age.push(exported.text.endsWith("\n") ? exported.text : `${exported.text}\n`)
        }
        return { age, pgp }
    })
    const entries: SecretEntries = {}
    if (age.length > 0) entries["age.agekey"] = new Uint8Array(Buffer.from(age.join("")))
    if (pgp.length > 0) entries["sops.asc"] = new Uint8Array(Buffer.from(pgp.join("")))
    if (age.length + pgp.length === 0) notes.push("the agent holds no usable keys (kubectl sops keys list)")
    return { entries, namespace, name: "kubectl-sops-agent", notes }
}
