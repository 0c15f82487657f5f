/**
 * File-level orchestration shared by the commands and their bulk modes: read → pick formats → find the
 * `.sops.yaml` → store → engine → emit → write. Commands only parse flags and call these.
 */
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { homedir } from "node:os"
import path from "node:path"
import { type CreationRule, creationRuleFor, findConfig, keyGroupFromSpecs, keySpecsFrom, type KeySpecs, type SopsConfig } from "../config/sops-yaml.js"
import { ErrorKind, FormatError, KsopsError, NonStringKeyError, UsageError } from "../errors.js"
import { createKeyContext } from "../keys/context.js"
import { LocalKeyService } from "../keys/local.js"
import { decryptDocument, type Entropy, encryptDocument } from "../sops/document.js"
import type { KeyEntry, KeyService } from "../sops/keys.js"
import { type Metadata, metadataFromTree, metadataToTree, SELECTION_FIELDS, type Selection } from "../sops/metadata.js"
import type { Branches } from "../sops/tree.js"
import { goRegexError } from "../sops/regex.js"
import { SELECTION_OPTIONS_TEXT, selectionCount } from "../sops/walk.js"
import { formatFromPath } from "../stores/index.js"
import type { EncryptedFile, Format, Store, StoreOptions } from "../stores/store.js"
import { KEY_FLAG_TYPES, type keyFlags } from "./flags.js"
import { createGcmPool } from "./gcm-pool.js"
import { readInput, writeFileAtomic, writeOut } from "./io.js"
import { loadStore } from "./stores.js"
import type { CommandIo, ParsedFlags } from "./spec.js"

/** sops' message when asked to encrypt a file that already has metadata (exit 203). */
export const ALREADY_ENCRYPTED_MESSAGE = `The file you have provided contains a top-level entry called 'sops', or for
flat file formats top-level entries starting with 'sops_'. This is
generally due to the file already being encrypted. SOPS uses a top-level
entry called 'sops' to store the metadata required to decrypt the file. For
this reason, SOPS can not encrypt files that already contain such an entry.

If this is an unencrypted file, rename the 'sops' entry.

If this is an encrypted file and you want to edit it, use the editor mode,
for example: \`sops edit my_file.yaml\``

/** Everything a file operation needs from the process, made once per run (bulk runs share the key memo). */
export interface Runtime {
    readonly io: CommandIo
    readonly keys: KeyService
    readonly entropy: Entropy
    /** The key context's `.sops.pub.asc` files (see {@link KeyContext.pgpPublicKeyFiles}). */
    readonly pgpPublicKeyFiles?: Set<string>
}

/**
 * CSPRNG bytes drawn from a pool refilled 8 KiB at a time (one OpenSSL call serves hundreds of small requests in a
 * bulk run). Each request gets its own copy and its bytes are zeroed in the pool.
 */
function pooledRandom(): (n: number) => Uint8Array {
    let pool = Buffer.alloc(0)
    let offset = 0
    return (n) => {
        if (n > 2048) return new Uint8Array(randomBytes(n))
        if (offset + n > pool.length) {
            pool.fill(0)
            pool = randomBytes(8192)
            offset = 0
        }
        const out = new Uint8Array(pool.subarray(offset, offset + n))
        pool.fill(0, offset, offset + n)
        offset += n
        return out
    }
}

/**
 * The local keys, with the key agent in front when allowed: its module loads only when an age/PGP entry has to be
 * decrypted (encryption and other key types never touch it).
 */
function agentAware(io: CommandIo, local: KeyService): KeyService {
    let agent: Promise<KeyService> | undefined
    const load = () => {
        agent ??= import("./actions/agent-runtime.js").then((m) => new m.AgentAwareKeyService(io, local))
        return agent
    }
    return {
        keyId: (entry) => local.keyId(entry),
        encrypt: (entry, part) => local.encrypt(entry, part),
        decrypt: async (entry) => (entry.type === "age" || entry.type === "pgp" ? (await load()).decrypt(entry) : local.decrypt(entry)),
    }
}

/** Options of {@link createRuntime}. */
export interface RuntimeOptions {
    /** `--no-agent`: local keys only (also `KUBECTL_SOPS_NO_AGENT=1`). */
    noAgent?: boolean
}

/**
 * The process runtime: local key service with a per-process memo (behind the key agent unless `noAgent` or
 * `KUBECTL_SOPS_NO_AGENT=1`), node:crypto randomness, the wall clock.
 */
export function createRuntime(io: CommandIo, options: RuntimeOptions = {}): Runtime {
    const ctx = createKeyContext({
        env: io.env,
        homeDir: io.env.HOME ?? homedir(),
        warn: (message) => {
            io.stderr.write(`${message}\n`)
        },
    })
    const local = new LocalKeyService(ctx)
    const noAgent = options.noAgent === true || ["1", "true", "yes"].includes((io.env.KUBECTL_SOPS_NO_AGENT ?? "").toLowerCase())
    return {
        io,
        keys: noAgent ? local : agentAware(io, local),
        // large documents' values are sealed/opened on two threads (a worker starts only for those)
        entropy: { randomBytes: pooledRandom(), now: () => new Date(), gcm: createGcmPool() },
        ...(ctx.pgpPublicKeyFiles === undefined ? {} : { pgpPublicKeyFiles: ctx.pgpPublicKeyFiles }),
    }
}

/** Format and config flags, as parsed. */
export interface FileOptions {
    /** The name used for the format and the creation rule (`--filename-override` or the file). */
    name: string | undefined
    inputType?: Format
    outputType?: Format
    indent?: number
    /** `--config` / `SOPS_CONFIG`. */
    config?: string
}

/** Read {@link FileOptions} from parsed flags. */
export function fileOptions(flags: ParsedFlags, file: string | undefined): FileOptions {
    const override = flags["filename-override"] as string | undefined
    return {
        name: override ?? file,
        inputType: flags["input-type"] as Format | undefined,
        outputType: flags["output-type"] as Format | undefined,
        indent: flags.indent as number | undefined,
        config: flags.config as string | undefined,
    }
}

/** The stores and config for a file. */
export interface Resolved {
    input: Store
    output: Store
    config: SopsConfig | undefined
}

/** Pick the input/output formats and stores and find the `.sops.yaml` for a file. */
export async function resolveFile(rt: Runtime, opts: FileOptions): Promise<Resolved> {
    const inFormat = opts.inputType ?? (opts.name === undefined ? "yaml" : formatFromPath(opts.name))
    const outFormat = opts.outputType ?? (opts.inputType ?? (opts.name === undefined ? "yaml" : formatFromPath(opts.name)))
    const config = findConfig(opts.name, { cwd: rt.io.cwd, ...(opts.config === undefined ? {} : { explicit: opts.config }) })
    const storeOptions: StoreOptions = { ...(config?.stores ?? {}) }
    if (opts.indent !== undefined) {
        storeOptions.yamlIndent = opts.indent
        storeOptions.jsonIndent = opts.indent
        storeOptions.binaryIndent = opts.indent
    }
    const input = await loadStore(inFormat, storeOptions)
    const output = outFormat === inFormat ? input : await loadStore(outFormat, storeOptions)
    return { input, output, config }
}

/** Attach the file name to format errors thrown by a store. */
function inFile<T>(file: string | undefined, load: () => T): T {
    try {
        return load()
    } catch (error) {
        if (error instanceof FormatError && file !== undefined && error.file === undefined) throw error.withFile(file)
        throw error
    }
}

/**
 * The plaintext to encrypt, with sops' exit codes: a file that does not parse is "Error unmarshalling file" (exit 2,
 * CouldNotReadInputFile), a non-string key fails sops' encryption walk (exit 23, EncryptingTree). The message keeps
 * the file, line and column.
 */
function loadPlainToEncrypt(file: string | undefined, load: () => Branches): Branches {
    try {
        return inFile(file, load)
    } catch (error) {
        if (error instanceof NonStringKeyError) throw new KsopsError(ErrorKind.EncryptingTree, error.message, { cause: error, hint: error.hint })
        if (error instanceof FormatError) throw new KsopsError(ErrorKind.CouldNotReadInputFile, error.message, { cause: error, hint: error.hint })
        throw error
    }
}

/** Key specs from the key flags (`--age …`) with the `SOPS_*` environment fallback. */
export function keySpecsFromFlags(flags: ParsedFlags, env: CommandIo["env"], prefix = ""): KeySpecs {
    const specs: KeySpecs = {}
    for (const [flag, type] of Object.entries(KEY_FLAG_TYPES) as [keyof typeof keyFlags, string][]) {
        const values = flags[`${prefix}${flag}`] as string[] | undefined
        if (values !== undefined && values.length > 0) specs[type] = values
    }
    return prefix === "" ? keySpecsFrom(specs, env) : keySpecsFrom(specs, {})
}

/** Key groups parsed from a run's flags: once per run, not once per file of a bulk run. */
const flagGroups = new WeakMap<ParsedFlags, Promise<KeyEntry[] | undefined>>()

function flagKeyGroup(flags: ParsedFlags, env: CommandIo["env"]): Promise<KeyEntry[] | undefined> {
    let group = flagGroups.get(flags)
    if (group === undefined) {
        group = keyGroupFromSpecs(keySpecsFromFlags(flags, env)).then((g) => g && withKmsOptions(g, flags))
        flagGroups.set(flags, group)
    }
    return group
}

/**
 * sops' `--encryption-context k1:v1,k2:v2` (each item exactly one colon).
 * @throws KsopsError InvalidEncryptionContext (exit 6) "Invalid KMS encryption context format"
 */
export function encryptionContextFrom(flags: ParsedFlags): Record<string, string> | undefined {
    const text = flags["encryption-context"]
    if (typeof text !== "string" || text === "") return undefined
    const out: Record<string, string> = {}
    for (const item of text.split(",")) {
        const kv = item.split(":")
        if (kv.length !== 2) {
            throw new KsopsError(ErrorKind.InvalidEncryptionContext, "Invalid KMS encryption context format", {
                hint: "give --encryption-context as key:value pairs separated by commas (app:web,env:prod)",
            })
        }
        out[kv[0]] = kv[1]
    }
    return out
}

/** `--encryption-context` and `--aws-profile` apply to the kms keys given by flags or the environment, as in sops. */
function withKmsOptions(entries: KeyEntry[], flags: ParsedFlags): KeyEntry[] {
    const context = encryptionContextFrom(flags)
    const profile = typeof flags["aws-profile"] === "string" ? flags["aws-profile"] : ""
    if (context === undefined && profile === "") return entries
    return entries.map((e) => (e.type === "kms" ? { ...e, params: { ...e.params, aws_profile: profile, ...(context ? { context } : {}) } } : e))
}

/** Options of {@link encryptBytes}. */
export interface EncryptOptions extends FileOptions {
    flags: ParsedFlags
}

/** The selection flags are the metadata field names with dashes (`--encrypted-regex` ↔ `encrypted_regex`). */
const SELECTION_FLAGS = SELECTION_FIELDS.map(([field, prop]) => [field.replaceAll("_", "-"), prop] as const)

/**
 * Encrypt a plaintext file's bytes.
 * @throws KsopsError FileAlreadyEncrypted (203) when the input already has metadata
 */
export async function encryptBytes(rt: Runtime, input: Uint8Array, file: string | undefined, opts: EncryptOptions): Promise<Uint8Array> {
    startCipherThreads(rt, input)
    const r = await resolveFile(rt, opts)
    const branches = loadPlainToEncrypt(file, () => r.input.loadPlain(input))
    if (branches.length === 0) {
        throw new KsopsError(ErrorKind.NeedAtLeastOneDocument, "File cannot be completely empty, it must contain at least one document")
    }
    if (r.input.hasMetadataKey(branches)) throw new KsopsError(ErrorKind.FileAlreadyEncrypted, ALREADY_ENCRYPTED_MESSAGE)
    const rule = opts.name === undefined ? undefined : await creationRuleFor(r.config, opts.name, rt.io.cwd, encryptionContextFrom(opts.flags))
    if (r.config !== undefined && rt.pgpPublicKeyFiles !== undefined) {
        const pub = path.join(r.config.dir, ".sops.pub.asc")
        if (!rt.pgpPublicKeyFiles.has(pub) && existsSync(pub)) rt.pgpPublicKeyFiles.add(pub)
    }
    const flagGroup = await flagKeyGroup(opts.flags, rt.io.env)
    const keyGroups = flagGroup !== undefined ? [flagGroup] : rule?.keyGroups
    if (keyGroups === undefined) {
        throw new KsopsError(
            ErrorKind.NoEncryptionKey,
            "config file not found, or has no creation rules, and no keys provided through command line options",
            { hint: "pass --age/--pgp (or SOPS_AGE_RECIPIENTS) or add a creation rule to .sops.yaml" },
        )
    }
    const selection = mergeSelection(rule, opts.flags)
    const threshold = (opts.flags["shamir-secret-sharing-threshold"] as number | undefined) ?? rule?.shamirThreshold ?? 0
    const md = await encryptDocument(
        branches,
        {
            keyGroups,
            shamirThreshold: threshold,
            selection,
            macOnlyEncrypted: opts.flags["mac-only-encrypted"] === true || rule?.macOnlyEncrypted === true,
            binary: r.input.format === "binary",
        },
        rt.keys,
        rt.entropy,
    )
    return r.output.emitEncrypted(branches, metadataToTree(md))
}

function mergeSelection(rule: CreationRule | undefined, flags: ParsedFlags): Selection {
    const selection: Selection = { ...(rule?.selection ?? {}) }
    for (const [flag, field] of SELECTION_FLAGS) {
        const v = flags[flag]
        if (typeof v === "string" && v !== "") {
            // sops would ignore a pattern Go refuses and encrypt nothing (or everything): refuse it instead
            const bad = field.endsWith("Regex") ? goRegexError(v) : undefined
            if (bad !== undefined) throw new UsageError(`invalid --${flag}: ${bad}`, { hint: "regexes use Go's RE2 syntax" })
            selection[field] = v
        }
    }
    if (selectionCount(selection) > 1) {
        throw new UsageError(
            `Error: cannot use more than one of ${SELECTION_OPTIONS_TEXT} in the same file`,
            { kind: ErrorKind.ConflictingParameters },
        )
    }
    return selection
}

/** An encrypted file, loaded and decrypted. */
export interface DecryptedFile {
    resolved: Resolved
    branches: Branches
    metadata: Metadata
    dataKey: Uint8Array
    stash: Awaited<ReturnType<typeof decryptDocument>>["stash"]
}

/** Options of {@link loadDecrypted}. */
export interface DecryptOptions extends FileOptions {
    ignoreMac?: boolean
    decryptionOrder?: string
    /** Remember IVs for a re-encryption (edit, set, rotate); plain `decrypt` skips it. Default true. */
    keepIvs?: boolean
}

/** Load an encrypted file (metadata split off), without decrypting. */
export async function loadEncrypted(
    rt: Runtime,
    input: Uint8Array,
    file: string | undefined,
    opts: FileOptions,
): Promise<{ resolved: Resolved; file: EncryptedFile }> {
    startCipherThreads(rt, input)
    const resolved = await resolveFile(rt, opts)
    return { resolved, file: inFile(file, () => resolved.input.loadEncrypted(input)) }
}

/** Inputs from this size on may hold enough values for the worker pool: it starts while the input is parsed. */
const EARLY_POOL_BYTES = 1 << 20

function startCipherThreads(rt: Runtime, input: Uint8Array): void {
    if (input.length >= EARLY_POOL_BYTES) rt.entropy.gcm?.start?.()
}

/** Load and decrypt an encrypted file's bytes (data key recovered, MAC checked unless `ignoreMac`). */
export async function loadDecrypted(rt: Runtime, input: Uint8Array, file: string | undefined, opts: DecryptOptions): Promise<DecryptedFile> {
    const { resolved, file: loaded } = await loadEncrypted(rt, input, file, opts)
    const metadata = inFile(file, () => metadataFromTree(loaded.metadata))
    const order = opts.decryptionOrder
        ?.split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
    const { dataKey, stash } = await decryptDocument(loaded.branches, metadata, rt.keys, {
        ignoreMac: opts.ignoreMac ?? false,
        ...(order === undefined ? {} : { decryptionOrder: order }),
        raw: resolved.input.format === "binary",
        warn: (m) => rt.io.stderr.write(`${m}\n`),
        keepIvs: opts.keepIvs ?? true,
        ...(rt.entropy.gcm ? { gcm: rt.entropy.gcm } : {}),
    })
    return { resolved, branches: loaded.branches, metadata, dataKey, stash }
}

/** Emit an encrypted file after a change (edit, set, rotate). */
export function emitEncrypted(file: DecryptedFile, metadata: Metadata): Uint8Array {
    return file.resolved.output.emitEncrypted(file.branches, metadataToTree(metadata))
}

/** Where a result goes: the file itself, another file, or stdout. */
export interface Destination {
    inPlace?: boolean
    output?: string
}

/**
 * Check sops' rules for `-i`/`--output` and read the input (stdin when no file).
 * @throws UsageError ConflictingParameters (8) for `-i` with `--output` or `-i` without a file
 */
export async function readFor(rt: Runtime, file: string | undefined, dest: Destination): Promise<Uint8Array> {
    if (dest.inPlace && dest.output !== undefined) {
        throw new UsageError("Error: cannot operate on both --output and --in-place", { kind: ErrorKind.ConflictingParameters })
    }
    if (dest.inPlace && file === undefined) {
        throw new UsageError("Error: cannot use --in-place when reading from stdin", { kind: ErrorKind.ConflictingParameters })
    }
    return readInput(file, () => rt.io.stdin, rt.io.cwd)
}

/**
 * Write a result: in place or to `--output` (atomic, through a symbolic link to its target; an existing file keeps
 * its mode, a new one is 0600), or stdout. `plaintext` results are always written 0600.
 */
export async function writeResult(
    rt: Runtime,
    file: string | undefined,
    dest: Destination,
    bytes: Uint8Array,
    options: { plaintext?: boolean } = {},
): Promise<void> {
    const write = { plaintext: options.plaintext === true }
    if (dest.inPlace && file !== undefined) await writeFileAtomic(path.resolve(rt.io.cwd, file), bytes, write)
    else if (dest.output !== undefined) await writeFileAtomic(path.resolve(rt.io.cwd, dest.output), bytes, write)
    else await writeOut(rt.io, bytes)
}

/** Key entries (enc empty) for `--add-*` flags. */
export async function keysToAdd(flags: ParsedFlags): Promise<KeyEntry[]> {
    return withKmsOptions((await keyGroupFromSpecs(keySpecsFromFlags(flags, {}, "add-"))) ?? [], flags)
}

/** A predicate for keys named by `--rm-*` flags (by type and key id). */
export async function keysToRemove(flags: ParsedFlags, keys: KeyService): Promise<(entry: KeyEntry) => boolean> {
    const rm = withKmsOptions((await keyGroupFromSpecs(keySpecsFromFlags(flags, {}, "rm-"))) ?? [], flags)
    const ids = new Set(rm.map((e) => `${e.type}\u0000${keys.keyId(e)}`))
    return (entry) => ids.has(`${entry.type}\u0000${keys.keyId(entry)}`)
}

/**
 * sops' check before operating on a named file.
 * @throws KsopsError NoFileSpecified (100) "Error: cannot operate on non-existent file"
 */
export function requireExisting(rt: Runtime, file: string | undefined): void {
    if (file === undefined || file === "-") return
    if (!existsSync(path.resolve(rt.io.cwd, file))) {
        throw new KsopsError(ErrorKind.NoFileSpecified, "Error: cannot operate on non-existent file", { hint: `${file} does not exist` })
    }
}
