/**
 * `kubectl sops doctor [PATH]`: checks the live Flux SOPS chain (CRDs, Kustomizations, decryption Secrets, the
 * controller's identity for KMS keys, `.sops.yaml` recipients) against the repository checkout. One line per
 * finding with a `fix:` command; exits 1 (CheckFailed) when something would fail.
 */
import path from "node:path"
import { UsageError } from "../../errors.js"
import { resolveNamespace } from "../kube-flags.js"
import { writeOut } from "../io.js"
import type { CommandSpec } from "../spec.js"
import { clusterFlags, gitRoot } from "./check.js"

/** The doctor command. */
export const doctor: CommandSpec = {
    id: "doctor",
    summary: "Check the live Flux SOPS chain in the cluster",
    description:
        "Reads the cluster (kubeconfig) and checks what kustomize-controller needs to decrypt: the Flux CRDs; for each Kustomization in the namespace (or -A), whose spec.path exists in this checkout: spec.decryption when the path holds SOPS files, the decryption Secret in the Kustomization's namespace and its entries (as the controller imports them), that every file decrypts with those keys, the controller's service-account annotations and pod label for the KMS key types the files use (unless the Secret has static credentials), and that the .sops.yaml rule encrypts for a key the cluster holds. Each finding is one line and a fix: command. Exits 1 when something would fail.",
    examples: [
        { description: "Check the flux-system Kustomizations against this checkout", command: "kubectl sops doctor" },
        { description: "Every namespace, as JSON", command: "kubectl sops doctor -A -o json" },
    ],
    flags: {
        ...clusterFlags,
        "all-namespaces": { type: "boolean", char: "A", summary: "Check the Kustomizations of every namespace" },
        root: { type: "string", summary: "Repository root that spec.path is relative to (default: the git root of PATH, else PATH)" },
        output: { type: "string", char: "o", options: ["text", "json"], default: "text", summary: "Output format" },
    },
    args: [{ name: "path", summary: "A folder of the repository checkout (default: the current folder)" }],
    async run(parsed, io) {
        const f = parsed.flags
        if (parsed.argv.length > 1) throw new UsageError(`doctor takes one PATH, got ${parsed.argv.length}`)
        const where = path.resolve(io.cwd, parsed.argv[0] ?? ".")
        const root = f.root !== undefined ? path.resolve(io.cwd, f.root as string) : (gitRoot(where) ?? where)
        const { connectKube } = await import("../../flux/cluster.js")
        const { runDoctor, renderDoctor, doctorFailure } = await import("../../flux/doctor.js")
        const kube = await connectKube(io, { kubeconfig: f.kubeconfig as string | undefined, context: f.context as string | undefined })
        const report = await runDoctor(kube, { namespace: resolveNamespace(f, io.env, (m) => io.stderr.write(`⚠️ ${m}\n`), io.cwd), allNamespaces: f["all-namespaces"] === true, root })
        await writeOut(io, f.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(report))
        const failure = doctorFailure(report)
        if (failure !== undefined) throw failure
        return 0
    },
}
