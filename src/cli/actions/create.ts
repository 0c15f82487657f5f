/**
 * `kubectl sops create secret|source git|kustomization`: the cluster side of the Flux SOPS guide (spec §9).
 *
 * The objects are built exactly as `kubectl create secret generic` and `flux create … --export` build them
 * (`src/kube/manifests.ts`). `--export` and `--dry-run=client` print them without loading the Kubernetes client;
 * otherwise they are server-side applied with the field manager `kubectl-sops`, with flux-style progress on stderr,
 * and `--wait` waits until Flux reports the object ready (a failure is reported as soon as Flux reports it).
 *
 * The decryption Secret is additive: a key is added to the entries already there (age identities are pooled in
 * `age.agekey`, armored PGP keys are appended to `sops.asc`), so one Secret can hold the keys of several clusters
 * or a rotation's old and new keys. Key material is checked the way kustomize-controller imports it before it is
 * applied, and it is printed only with `--export` or `-o`.
 */
import { readFileSync } from "node:fs"
import path from "node:path"
import { ErrorKind, KsopsError, UsageError } from "../../errors.js"
import type { ImportedKeys } from "../../flux/keys.js"
import type { KubeClient } from "../../kube/client.js"
import {
    clusterFlags,
    connectOptions,
    type DryRun,
    labelFlag,
    outputFlags,
    resolveDryRun,
    resolveLabels,
    resolveNamespace,
    resolveTimeoutMs,
} from "../kube-flags.js"
import { type FluxLogger, fluxLogger } from "../../kube/log.js"
import { decryptionSecret, gitRepository, kustomization, validateName } from "../../kube/manifests.js"
import type { KubeObject } from "../../kube/types.js"
import { exportManifests, toKubeYaml } from "../../kube/yaml.js"
import { writeOut } from "../io.js"
import type { CommandIo, CommandSpec, FlagSpec, Parsed, ParsedFlags } from "../spec.js"

// ---------------------------------------------------------------------------------------------------------
// shared

/** What every create command resolves from its flags before building anything. */
interface Context {
    io: CommandIo
    flags: ParsedFlags
    namespace: string
    labels: Record<string, string>
    dryRun: DryRun
    export: boolean
    output: "yaml" | "json" | undefined
    log: FluxLogger
}

function context(parsed: Parsed, io: CommandIo): Context {
    const f = parsed.flags
    const log = fluxLogger(io.stderr)
    const exp = f.export === true
    const output = f.output as "yaml" | "json" | undefined
    if (exp && output !== undefined) throw new UsageError("--export prints YAML manifests; it cannot be combined with -o/--output")
    return {
        io,
        flags: f,
        namespace: resolveNamespace(f, io.env, (m) => log.warning(m), io.cwd),
        labels: resolveLabels(f),
        dryRun: resolveDryRun(f),
        export: exp,
        output,
        log,
    }
}

/** Go `strconv.ParseBool` for flags written `--flag=true` (flux's bool flags). */
function goBool(value: string | undefined, flag: string): boolean | undefined {
    if (value === undefined) return undefined
    if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true
    if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false
    throw new UsageError(`invalid argument "${value}" for "--${flag}" flag: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`)
}

function str(f: ParsedFlags, name: string): string | undefined {
    return f[name] as string | undefined
}

function list(f: ParsedFlags, name: string): string[] | undefined {
    return f[name] as string[] | undefined
}

/** `secret/x`, `gitrepository.source.toolkit.fluxcd.io/x`: kubectl's resource/name. */
function kubectlName(obj: KubeObject): string {
    const group = obj.apiVersion.includes("/") ? `.${obj.apiVersion.split("/")[0]}` : ""
    return `${obj.kind.toLowerCase()}${group}/${obj.metadata.name}`
}

/** `-o yaml|json` like kubectl: managedFields left out. */
function formatObject(obj: KubeObject, output: "yaml" | "json"): string {
    const { managedFields: _, ...metadata } = obj.metadata
    const shown = { ...obj, metadata }
    return output === "json" ? `${JSON.stringify(shown, null, 4)}\n` : toKubeYaml(shown)
}

async function connectCluster(c: Context): Promise<KubeClient> {
    const { connect } = await import("../../kube/client.js")
    return connect({ ...connectOptions(c.flags, c.io.env), cwd: c.io.cwd })
}

/**
 * Print (--export, --dry-run=client) or apply one object; `what` is flux's name for it ("GitRepository source").
 * @returns the client when the object was applied (for waiting), else undefined
 */
async function deliver(
    c: Context,
    obj: KubeObject,
    what: string,
    o: { secret?: boolean; client?: KubeClient; force?: boolean } = {},
): Promise<{ client: KubeClient; applied: KubeObject } | undefined> {
    const secretWarning = () =>
        c.io.stderr.write(
            "warning: the output contains a private key: do not commit it unencrypted (encrypt it with `kubectl sops encrypt`) and keep it out of logs\n",
        )
    if (c.export) {
        if (o.secret) secretWarning()
        await writeOut(c.io, exportManifests([obj]))
        return undefined
    }
    if (c.dryRun === "client") {
        if (c.output !== undefined) {
            if (o.secret) secretWarning()
            await writeOut(c.io, formatObject(obj, c.output))
        } else await writeOut(c.io, `${kubectlName(obj)} created (dry run)\n`)
        return undefined
    }
    const client = o.client ?? (await connectCluster(c))
    const server = c.dryRun === "server"
    c.log.action(`applying ${what}${server ? " (server dry run)" : ""}`)
    const r = await client.apply(obj, { dryRun: server, ...(o.force ? { force: true } : {}) })
    c.log.success(`${what} ${r.action}${server ? " (server dry run)" : ""}`)
    if (c.output !== undefined) {
        if (o.secret) secretWarning()
        await writeOut(c.io, formatObject(r.object, c.output))
    }
    return server ? undefined : { client, applied: r.object }
}

async function waitFor(c: Context, client: KubeClient, obj: KubeObject, what: string): Promise<string | undefined> {
    const { waitReady } = await import("../../kube/wait.js")
    c.log.waiting(`waiting for ${what} reconciliation`)
    const intervalMs = Number(c.io.env.KUBECTL_SOPS_POLL_INTERVAL_MS ?? "2000")
    const r = await waitReady(
        client,
        { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace ?? c.namespace, name: obj.metadata.name },
        { timeoutMs: resolveTimeoutMs(c.flags), intervalMs: Number.isFinite(intervalMs) && intervalMs > 0 ? intervalMs : 2000 },
    )
    return r.revision
}

const commonFlags = { ...labelFlag, ...outputFlags, ...clusterFlags } as const satisfies Record<string, FlagSpec>

// ---------------------------------------------------------------------------------------------------------
// create secret

const SECRET_TYPES = ["age", "pgp", "vault"] as const
/** The decryption Secret types. */
export type SecretType = (typeof SECRET_TYPES)[number]

/** The entry kustomize-controller reads for each type (§4). */
export const SECRET_ENTRY: Readonly<Record<SecretType, string>> = { age: "age.agekey", pgp: "sops.asc", vault: "sops.vault-token" }

async function readKeyFile(io: CommandIo, file: string): Promise<Uint8Array> {
    if (file === "-") {
        const chunks: Buffer[] = []
        for await (const ch of io.stdin) chunks.push(typeof ch === "string" ? Buffer.from(ch) : ch)
        return Buffer.concat(chunks)
    }
    try {
        return readFileSync(path.resolve(io.cwd, file))
    } catch (e) {
        const code = (e as { code?: string }).code
        throw new KsopsError(ErrorKind.CouldNotReadInputFile, `cannot read ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`)
    }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function oneLine(text: string): string {
    return text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "")
        .join("; ")
}

/** The new key material for the entry, from the agent, a file or the Vault token. */
async function keyMaterial(c: Context, type: SecretType): Promise<{ bytes: Uint8Array; source: string }> {
    const f = c.flags
    const fromAgent = str(f, "from-agent")
    const fromFile = str(f, "from-file")
    const token = str(f, "vault-token")
    if (fromAgent !== undefined && fromFile !== undefined) throw new UsageError("use --from-agent or --from-file, not both")
    if (type === "vault") {
        if (fromAgent !== undefined) throw new UsageError("--from-agent holds age and PGP keys; give the Vault token with --vault-token, VAULT_TOKEN or --from-file")
        if (fromFile !== undefined) return { bytes: await readKeyFile(c.io, fromFile), source: fromFile === "-" ? "stdin" : fromFile }
        if (token !== undefined && token !== "") return { bytes: encoder.encode(token), source: f["vault-token"] === c.io.env.VAULT_TOKEN ? "VAULT_TOKEN" : "--vault-token" }
        throw new UsageError("a Vault token is required", { hint: "use --vault-token, the VAULT_TOKEN environment variable or --from-file FILE" })
    }
    if (fromFile !== undefined) return { bytes: await readKeyFile(c.io, fromFile), source: fromFile === "-" ? "stdin" : fromFile }
    if (fromAgent === undefined || fromAgent === "") {
        throw new UsageError(`the ${type === "age" ? "age identity" : "PGP secret key"} is required: use --from-agent KEY-ID or --from-file FILE`, {
            hint: "`kubectl sops keys list` shows the agent's keys",
        })
    }
    const { withAgent } = await import("./agent-support.js")
    const key = await withAgent(c.io, { start: true }, (client) => client.exportKey(fromAgent, true))
    const isAge = key.type === "age" || key.type === "age-pq"
    if (isAge !== (type === "age")) {
        throw new UsageError(`the agent's key ${fromAgent} is a ${key.type} key, not ${type === "age" ? "an age" : "a PGP"} key`, {
            hint: `use \`kubectl sops create secret ${isAge ? "age" : "pgp"} …\``,
        })
    }
    return { bytes: encoder.encode(key.text.endsWith("\n") ? key.text : `${key.text}\n`), source: `the agent's key ${key.id}` }
}

/** Check the material the way kustomize-controller will import it; @returns the parsed keys */
export async function checkMaterial(type: SecretType, bytes: Uint8Array, source: string, ns: string, name: string): Promise<ImportedKeys> {
    const { importKeys } = await import("../../flux/keys.js")
    const entry = SECRET_ENTRY[type]
    const r = await importKeys({ [entry]: bytes }, { namespace: ns, name })
    const refuse = (why: string, hint?: string) =>
        new UsageError(`${source}: ${why}`, { kind: ErrorKind.Usage, ...(hint === undefined ? {} : { hint }) })
    if (type === "vault") {
        if (decoder.decode(bytes).trim() === "") throw refuse("the Vault token is empty")
        return r
    }
    if (r.error !== undefined) {
        const cause = oneLine(r.error.replace(/^failed to import '[^']*' data from sops decryption Secret '[^']*': /, ""))
        throw refuse(`kustomize-controller could not import this key: ${cause}`, type === "age" ? "give an age identity file (AGE-SECRET-KEY-1… lines)" : "give an armored PGP secret key")
    }
    if (type === "age") {
        if (r.age.length === 0) throw refuse("no age identity found (expected AGE-SECRET-KEY-1… lines)")
        if (r.age.some((k) => k.type === "plugin")) {
            throw refuse("age plugin identities cannot be used: the kustomize-controller image has no age plugins")
        }
        return r
    }
    if (r.pgp.length === 0) throw refuse("no PGP key found")
    const unusable = r.pgp.find((k) => k.publicOnly || k.protected)
    if (unusable !== undefined) {
        throw unusable.publicOnly
            ? refuse(`PGP key ${unusable.fingerprint} has no secret key material (a public key cannot decrypt)`, "export the secret key: gpg --export-secret-keys --armor FINGERPRINT")
            : refuse(
                  `PGP key ${unusable.fingerprint} is passphrase-protected: kustomize-controller runs gpg without a pinentry and cannot use it`,
                  "use a key without a passphrase (the Flux guide generates one with %no-protection)",
              )
    }
    return r
}

/** Identity lines of an age identity file, each with the comment lines just before it. */
function ageBlocks(text: string): { identity: string; block: string[] }[] {
    const out: { identity: string; block: string[] }[] = []
    let pending: string[] = []
    for (const raw of text.split("\n")) {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
        if (line === "") continue
        if (line.startsWith("#")) pending.push(line)
        else {
            out.push({ identity: line, block: [...pending, line] })
            pending = []
        }
    }
    return out
}

/**
 * Merge the new material into the existing entry: age identities pooled (a line already there is not repeated),
 * PGP keys appended unless their fingerprints are already there, the Vault token replaced.
 * @returns the entry's new bytes and a note for the progress output
 */
export async function mergeEntry(
    type: SecretType,
    existing: Uint8Array | undefined,
    incoming: Uint8Array,
    keys: ImportedKeys,
    ns: string,
    name: string,
): Promise<{ bytes: Uint8Array; note: string; changed: boolean }> {
    const entry = SECRET_ENTRY[type]
    if (existing === undefined || existing.length === 0) return { bytes: incoming, note: `${entry} created`, changed: true }
    if (type === "vault") {
        const same = Buffer.compare(Buffer.from(existing), Buffer.from(incoming)) === 0
        return { bytes: incoming, note: same ? `${entry} already holds this token` : `${entry} replaced (one token per Secret)`, changed: !same }
    }
    const oldText = decoder.decode(existing)
    const sep = oldText.endsWith("\n") ? "" : "\n"
    if (type === "age") {
        const have = new Set(ageBlocks(oldText).map((b) => b.identity))
        const add = ageBlocks(decoder.decode(incoming)).filter((b) => !have.has(b.identity))
        if (add.length === 0) return { bytes: existing, note: `${entry} already holds this identity`, changed: false }
        const merged = `${oldText}${sep}${add.flatMap((b) => b.block).join("\n")}\n`
        return { bytes: encoder.encode(merged), note: `${entry}: added ${add.length} age identit${add.length === 1 ? "y" : "ies"} to the ${have.size} already there`, changed: true }
    }
    const { importKeys } = await import("../../flux/keys.js")
    const old = await importKeys({ [entry]: existing }, { namespace: ns, name })
    const have = new Set(old.pgp.filter((k) => !k.publicOnly).map((k) => k.fingerprint))
    const missing = keys.pgp.filter((k) => !have.has(k.fingerprint))
    if (missing.length === 0) return { bytes: existing, note: `${entry} already holds PGP key ${keys.pgp.map((k) => k.fingerprint).join(", ")}`, changed: false }
    const merged = `${oldText}${sep}${decoder.decode(incoming)}`
    return {
        bytes: encoder.encode(merged.endsWith("\n") ? merged : `${merged}\n`),
        note: `${entry}: added PGP key ${missing.map((k) => k.fingerprint).join(", ")} to the ${have.size} already there`,
        changed: true,
    }
}

/** `kubectl sops create secret`. */
export const createSecret: CommandSpec = {
    id: "create secret",
    summary: "Create or add to a decryption Secret for kustomize-controller",
    description:
        "Puts a private key where kustomize-controller looks for it (the Flux guide's `kubectl create secret generic sops-… --from-file=…`): age identities in the entry age.agekey, armored PGP secret keys in sops.asc, a Vault token in sops.vault-token. The key comes from the agent (--from-agent, by id, recipient, fingerprint or unique prefix) or a file (--from-file, - for stdin). The Secret is additive: when it exists the key is added to the entries already there (age identities pooled, PGP keys appended unless already present; other entries kept), so it can hold several keys; --replace replaces the entry instead. The key is checked as the controller imports it (a passphrase-protected PGP key or a malformed age line is refused). --export prints the Secret instead (it contains the private key).",
    examples: [
        { description: "Give the cluster the agent's age key", command: "kubectl sops create secret age sops-age --from-agent age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u" },
        { description: "Add a second cluster key to the same Secret", command: "kubectl sops create secret age sops-age --from-file ./cluster1.agekey" },
        { description: "A PGP key from GnuPG, as in the Flux guide", command: 'gpg --export-secret-keys --armor "$KEY_FP" | kubectl sops create secret pgp sops-gpg --from-file -' },
        { description: "A Vault token", command: "VAULT_TOKEN=… kubectl sops create secret vault sops-hcvault" },
    ],
    flags: {
        "from-agent": { type: "string", summary: "Key id in the agent (age recipient, PGP fingerprint or a unique prefix)" },
        "from-file": { type: "string", summary: "Key file: age identity file, armored PGP secret key(s) or Vault token; - for stdin" },
        "vault-token": { type: "string", env: "VAULT_TOKEN", summary: "Vault token (vault type)" },
        add: { type: "boolean", summary: "Add to the existing entry (the default; accepted for clarity)" },
        replace: { type: "boolean", summary: "Replace the entry instead of adding to it" },
        ...commonFlags,
    },
    args: [
        { name: "type", summary: "age, pgp or vault", required: true, options: SECRET_TYPES },
        { name: "name", summary: "Secret name (for example sops-age)", required: true },
    ],
    async run(parsed, io) {
        const type = parsed.argv[0] as SecretType
        const name = validateName(parsed.argv[1])
        if (parsed.flags.add === true && parsed.flags.replace === true) throw new UsageError("use --add or --replace, not both")
        const c = context(parsed, io)
        const entry = SECRET_ENTRY[type]
        const { bytes, source } = await keyMaterial(c, type)
        const keys = await checkMaterial(type, bytes, source, c.namespace, name)
        const build = (data: Record<string, Uint8Array>) =>
            decryptionSecret({ name, namespace: c.namespace, entries: data, ...(Object.keys(c.labels).length > 0 ? { labels: c.labels } : {}) })
        if (c.export || c.dryRun === "client") {
            if (!c.export) c.log.generate(`generating Secret ${name} (${entry})`)
            await deliver(c, build({ [entry]: bytes }), "Secret", { secret: true })
            return 0
        }
        c.log.generate(`generating Secret ${c.namespace}/${name} (${entry} from ${source})`)
        const client = await connectCluster(c)
        const existing = await client.get("v1", "Secret", c.namespace, name)
        const data: Record<string, Uint8Array> = {}
        for (const [k, v] of Object.entries((existing?.data as Record<string, string> | undefined) ?? {})) data[k] = Buffer.from(v, "base64")
        if (parsed.flags.replace === true) {
            data[entry] = bytes
            if (existing !== undefined) c.log.action(`${entry} replaced`)
        } else {
            const merged = await mergeEntry(type, data[entry], bytes, keys, c.namespace, name)
            data[entry] = merged.bytes
            if (existing !== undefined) c.log.action(merged.note)
        }
        const obj = build(data)
        if (existing !== undefined && typeof existing.type === "string") obj.type = existing.type
        // the entries were read just now: taking over fields another tool wrote (kubectl create secret) is intended
        await deliver(c, obj, `Secret ${c.namespace}/${name}`, { secret: true, client, force: true })
        return 0
    },
}

// ---------------------------------------------------------------------------------------------------------
// create source git

const waitFlag = {
    wait: { type: "boolean", summary: "Wait until Flux reports the object ready (failures are reported as soon as Flux reports them)" },
} as const satisfies Record<string, FlagSpec>

/**
 * The credentials Secret `flux create source git` makes from `--username`/`--password` (and `--ca-file`) for an
 * http(s) URL: `stringData` username, password, ca.crt. @returns undefined without credentials
 */
export async function gitCredentials(
    c: Pick<Context, "io" | "flags" | "namespace" | "labels">,
    name: string,
    url: string,
): Promise<KubeObject | undefined> {
    const f = c.flags
    const username = str(f, "username")
    const password = str(f, "password")
    const caFile = str(f, "ca-file")
    if (username === undefined && password === undefined && caFile === undefined) return undefined
    if (!/^https?:\/\//i.test(url)) throw new UsageError("--username, --password and --ca-file are for http(s) URLs", { hint: "for ssh, create the Secret (identity, known_hosts) and pass --secret-ref" })
    if ((username === undefined) !== (password === undefined)) throw new UsageError("--username and --password go together")
    const stringData: Record<string, string> = {}
    if (username !== undefined && password !== undefined) Object.assign(stringData, { username, password })
    if (caFile !== undefined) stringData["ca.crt"] = decoder.decode(await readKeyFile(c.io, caFile))
    const metadata: KubeObject["metadata"] = { name, namespace: c.namespace }
    if (Object.keys(c.labels).length > 0) metadata.labels = { ...c.labels }
    return { apiVersion: "v1", kind: "Secret", metadata, stringData }
}

/** `kubectl sops create source git`. */
export const createSourceGit: CommandSpec = {
    id: "create source git",
    summary: "Create or update a Flux GitRepository source",
    description:
        "Builds the GitRepository exactly as `flux create source git` does (same flags, defaults, validation and --export output) and applies it with server-side apply. For a private https repository, --username and --password (and --ca-file) make the credentials Secret flux makes: named like the source, stringData username/password (ca.crt), referenced by spec.secretRef; like flux, --export prints no Secret. SSH keys are not generated: reference an existing Secret with --secret-ref. --wait waits for the first artifact.",
    examples: [
        { description: "The Flux guide's source, exported", command: "kubectl sops create source git my-secrets --url=https://github.com/my-org/my-secrets --branch=main --export" },
        { description: "Apply it and wait for the first fetch", command: "kubectl sops create source git my-secrets --url=https://github.com/my-org/my-secrets --branch=main --wait" },
    ],
    flags: {
        url: { type: "string", summary: "Git address, e.g. ssh://git@host/org/repository" },
        branch: { type: "string", summary: "Git branch" },
        tag: { type: "string", summary: "Git tag" },
        "tag-semver": { type: "string", summary: "Git tag semver range" },
        "ref-name": { type: "string", summary: "Git reference name" },
        commit: { type: "string", summary: "Git commit" },
        interval: { type: "string", default: "1m", summary: "Source sync interval" },
        "secret-ref": { type: "string", summary: "Name of an existing Secret with SSH or basic credentials" },
        username: { type: "string", char: "u", summary: "Basic authentication username (https)" },
        password: { type: "string", char: "p", summary: "Basic authentication password (https)" },
        "ca-file": { type: "string", summary: "TLS CA certificate file for https (goes into the credentials Secret as ca.crt)" },
        "proxy-secret-ref": { type: "string", summary: "Name of an existing Secret with the proxy address and credentials" },
        provider: { type: "string", summary: "Git provider: generic, github, aws or azure" },
        "recurse-submodules": { type: "boolean", summary: "Include Git submodules in the artifact" },
        "ignore-paths": { type: "string", multiple: true, summary: "Paths to ignore (repeatable or comma-separated); replaces the default exclusions" },
        "sparse-checkout-paths": { type: "string", multiple: true, summary: "Paths to check out (repeatable or comma-separated)" },
        "fetch-timeout": { type: "string", summary: "Timeout of Git operations (0: the controller default)" },
        ...waitFlag,
        ...commonFlags,
    },
    args: [{ name: "name", summary: "GitRepository name", required: true }],
    async run(parsed, io) {
        const name = validateName(parsed.argv[0])
        const c = context(parsed, io)
        const f = parsed.flags
        const opt = <K extends string>(key: K, flag: string) => (str(f, flag) === undefined ? {} : ({ [key]: str(f, flag) } as Record<K, string>))
        const obj = gitRepository({
            name,
            namespace: c.namespace,
            url: str(f, "url") ?? "",
            ...opt("branch", "branch"),
            ...opt("tag", "tag"),
            ...opt("semver", "tag-semver"),
            ...opt("refName", "ref-name"),
            ...opt("commit", "commit"),
            ...opt("interval", "interval"),
            ...opt("secretRef", "secret-ref"),
            ...opt("proxySecretRef", "proxy-secret-ref"),
            ...opt("provider", "provider"),
            ...opt("fetchTimeout", "fetch-timeout"),
            ...(f["recurse-submodules"] === true ? { recurseSubmodules: true } : {}),
            ...(list(f, "ignore-paths") === undefined ? {} : { ignorePaths: list(f, "ignore-paths") }),
            ...(list(f, "sparse-checkout-paths") === undefined ? {} : { sparseCheckoutPaths: list(f, "sparse-checkout-paths") }),
            labels: c.labels,
        })
        const credentials = await gitCredentials(c, name, str(f, "url") ?? "")
        if (credentials !== undefined && !c.export && c.dryRun !== "client") {
            // flux: the Secret carries the source's name and the GitRepository references it
            if (str(f, "secret-ref") !== undefined) throw new UsageError("use --secret-ref or --username/--password, not both")
            c.log.generate("generating basic authentication Secret")
            await deliver(c, credentials, `Secret ${c.namespace}/${name}`, { secret: true })
            ;(obj.spec as Record<string, unknown>).secretRef = { name }
        }
        if (!c.export) c.log.generate("generating GitRepository source")
        const done = await deliver(c, obj, "GitRepository source")
        if (done !== undefined && f.wait === true) {
            const revision = await waitFor(c, done.client, obj, "GitRepository source")
            c.log.success("GitRepository source reconciliation completed")
            if (revision === undefined) throw new KsopsError(ErrorKind.ReconcileFailed, "GitRepository source reconciliation completed but no artifact was found")
            c.log.success(`fetched revision: ${revision}`)
        }
        return 0
    },
}

// ---------------------------------------------------------------------------------------------------------
// create kustomization

/** `kubectl sops create kustomization` (alias `create ks`). */
export const createKustomization: CommandSpec = {
    id: "create kustomization",
    aliases: ["create ks"],
    summary: "Create or update a Flux Kustomization with SOPS decryption",
    description:
        "Builds the Kustomization exactly as `flux create kustomization` does (same flags, defaults, validation and --export output: --path cleaned, prune always written, --decryption-secret used only with --decryption-provider=sops) and applies it with server-side apply. For KMS through the controller's identity leave out --decryption-secret. --health-check adds spec.healthChecks (Deployment, DaemonSet, StatefulSet or HelmRelease, <kind>/<name>.<namespace>) and spec.timeout, unless --wait is given. --wait sets spec.wait (health checks, --health-check-timeout) and waits until the Kustomization is ready, reporting a decryption or build failure as soon as Flux reports it.",
    examples: [
        {
            description: "The Flux guide's Kustomization, exported",
            command:
                "kubectl sops create kustomization my-secrets --source=my-secrets --path=./clusters/cluster0 --prune=true --interval=10m --decryption-provider=sops --decryption-secret=sops-gpg --export",
        },
        {
            description: "Apply it and wait until the secrets are decrypted and applied",
            command: "kubectl sops create ks my-secrets --source=my-secrets --path=./clusters/cluster0 --prune=true --decryption-provider=sops --decryption-secret=sops-age --wait",
        },
    ],
    flags: {
        source: { type: "string", summary: "Source: [<kind>/]<name>[.<namespace>], kind GitRepository (default), OCIRepository or Bucket" },
        path: { type: "string", default: "./", summary: "Path to the directory with the manifests in the source" },
        prune: { type: "string", summary: "Garbage-collect removed objects: --prune=true (default false)" },
        interval: { type: "string", default: "1m", summary: "Reconciliation interval" },
        "decryption-provider": { type: "string", summary: "Decryption provider: sops" },
        "decryption-secret": { type: "string", summary: "Secret with the decryption keys (same namespace); used only with --decryption-provider" },
        "target-namespace": { type: "string", summary: "Namespace for all objects of this Kustomization" },
        "service-account": { type: "string", summary: "Service account to impersonate when applying (not for decryption)" },
        "depends-on": { type: "string", multiple: true, summary: "Kustomizations that must be ready first: name or namespace/name (repeatable or comma-separated)" },
        "health-check": {
            type: "string",
            multiple: true,
            summary: "Workload to health-check: <kind>/<name>.<namespace>, kind Deployment, DaemonSet, StatefulSet or HelmRelease (repeatable or comma-separated; not with --wait)",
        },
        "health-check-timeout": { type: "string", default: "2m", summary: "Timeout of health checks (with --wait or --health-check)" },
        "retry-interval": { type: "string", summary: "Interval between retries of a failed reconciliation" },
        "kubeconfig-secret-ref": { type: "string", summary: "Secret with a kubeconfig for a remote cluster" },
        wait: { type: "boolean", summary: "Set spec.wait (health-check everything applied) and wait until the Kustomization is ready" },
        ...commonFlags,
    },
    args: [{ name: "name", summary: "Kustomization name", required: true }],
    async run(parsed, io) {
        const name = validateName(parsed.argv[0])
        const c = context(parsed, io)
        const f = parsed.flags
        const prune = goBool(str(f, "prune"), "prune")
        const opt = <K extends string>(key: K, flag: string) => (str(f, flag) === undefined ? {} : ({ [key]: str(f, flag) } as Record<K, string>))
        const obj = kustomization({
            name,
            namespace: c.namespace,
            source: str(f, "source") ?? "",
            ...opt("path", "path"),
            ...(prune === undefined ? {} : { prune }),
            ...opt("interval", "interval"),
            ...opt("decryptionProvider", "decryption-provider"),
            ...opt("decryptionSecret", "decryption-secret"),
            ...opt("targetNamespace", "target-namespace"),
            ...opt("serviceAccountName", "service-account"),
            ...(list(f, "depends-on") === undefined ? {} : { dependsOn: list(f, "depends-on") }),
            ...(f.wait === true ? { wait: true } : {}),
            ...(list(f, "health-check") === undefined ? {} : { healthChecks: list(f, "health-check") }),
            ...opt("healthCheckTimeout", "health-check-timeout"),
            ...opt("retryInterval", "retry-interval"),
            ...opt("kubeconfigSecretRef", "kubeconfig-secret-ref"),
            labels: c.labels,
        })
        if (!c.export) c.log.generate("generating Kustomization")
        const done = await deliver(c, obj, "Kustomization")
        if (done !== undefined && f.wait === true) {
            const revision = await waitFor(c, done.client, obj, "Kustomization")
            c.log.success(`Kustomization ${name} is ready`)
            if (revision !== undefined) c.log.success(`applied revision ${revision}`)
        }
        return 0
    },
}
