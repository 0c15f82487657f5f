/**
 * `kubectl sops bootstrap`: the Flux SOPS guide in one idempotent command. Picks (or makes) the decryption key in
 * the agent, puts its private half into the decryption Secret (adding to the entries already there), creates the
 * GitRepository and the Kustomization with `spec.decryption`, writes `.sops.yaml` and the public key into the
 * repository, and prints the next steps. `--export` prints the manifests in flux's `--export` format instead.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs"
import path from "node:path"
import type { KeyInfo } from "../../agent/protocol.js"
import { mergeCreationRule, mergePublicKeyFile, publicKeyFileName, type RuleToAdd } from "../../config/sops-yaml-write.js"
import { ErrorKind, KsopsError, UsageError } from "../../errors.js"
import type { KubeClient } from "../../kube/client.js"
import { clusterFlags, connectOptions, type DryRun, outputFlags, resolveDryRun, resolveNamespace, resolveTimeoutMs } from "../kube-flags.js"
import { type FluxLogger, fluxLogger } from "../../kube/log.js"
import {
    cleanFluxPath,
    decryptionSecret,
    goDuration,
    gitRepository,
    identityKustomizePatch,
    identityObjects,
    kustomization,
    validateName,
} from "../../kube/manifests.js"
import type { IdentityOptions, KubeObject } from "../../kube/types.js"
import { exportManifests, toKubeYaml } from "../../kube/yaml.js"
import { writeFileAtomic, writeOut } from "../io.js"
import type { CommandIo, CommandSpec, ParsedFlags } from "../spec.js"
import { withAgent } from "./agent-support.js"
import { checkMaterial, gitCredentials, mergeEntry, SECRET_ENTRY } from "./create.js"

/** The guide's rule: only `data` and `stringData` are encrypted, so kustomize can read kind and name. */
export const FLUX_ENCRYPTED_REGEX = "^(data|stringData)$"
/** The guide's path rule. */
export const FLUX_PATH_REGEX = ".*.yaml"

type KeyKind = "age" | "pgp" | "vault" | "none"

/** The key the cluster will decrypt with. */
interface ChosenKey {
    kind: KeyKind
    /** age recipient or PGP fingerprint (absent for vault/none). */
    recipient?: string
    /** Agent key id. */
    id?: string
    /** Decryption Secret entries (private key material: never printed unless exported on purpose). */
    entries: Record<string, string>
    /** Public key text for `.sops.pub.*`. */
    publicKey?: string
    /** `.sops.yaml` keys. */
    rule: RuleToAdd
    /** What happened, for the summary. */
    origin: "agent" | "generated" | "token" | "none"
}

const DEFAULT_SECRET: Record<KeyKind, string | undefined> = { age: "sops-age", pgp: "sops-gpg", vault: "sops-hcvault", none: undefined }

function str(flags: ParsedFlags, name: string): string | undefined {
    const v = flags[name]
    return typeof v === "string" && v !== "" ? v : undefined
}

/** The repository root: `--repo`, else the enclosing git work tree of the cwd, else the cwd. */
function repoRoot(io: CommandIo, flag: string | undefined): string {
    if (flag !== undefined) return path.resolve(io.cwd, flag)
    for (let dir = io.cwd; ; dir = path.dirname(dir)) {
        if (existsSync(path.join(dir, ".git"))) return dir
        if (path.dirname(dir) === dir) return io.cwd
    }
}

/** Recipients already listed in the folder's `.sops.yaml` (so a re-run reuses the same key). */
function configuredRecipients(configText: string | undefined): Set<string> {
    const out = new Set<string>()
    if (configText === undefined) return out
    for (const m of configText.matchAll(/\bage1[0-9a-z]{20,}\b/g)) out.add(m[0])
    for (const m of configText.matchAll(/\b[0-9A-Fa-f]{40}\b/g)) out.add(m[0].toUpperCase())
    return out
}

async function chooseAgentKey(io: CommandIo, keyFlag: string, keyName: string, configText: string | undefined, log: FluxLogger): Promise<ChosenKey> {
    const wanted: KeyInfo["type"][] = keyFlag === "pgp" ? ["pgp"] : keyFlag === "age" ? ["age", "age-pq"] : ["age", "age-pq", "pgp"]
    return withAgent(io, { start: true }, async (agent): Promise<ChosenKey> => {
        const keys = await agent.listKeys()
        let key: KeyInfo | undefined
        let origin: ChosenKey["origin"] = "agent"
        if (keyFlag !== "age" && keyFlag !== "pgp") {
            // an explicit key: id, unique id prefix, or name
            const ref = keyFlag.toUpperCase()
            const matches = keys.filter((k) => k.id === keyFlag || k.id.toUpperCase().startsWith(ref) || k.name === keyFlag)
            if (matches.length !== 1) {
                throw new UsageError(
                    matches.length === 0 ? `--key ${keyFlag}: the agent has no such key` : `--key ${keyFlag}: ${matches.length} agent keys match`,
                    { hint: "list them with `kubectl sops keys list`, or pass --key age or --key pgp to make one" },
                )
            }
            key = matches[0]
        } else {
            const configured = configuredRecipients(configText)
            key =
                keys.find((k) => wanted.includes(k.type) && (configured.has(k.recipient) || configured.has(k.id))) ??
                keys.find((k) => wanted.includes(k.type) && k.name === keyName)
            if (key === undefined) {
                log.generate(`generating ${keyFlag === "pgp" ? "PGP (RSA 4096)" : "age"} key "${keyName}" in the agent`)
                key = await agent.generateKey({ type: keyFlag === "pgp" ? "pgp" : "age", name: keyName })
                origin = "generated"
            }
        }
        if (key.protected && !key.unlocked) {
            throw new KsopsError(ErrorKind.CouldNotRetrieveKey, `key ${key.id} is locked`, {
                hint: "unlock it with `kubectl sops agent unlock` (kustomize-controller needs a key without passphrase)",
            })
        }
        const secret = await agent.exportKey(key.id, true)
        const pub = await agent.exportKey(key.id, false)
        if (key.type === "pgp") {
            return { kind: "pgp", recipient: key.recipient, id: key.id, entries: { "sops.asc": secret.text }, publicKey: pub.text, rule: { pgp: [key.recipient] }, origin }
        }
        return { kind: "age", recipient: key.recipient, id: key.id, entries: { "age.agekey": secret.text }, publicKey: key.recipient, rule: { age: [key.recipient] }, origin }
    })
}

function vaultKey(flags: ParsedFlags, env: CommandIo["env"], name: string): ChosenKey {
    const token = str(flags, "vault-token") ?? env.VAULT_TOKEN
    const addr = str(flags, "vault-addr") ?? env.VAULT_ADDR
    if (token === undefined) throw new UsageError("--key vault needs a Vault token", { hint: "pass --vault-token or set VAULT_TOKEN" })
    const uri = str(flags, "vault-key-uri") ?? (addr === undefined ? undefined : `${addr.replace(/\/+$/, "")}/v1/sops/keys/${name}`)
    if (uri === undefined) throw new UsageError("--key vault needs the transit key", { hint: "pass --vault-addr (or VAULT_ADDR) or --vault-key-uri" })
    return { kind: "vault", entries: { "sops.vault-token": token }, rule: { hc_vault_transit_uri: [uri] }, origin: "token" }
}

function identityOptions(flags: ParsedFlags): IdentityOptions | undefined {
    const o: IdentityOptions = {
        ...(str(flags, "aws-role-arn") === undefined ? {} : { awsRoleArn: str(flags, "aws-role-arn") }),
        ...(str(flags, "gcp-service-account") === undefined ? {} : { gcpServiceAccount: str(flags, "gcp-service-account") }),
        ...(str(flags, "azure-client-id") === undefined ? {} : { azureClientId: str(flags, "azure-client-id") }),
        ...(str(flags, "azure-tenant-id") === undefined ? {} : { azureTenantId: str(flags, "azure-tenant-id") }),
        ...(str(flags, "azure-pod-identity") === undefined ? {} : { azurePodIdentity: str(flags, "azure-pod-identity") }),
    }
    if ((o.azureClientId === undefined) !== (o.azureTenantId === undefined)) {
        throw new UsageError("--azure-client-id and --azure-tenant-id go together", { hint: "workload identity needs both annotations" })
    }
    return Object.keys(o).length === 0 ? undefined : o
}

/**
 * The decryption Secret's data after adding the chosen key to what `existing` holds: the controller tries every
 * entry, so nothing is replaced (age identities pooled, PGP keys appended unless present; `create secret`'s rules).
 * The key is first checked the way kustomize-controller imports it.
 */
async function mergedSecretData(existing: KubeObject | undefined, chosen: ChosenKey, ns: string, name: string): Promise<Record<string, Uint8Array>> {
    const data: Record<string, Uint8Array> = {}
    for (const [k, v] of Object.entries((existing?.data as Record<string, string> | undefined) ?? {})) data[k] = Buffer.from(v, "base64")
    if (chosen.kind === "none") return data
    const entry = SECRET_ENTRY[chosen.kind]
    const incoming = Buffer.from(chosen.entries[entry], "utf8")
    const source = chosen.id === undefined ? "--vault-token" : `the agent's key ${chosen.id}`
    const keys = await checkMaterial(chosen.kind, incoming, source, ns, name)
    data[entry] = (await mergeEntry(chosen.kind, data[entry], incoming, keys, ns, name)).bytes
    return data
}

/** What the cluster flags resolve to. */
interface Target {
    namespace: string
    dryRun: DryRun
    output: "yaml" | "json" | undefined
    timeoutMs: number
}

/** Check the cluster before anything is made: reachable, Flux installed, the Secret readable. */
async function preflight(client: KubeClient, ns: string, secretName: string | undefined, name: string): Promise<KubeObject | undefined> {
    const existing = secretName === undefined ? undefined : await client.get("v1", "Secret", ns, secretName)
    // the Flux CRDs must be served (a clear error instead of a 404 on apply)
    await client.get("source.toolkit.fluxcd.io/v1", "GitRepository", ns, name)
    await client.get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", ns, name)
    return existing
}

/** `bootstrap`. */
export const bootstrap: CommandSpec = {
    id: "bootstrap",
    summary: "Set up SOPS decryption for Flux: key, decryption Secret, GitRepository, Kustomization, .sops.yaml",
    description:
        "Does the whole Flux \"Manage Kubernetes secrets with SOPS\" setup in one idempotent command. It uses a key the agent holds (the one PATH/.sops.yaml already names, or the agent key called --key-name, default --name), or makes one: age by default, --key pgp makes the guide's RSA 4096 key. The private key goes into the decryption Secret (sops-age / sops-gpg / sops-hcvault; entry age.agekey, sops.asc or sops.vault-token) in the Kustomization's namespace, added to the entries already there. The GitRepository (source.toolkit.fluxcd.io/v1) and the Kustomization (kustomize.toolkit.fluxcd.io/v1, decryption provider sops) are applied with server-side apply (field manager kubectl-sops), so a re-run changes nothing. In the repository it writes PATH/.sops.yaml (encrypted_regex ^(data|stringData)$ and the key; merged into an existing file) and the public key beside it (.sops.pub.age or .sops.pub.asc). --export prints the GitRepository and Kustomization in flux's --export format instead of applying them (the Secret holds a private key: add --include-secret to print it too). Cloud KMS: --aws-role-arn, --gcp-service-account, --azure-client-id with --azure-tenant-id, or --azure-pod-identity annotate kustomize-controller and restart it; with --export they print the kustomize patch for flux-system/kustomization.yaml.",
    examples: [
        {
            description: "The Flux guide with an age key",
            command: "kubectl sops bootstrap --url https://github.com/my-org/my-secrets --branch main --path ./clusters/cluster0 --name my-secrets --interval 10m --prune",
        },
        { description: "With the guide's PGP key, waiting until the Kustomization is ready", command: "kubectl sops bootstrap --url https://github.com/my-org/my-secrets --key pgp --wait" },
        { description: "Print the Flux objects to commit instead of applying them", command: "kubectl sops bootstrap --url https://github.com/my-org/my-secrets --export > clusters/cluster0/my-secrets.yaml" },
        {
            description: "HashiCorp Vault transit",
            command: 'kubectl sops bootstrap --url https://github.com/my-org/my-secrets --key vault --vault-addr https://vault.example.com:8200 --vault-token "$VAULT_TOKEN"',
        },
        { description: "AWS KMS through IRSA (no key in a Secret)", command: "kubectl sops bootstrap --url https://github.com/my-org/my-secrets --key none --aws-role-arn arn:aws:iam::123456789012:role/flux-sops" },
    ],
    flags: {
        url: { type: "string", summary: "Git repository URL (https://, http:// or ssh://)", helpGroup: "Source" },
        branch: { type: "string", default: "main", summary: "Git branch", helpGroup: "Source" },
        "secret-ref": { type: "string", summary: "Existing Secret with the Git credentials", helpGroup: "Source" },
        username: { type: "string", char: "u", summary: "Basic authentication username for a private https repository", helpGroup: "Source" },
        password: { type: "string", char: "p", summary: "Basic authentication password (a Secret named like the source, as flux makes it)", helpGroup: "Source" },
        "ca-file": { type: "string", summary: "TLS CA certificate for the https repository", helpGroup: "Source" },
        path: { type: "string", default: "./clusters/cluster0", summary: "Path in the repository the Kustomization applies (where .sops.yaml goes)", helpGroup: "Kustomization" },
        name: { type: "string", default: "my-secrets", summary: "Name of the GitRepository and the Kustomization", helpGroup: "Kustomization" },
        interval: { type: "string", default: "10m", summary: "Reconcile interval", helpGroup: "Kustomization" },
        prune: { type: "boolean", summary: "Garbage-collect objects removed from the repository", helpGroup: "Kustomization" },
        wait: { type: "boolean", summary: "Wait until the Kustomization is Ready (or report why it failed)", helpGroup: "Kustomization" },
        key: { type: "string", default: "age", summary: "age, pgp, vault, none (cloud KMS through the controller's identity), or an agent key id or name", helpGroup: "Key" },
        "key-name": { type: "string", summary: "Name of the agent key to use or make (default: --name)", helpGroup: "Key" },
        "secret-name": { type: "string", summary: "Decryption Secret name (default sops-age, sops-gpg or sops-hcvault)", helpGroup: "Key" },
        "include-secret": { type: "boolean", summary: "With --export or -o: also print the decryption Secret (it holds the private key)", helpGroup: "Key" },
        "vault-addr": { type: "string", env: "VAULT_ADDR", summary: "Vault address, for --key vault", helpGroup: "Key" },
        "vault-token": { type: "string", summary: "Vault token for the sops-hcvault Secret (default: $VAULT_TOKEN)", helpGroup: "Key" },
        "vault-key-uri": { type: "string", summary: "Transit key URI for .sops.yaml (default: VAULT_ADDR/v1/sops/keys/NAME)", helpGroup: "Key" },
        "aws-role-arn": { type: "string", summary: "AWS KMS: IRSA role ARN for kustomize-controller", helpGroup: "Cloud KMS" },
        "gcp-service-account": { type: "string", summary: "GCP KMS: GKE workload identity service account", helpGroup: "Cloud KMS" },
        "azure-client-id": { type: "string", summary: "Azure Key Vault: workload identity client id", helpGroup: "Cloud KMS" },
        "azure-tenant-id": { type: "string", summary: "Azure Key Vault: workload identity tenant id", helpGroup: "Cloud KMS" },
        "azure-pod-identity": { type: "string", summary: "Azure Key Vault: legacy AAD pod identity binding (aadpodidbinding)", helpGroup: "Cloud KMS" },
        repo: { type: "string", summary: "Repository folder for .sops.yaml (default: the git work tree of the cwd, else the cwd)" },
        "no-repo-files": { type: "boolean", summary: "Do not write .sops.yaml and the public key" },
        ...clusterFlags,
        ...outputFlags,
    },
    args: [],
    async run(parsed, io) {
        const f = parsed.flags
        const log = fluxLogger(io.stderr)
        const t: Target = {
            namespace: resolveNamespace(f, io.env, (m) => log.warning(m), io.cwd),
            dryRun: resolveDryRun(f),
            output: f.output as Target["output"],
            timeoutMs: resolveTimeoutMs(f),
        }
        const url = str(f, "url")
        if (url === undefined) throw new UsageError("--url is required", { hint: "the Git repository Flux reads, e.g. --url https://github.com/my-org/my-secrets" })
        const name = validateName(str(f, "name") ?? "my-secrets")
        const interval = goDuration(str(f, "interval") ?? "10m", "interval")
        const fluxPath = cleanFluxPath(str(f, "path") ?? "./clusters/cluster0")
        const keyFlag = str(f, "key") ?? "age"
        const identity = identityOptions(f)
        if (keyFlag === "none" && identity === undefined) {
            throw new UsageError("--key none needs a cloud identity", { hint: "pass --aws-role-arn, --gcp-service-account, or --azure-client-id with --azure-tenant-id" })
        }
        const keyKind: KeyKind = keyFlag === "vault" || keyFlag === "none" || keyFlag === "pgp" ? keyFlag : "age"
        const secretName = keyFlag === "none" ? undefined : validateName(str(f, "secret-name") ?? DEFAULT_SECRET[keyKind] ?? "sops-age")
        // the objects (validated before anything else happens)
        const source = gitRepository({ name, namespace: t.namespace, url, branch: str(f, "branch") ?? "main", interval, ...(str(f, "secret-ref") === undefined ? {} : { secretRef: str(f, "secret-ref") }) })
        const ks = kustomization({
            name,
            namespace: t.namespace,
            source: `GitRepository/${name}`,
            path: fluxPath,
            prune: f.prune === true,
            interval,
            decryptionProvider: "sops",
            ...(secretName === undefined ? {} : { decryptionSecret: secretName }),
        })
        const live = f.export !== true && t.dryRun !== "client"
        // a private https repository: flux's credentials Secret, named like the source (not exported, like flux)
        const credentials = await gitCredentials({ io, flags: f, namespace: t.namespace, labels: {} }, name, url)
        if (credentials !== undefined && str(f, "secret-ref") !== undefined) throw new UsageError("use --secret-ref or --username/--password, not both")
        if (credentials !== undefined && live) (source.spec as Record<string, unknown>).secretRef = { name }

        // 1. the cluster first: reachable, Flux installed, the Secret readable (before a key is made or a file written)
        let client: KubeClient | undefined
        let existingSecret: KubeObject | undefined
        if (live) {
            const { connect } = await import("../../kube/client.js")
            client = await connect({ ...connectOptions(f, io.env), cwd: io.cwd })
            existingSecret = await preflight(client, t.namespace, secretName, name)
        }

        // 2. the key
        const root = repoRoot(io, str(f, "repo"))
        const configDir = path.join(root, fluxPath)
        const configFile = path.join(configDir, ".sops.yaml")
        const configText = existsSync(configFile) ? readFileSync(configFile, "utf8") : undefined
        let chosen: ChosenKey
        if (keyFlag === "vault") chosen = vaultKey(f, io.env, name)
        else if (keyFlag === "none") chosen = { kind: "none", entries: {}, rule: {}, origin: "none" }
        else chosen = await chooseAgentKey(io, keyFlag, str(f, "key-name") ?? name, configText, log)

        // 3. the repository files
        const repoChanges = t.dryRun === "none" && f["no-repo-files"] !== true ? await writeRepoFiles(io, log, chosen, configDir, configFile, configText) : []

        // 4a. export / client dry run: print, apply nothing
        if (!live) {
            const objects: KubeObject[] = []
            const secret = secretName === undefined ? undefined : decryptionSecret({ name: secretName, namespace: t.namespace, entries: chosen.entries })
            if (secret !== undefined && f["include-secret"] === true) {
                objects.push(secret)
                log.warning(`the ${secretName} Secret holds ${chosen.kind === "vault" ? "a Vault token" : "a private key"}: do not commit it unencrypted`)
            }
            objects.push(source, ks)
            if (f.export === true && t.output === undefined) {
                let text = exportManifests(objects)
                if (identity !== undefined) text += `---\n${toKubeYaml(identityKustomizePatch(identity)).trim()}\n`
                await writeOut(io, text)
            } else await printObjects(io, t.output, [...objects, ...(identity === undefined ? [] : identityObjects(identity))])
            if (secret !== undefined && f["include-secret"] !== true) {
                const from = chosen.id === undefined ? "" : ` --from-agent ${chosen.id}`
                const holds = chosen.kind === "vault" ? "the Vault token" : "the private key"
                log.action(`not printed: the ${secretName} Secret (it holds ${holds}); create it with \`kubectl sops create secret ${chosen.kind} ${secretName} -n ${t.namespace}${from}\``)
            }
            nextSteps(io, log, repoChanges, name)
            return 0
        }

        // 4b. apply (server-side apply, field manager kubectl-sops)
        const c = client as KubeClient
        const dry = t.dryRun === "server"
        const suffix = dry ? " (server dry run)" : ""
        const applied: KubeObject[] = []
        const apply = async (obj: KubeObject, what = `${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}`, force = false) => {
            log.action(`applying ${what}`)
            const r = await c.apply(obj, { dryRun: dry, ...(force ? { force } : {}) })
            log.success(`${what} ${r.action}${suffix}`)
            applied.push(r.object)
            return r
        }
        if (secretName !== undefined) {
            // the entries were read just now and only added to: taking over an entry another tool wrote
            // (`kubectl create secret`) is intended, so the apply is forced
            const entries = await mergedSecretData(existingSecret, chosen, t.namespace, secretName)
            await apply(decryptionSecret({ name: secretName, namespace: t.namespace, entries }), undefined, true)
        }
        if (credentials !== undefined) await apply(credentials)
        await apply(source)
        await apply(ks)
        if (identity !== undefined) {
            let changed = false
            for (const obj of identityObjects(identity)) changed = (await apply(obj, `${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name} (cloud identity)`)).action !== "unchanged" || changed
            if (changed && !dry) {
                const at = new Date().toISOString().replace(/\.\d+Z$/, "Z")
                const patch = { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": at } } } } }
                await c.patch("apps/v1", "Deployment", "flux-system", "kustomize-controller", patch, "strategic")
                log.success("deployment flux-system/kustomize-controller restarted")
            }
        }
        if (t.output !== undefined) await printObjects(io, t.output, applied.filter((o) => o.kind !== "Secret" || f["include-secret"] === true))
        if (f.wait === true && !dry) {
            const { waitReady } = await import("../../kube/wait.js")
            log.waiting("waiting for Kustomization reconciliation")
            const r = await waitReady(c, { apiVersion: ks.apiVersion, kind: ks.kind, namespace: t.namespace, name }, { timeoutMs: t.timeoutMs, progress: (m) => log.waiting(m) })
            log.success(`Kustomization ${name} is ready`)
            if (r.revision !== undefined) log.success(`applied revision ${r.revision}`)
        }
        nextSteps(io, log, repoChanges, name)
        return 0
    },
}

async function writeRepoFiles(io: CommandIo, log: FluxLogger, chosen: ChosenKey, configDir: string, configFile: string, configText: string | undefined): Promise<string[]> {
    const changes: string[] = []
    if (chosen.kind === "none") return changes
    const rel = (p: string) => path.relative(io.cwd, p) || path.basename(p)
    const merged = mergeCreationRule(configText, { path_regex: FLUX_PATH_REGEX, encrypted_regex: FLUX_ENCRYPTED_REGEX, ...chosen.rule })
    mkdirSync(configDir, { recursive: true })
    if (merged.changed) {
        await writeFileAtomic(configFile, Buffer.from(merged.text), { mode: 0o644 })
        changes.push(rel(configFile))
        log.generate(`${configText === undefined ? "wrote" : "updated"} ${rel(configFile)}`)
    }
    if (merged.note !== undefined) log.warning(merged.note)
    if (chosen.publicKey !== undefined && (chosen.kind === "age" || chosen.kind === "pgp")) {
        const pubFile = path.join(configDir, publicKeyFileName(chosen.kind))
        const old = existsSync(pubFile) ? readFileSync(pubFile, "utf8") : undefined
        const next = mergePublicKeyFile(old, chosen.publicKey, chosen.kind)
        if (next.changed) {
            await writeFileAtomic(pubFile, Buffer.from(next.text), { mode: 0o644 })
            changes.push(rel(pubFile))
            log.generate(`${old === undefined ? "wrote" : "updated"} ${rel(pubFile)}`)
        }
    }
    return changes
}

async function printObjects(io: CommandIo, output: "yaml" | "json" | undefined, objects: KubeObject[]): Promise<void> {
    if (output === "json") {
        const body = objects.length === 1 ? objects[0] : { apiVersion: "v1", kind: "List", items: objects, metadata: { resourceVersion: "" } }
        await writeOut(io, `${JSON.stringify(body, null, 4)}\n`)
    } else await writeOut(io, objects.map((o) => `---\n${toKubeYaml(o)}`).join(""))
}

function nextSteps(io: CommandIo, log: FluxLogger, files: string[], name: string): void {
    if (files.length === 0) return
    log.action("next steps: commit the SOPS configuration, then add encrypted Secrets next to it")
    const dir = path.dirname(files[0])
    io.stderr.write(
        [
            `  git add ${files.join(" ")}`,
            `  git commit -m "Add SOPS configuration for ${name}" && git push`,
            `  kubectl sops create generic basic-auth --from-literal=user=admin --from-literal=password=change-me --output ${path.join(dir, "basic-auth.yaml")}`,
            "",
        ].join("\n"),
    )
}
