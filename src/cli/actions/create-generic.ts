/**
 * `kubectl sops create generic NAME`: the Flux guide's
 * `kubectl create secret generic NAME --from-literal=… --dry-run=client -o yaml > NAME.yaml` followed by
 * `sops --encrypt --in-place NAME.yaml`, in one step and without the plaintext ever touching the disk.
 *
 * The Secret is built exactly as kubectl 1.32 builds it (same sources, same validation messages, same YAML:
 * sigs.k8s.io/yaml over go-yaml v2, keys sorted in go-yaml's natural order), then encrypted with the
 * `.sops.yaml` creation rule that matches the output path.
 */
import { type Dirent, readdirSync, readFileSync, type Stats, statSync } from "node:fs"
import { createHash } from "node:crypto"
import path from "node:path"
import { creationRuleFor, findConfig } from "../../config/sops-yaml.js"
import { ErrorKind, KsopsError, UsageError } from "../../errors.js"
import { toKubeYaml } from "../../kube/yaml.js"
import { SELECTION_FIELDS } from "../../sops/metadata.js"
import { createRuntime, encryptBytes, keySpecsFromFlags } from "../file-ops.js"
import { configFlags, keyFlags, selectionFlags } from "../flags.js"
import { writeFileAtomic, writeOut } from "../io.js"
import type { CommandSpec, ParsedFlags } from "../spec.js"

/** The Flux guide's selection: only `data`/`stringData` are encrypted, so kustomize can read kind and metadata. */
export const FLUX_ENCRYPTED_REGEX = "^(data|stringData)$"

/** The sources of a Secret, as `kubectl create secret generic` takes them. */
export interface SecretSources {
    name: string
    /** `-n`: written only when given (kubectl writes the namespace only when it is set explicitly). */
    namespace?: string
    /** `--type`: written only when not empty. */
    type?: string
    literals?: readonly string[]
    files?: readonly string[]
    envFiles?: readonly string[]
}

/** Where {@link buildSecretData} reads files and the environment (`KEY` alone in an env file). */
export interface SourceIo {
    cwd: string
    env: Readonly<Record<string, string | undefined>>
}

function kubectlError(message: string): KsopsError {
    return new UsageError(`error: ${message}`)
}

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/
const CONFIG_KEY_MSG =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
const ENV_NAME_MSG =
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"

function chDirErrors(key: string): string[] {
    if (key === ".") return ["must not be '.'"]
    if (key === "..") return ["must not be '..'"]
    if (key.startsWith("..")) return ["must not start with '..'"]
    return []
}

/** k8s.io/apimachinery `IsConfigMapKey`. */
function configKeyErrors(key: string): string[] {
    const errs: string[] = []
    if (key.length > 253) errs.push("must be no more than 253 characters")
    if (!CONFIG_KEY.test(key)) errs.push(CONFIG_KEY_MSG)
    return [...errs, ...chDirErrors(key)]
}

function addKey(data: Map<string, Uint8Array>, key: string, value: Uint8Array): void {
    const errs = configKeyErrors(key)
    if (errs.length > 0) throw kubectlError(`${JSON.stringify(key)} is not valid key name for a Secret ${errs.join(";")}`)
    if (data.has(key)) throw kubectlError(`cannot add key ${key}, another key by that name already exists`)
    data.set(key, value)
}

function errnoText(error: unknown): string {
    const code = (error as NodeJS.ErrnoException).code
    const known: Record<string, string> = {
        ENOENT: "no such file or directory",
        EACCES: "permission denied",
        EISDIR: "is a directory",
        ENOTDIR: "not a directory",
        ELOOP: "too many levels of symbolic links",
    }
    return (code !== undefined && known[code]) || (error as Error).message
}

function readSource(io: SourceIo, file: string): Uint8Array {
    try {
        return new Uint8Array(readFileSync(path.resolve(io.cwd, file)))
    } catch (error) {
        throw new KsopsError(ErrorKind.CouldNotReadInputFile, `error: open ${file}: ${errnoText(error)}`, { cause: error })
    }
}

function statSource(io: SourceIo, file: string): Stats {
    try {
        if (file === "") throw Object.assign(new Error("empty path"), { code: "ENOENT" })
        return statSync(path.resolve(io.cwd, file))
    } catch (error) {
        throw new KsopsError(ErrorKind.CouldNotReadInputFile, `error: error reading ${file}: ${errnoText(error)}`, { cause: error })
    }
}

/** kubectl `ParseFileSource`: `[key=]path`. */
function parseFileSource(source: string): [string, string] {
    const separators = source.split("=").length - 1
    if (separators === 0) return [path.posix.basename(source), source]
    if (separators === 1 && source.startsWith("=")) throw kubectlError(`key name for file path ${source.slice(1)} missing`)
    if (separators === 1 && source.endsWith("=")) throw kubectlError(`file path for key name ${source.slice(0, -1)} missing`)
    if (separators > 1) throw kubectlError("key names or file paths cannot contain '='")
    const [key, file] = source.split("=")
    return [key, file]
}

/** kubectl `processEnvFileLine` over `bufio.ScanLines` (a final `\r` dropped, BOM only on the first line). */
function envFileEntries(file: string, bytes: Uint8Array, env: SourceIo["env"]): [string, string][] {
    const out: [string, string][] = []
    const text = Buffer.from(bytes)
    const lines: Buffer[] = []
    for (let start = 0; start < text.length; ) {
        let end = text.indexOf(10, start)
        const next = end < 0 ? text.length : end + 1
        if (end < 0) end = text.length
        let line = text.subarray(start, end)
        if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1)
        lines.push(line)
        start = next
    }
    for (const [n, raw] of lines.entries()) {
        let line = raw
        try {
            new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(line)
        } catch {
            throw kubectlError(`env file ${file} contains invalid utf8 bytes at line ${n + 1}: [${[...line].join(" ")}]`)
        }
        if (n === 0 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3)
        // Go's unicode.IsSpace
        const trimmed = line.toString("utf8").replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u, "")
        if (trimmed === "" || trimmed.startsWith("#")) continue
        const eq = trimmed.indexOf("=")
        const key = eq < 0 ? trimmed : trimmed.slice(0, eq)
        const errs = [...(ENV_NAME.test(key) ? [] : [ENV_NAME_MSG]), ...chDirErrors(key)]
        if (errs.length > 0) throw kubectlError(`${JSON.stringify(key)} is not a valid key name: ${errs.join(";")}`)
        out.push([key, eq < 0 ? (env[key] ?? "") : trimmed.slice(eq + 1)])
    }
    return out
}

/**
 * pflag's `StringSlice` value parsing (kubectl's --from-file and --from-env-file): one record of Go's encoding/csv
 * (comma-separated, double-quoted fields with `""` escapes); an empty value is an empty list.
 * @throws UsageError with cobra's message for a malformed value
 */
export function splitStringSlice(flag: string, value: string): string[] {
    if (value === "") return []
    const fail = (column: number, what: string) =>
        new UsageError(`Error: invalid argument ${JSON.stringify(value)} for "--${flag}" flag: parse error on line 1, column ${column}: ${what}`, {
            hint: "see `kubectl sops create generic --help`",
        })
    // the first non-empty line starts the record (encoding/csv skips empty lines)
    let i = 0
    while (value[i] === "\n" || (value[i] === "\r" && value[i + 1] === "\n")) i += value[i] === "\n" ? 1 : 2
    const fields: string[] = []
    for (;;) {
        let field = ""
        if (value[i] === '"') {
            i++
            for (;;) {
                if (i >= value.length) throw fail(Buffer.byteLength(value.slice(0, i)) + 1, 'extraneous or missing " in quoted-field')
                if (value[i] === '"') {
                    if (value[i + 1] === '"') {
                        field += '"'
                        i += 2
                        continue
                    }
                    i++
                    break
                }
                field += value[i++]
            }
            if (i < value.length && value[i] !== "," && value[i] !== "\n" && !(value[i] === "\r" && value[i + 1] === "\n")) {
                // encoding/csv points at the closing quote
                throw fail(Buffer.byteLength(value.slice(0, i)), 'extraneous or missing " in quoted-field')
            }
        } else {
            while (i < value.length && value[i] !== "," && value[i] !== "\n") {
                if (value[i] === '"') throw fail(Buffer.byteLength(value.slice(0, i)) + 1, 'bare " in non-quoted-field')
                field += value[i++]
            }
            if (value[i] === "\n" && field.endsWith("\r")) field = field.slice(0, -1)
        }
        fields.push(field)
        if (value[i] === ",") {
            i++
            continue
        }
        return fields
    }
}

/** kubectl `--append-hash`: the name suffix from k8s.io/kubectl/pkg/util/hash `SecretHash`. */
export function secretHash(name: string, type: string, data: ReadonlyMap<string, Uint8Array>): string {
    // Go's json.Marshal of map[string]interface{}: keys sorted; <, > and & escaped; []byte as base64
    const goJson = (v: unknown) => JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    const entries = [...data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    const dataJson = `{${entries.map(([k, v]) => `${goJson(k)}:${goJson(Buffer.from(v).toString("base64"))}`).join(",")}}`
    const encoded = `{"data":${dataJson},"kind":"Secret","name":${goJson(name)},"type":${goJson(type)}}`
    const hex = createHash("sha256").update(encoded, "utf8").digest("hex")
    const map: Record<string, string> = { "0": "g", "1": "h", "3": "k", a: "m", e: "t" }
    return [...hex.slice(0, 10)].map((c) => map[c] ?? c).join("")
}

/**
 * The Secret's `data`, built like `kubectl create secret generic`: literals first, then files (a folder adds each
 * regular file in it), then env files; kubectl's messages for bad sources.
 * @throws UsageError with kubectl's message (`error: …`); KsopsError CouldNotReadInputFile for unreadable files
 */
export function buildSecretData(sources: SecretSources, io: SourceIo): Map<string, Uint8Array> {
    const literals = sources.literals ?? []
    const files = sources.files ?? []
    const envFiles = sources.envFiles ?? []
    if (envFiles.length > 0 && (files.length > 0 || literals.length > 0)) throw kubectlError("from-env-file cannot be combined with from-file or from-literal")
    const data = new Map<string, Uint8Array>()
    for (const literal of literals) {
        const eq = literal.indexOf("=")
        if (eq <= 0) throw kubectlError(`invalid literal source ${literal}, expected key=value`)
        addKey(data, literal.slice(0, eq), new Uint8Array(Buffer.from(literal.slice(eq + 1), "utf8")))
    }
    for (const source of files) {
        const [key, file] = parseFileSource(source)
        const info = statSource(io, file)
        if (info.isDirectory()) {
            if (source.includes("=")) throw kubectlError("cannot give a key name for a directory path")
            let entries: Dirent[]
            try {
                entries = readdirSync(path.resolve(io.cwd, file), { withFileTypes: true })
            } catch (error) {
                throw new KsopsError(ErrorKind.CouldNotReadInputFile, `error: error listing files in ${file}: ${errnoText(error)}`, { cause: error })
            }
            // os.ReadDir order (by name); only regular files (not symlinks), like kubectl
            const names = entries
                .filter((e) => e.isFile())
                .map((e) => e.name)
                .sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))))
            for (const item of names) addKey(data, item, readSource(io, path.join(file, item)))
        } else addKey(data, key, readSource(io, file))
    }
    for (const file of envFiles) {
        const info = statSource(io, file)
        if (info.isDirectory()) throw kubectlError("env secret file cannot be a directory")
        for (const [key, value] of envFileEntries(file, readSource(io, file), io.env)) addKey(data, key, new Uint8Array(Buffer.from(value, "utf8")))
    }
    return data
}

/**
 * The Secret as `kubectl create secret generic … --dry-run=client -o yaml` prints it (kubectl 1.32, through
 * sigs.k8s.io/yaml): apiVersion, data (base64, keys in go-yaml order), kind, metadata {creationTimestamp: null,
 * name, namespace}, type.
 */
export function secretYaml(sources: Pick<SecretSources, "name" | "namespace" | "type">, data: ReadonlyMap<string, Uint8Array>): string {
    const metadata: Record<string, unknown> = { creationTimestamp: null, name: sources.name }
    if (sources.namespace !== undefined && sources.namespace !== "") metadata.namespace = sources.namespace
    const secret: Record<string, unknown> = { apiVersion: "v1", kind: "Secret", metadata }
    if (data.size > 0) secret.data = Object.fromEntries([...data].map(([k, v]) => [k, Buffer.from(v).toString("base64")]))
    if (sources.type !== undefined && sources.type !== "") secret.type = sources.type
    return toKubeYaml(secret)
}

const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : [])

/** Key flags given (or `SOPS_*` key variables set). */
function hasFlagKeys(flags: ParsedFlags, env: Readonly<Record<string, string | undefined>>): boolean {
    return Object.keys(keySpecsFromFlags(flags, env)).length > 0
}

/** The create generic command. */
export const createGeneric: CommandSpec = {
    id: "create generic",
    summary: "Write an encrypted Secret manifest (kubectl create secret generic + sops --encrypt in one step)",
    description: `Builds the Secret exactly as \`kubectl create secret generic NAME … --dry-run=client -o yaml\` does (same --from-literal, --from-file and --from-env-file rules and messages) and encrypts it with the .sops.yaml creation rule that matches the output path (--output, else --filename-override, else NAME.yaml in the current folder), or for the keys given with --age/--pgp/…. The plaintext never touches the disk. When neither the rule nor a flag chooses what to encrypt, only data and stringData are encrypted (encrypted_regex: ${FLUX_ENCRYPTED_REGEX}, as in the Flux guide): kustomize-controller needs apiVersion, kind and metadata in clear. Prints the result unless --output is given (an existing file is replaced, like a shell redirect).`,
    examples: [
        {
            description: "The Flux guide's basic-auth Secret, encrypted with the keys of .sops.yaml",
            command: "kubectl sops create generic basic-auth -n default --from-literal=user=admin --from-literal=password=change-me --output basic-auth.yaml",
        },
        {
            description: "A Secret from files (key = file name, or key=path), for an age recipient, printed",
            command: "kubectl sops create generic app-config --from-file=value.json --from-file=config=secret.yaml --age age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u",
        },
        { description: "Every regular file of a folder, into a cluster folder", command: "kubectl sops create generic app-files --from-file=clusters -n apps --output clusters/app-files.yaml" },
    ],
    flags: {
        "from-literal": { type: "string", multiple: true, summary: "A key and literal value: key=value (repeatable)" },
        "from-file": {
            type: "string",
            multiple: true,
            summary: "A file [key=]path (key defaults to the file name); a folder adds each regular file in it (repeatable)",
        },
        "from-env-file": { type: "string", multiple: true, summary: "A file of KEY=value lines (repeatable; not with --from-literal/--from-file)" },
        namespace: { type: "string", char: "n", summary: "metadata.namespace of the Secret (omitted when not given, like kubectl)" },
        type: { type: "string", summary: "The Secret's type (omitted when not given, like kubectl; Opaque on the server)" },
        "append-hash": { type: "boolean", summary: "Append a hash of the Secret to its name (like kubectl --append-hash)" },
        output: { type: "string", summary: "Write the encrypted manifest to this file (atomically) instead of stdout" },
        "filename-override": { type: "string", summary: "Path used to pick the .sops.yaml creation rule when printing (default NAME.yaml)" },
        ...configFlags,
        ...keyFlags,
        ...selectionFlags,
    },
    args: [{ name: "name", summary: "Name of the Secret" }],
    variadic: true,
    async run(parsed, io) {
        if (parsed.argv.length !== 1) {
            throw new UsageError(`error: exactly one NAME is required, got ${parsed.argv.length}`, { hint: "see `kubectl sops create generic --help`" })
        }
        const flags = parsed.flags
        const sources: SecretSources = {
            name: parsed.argv[0],
            ...(flags.namespace === undefined ? {} : { namespace: flags.namespace as string }),
            ...(flags.type === undefined ? {} : { type: flags.type as string }),
            literals: list(flags["from-literal"]),
            files: list(flags["from-file"]).flatMap((v) => splitStringSlice("from-file", v)),
            envFiles: list(flags["from-env-file"]).flatMap((v) => splitStringSlice("from-env-file", v)),
        }
        const data = buildSecretData(sources, io)
        const secret = flags["append-hash"] === true ? { ...sources, name: `${sources.name}-${secretHash(sources.name, sources.type ?? "", data)}` } : sources
        // the same document as kubectl's; long keys inline for the YAML store (its output is sops' layout anyway)
        const plain = secretYaml(secret, data)
        const output = flags.output as string | undefined
        const ruleName = path.resolve(io.cwd, output ?? (flags["filename-override"] as string | undefined) ?? `${sources.name}.yaml`)
        const configPath = flags.config as string | undefined
        const config = findConfig(ruleName, { cwd: io.cwd, ...(configPath === undefined ? {} : { explicit: configPath }) })
        if ((config === undefined || config.creationRules === undefined) && !hasFlagKeys(flags, io.env)) {
            throw new KsopsError(
                ErrorKind.NoEncryptionKey,
                config === undefined
                    ? `no .sops.yaml at or above ${path.dirname(ruleName)} and no key given: nothing to encrypt ${sources.name} for`
                    : `${config.path} has no creation_rules and no key was given: nothing to encrypt ${sources.name} for`,
                { hint: "run kubectl sops bootstrap, or pass --age/--pgp (or set SOPS_AGE_RECIPIENTS)" },
            )
        }
        const selectionGiven = SELECTION_FIELDS.some(([field]) => typeof flags[field.replaceAll("_", "-")] === "string")
        let encFlags = flags
        if (!selectionGiven) {
            const rule = await creationRuleFor(config, ruleName, io.cwd)
            const ruleSelects = rule !== undefined && Object.values(rule.selection).some((v) => v !== undefined && v !== "")
            if (!ruleSelects) encFlags = { ...flags, "encrypted-regex": FLUX_ENCRYPTED_REGEX }
        }
        const rt = createRuntime(io)
        const out = await encryptBytes(rt, new Uint8Array(Buffer.from(plain, "utf8")), output ?? `${sources.name}.yaml`, {
            name: ruleName,
            inputType: "yaml",
            outputType: "yaml",
            ...(flags.indent === undefined ? {} : { indent: flags.indent as number }),
            ...(configPath === undefined ? {} : { config: configPath }),
            flags: encFlags,
        })
        if (output !== undefined) await writeFileAtomic(path.resolve(io.cwd, output), out)
        else await writeOut(io, out)
        return 0
    },
}
