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
import { goKeyCompare } from "../../kube/yaml.js"
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

// --- go-yaml v2 scalar styles (what sigs.k8s.io/yaml prints) ---

const V2_NON_STRINGS = new Set(
    "y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF ~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF".split(" "),
)

/** Go `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeds (underscores already removed). */
function goInt(s: string): boolean {
    const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s)
    if (!m) return false
    const body = m[2]
    const prefixed = /^0[xXoObB]/.test(body)
    const value = prefixed ? BigInt(body.toLowerCase()) : body.length > 1 && body.startsWith("0") ? BigInt(`0o${body.slice(1)}`) : BigInt(body)
    if (m[1] === "-") return value <= 2n ** 63n
    if (m[1] === "+") return value < 2n ** 63n
    return value < 2n ** 64n
}

/** Go `strconv.ParseFloat` accepts it (decimal, with Go's digit-separating underscores; inf/nan/hex floats too). */
function goFloat(s: string): boolean {
    if (/^[-+]?(inf|infinity|nan)$/i.test(s)) return true
    if (/^[-+]?0[xX]/.test(s)) return /^[-+]?0[xX](_?[0-9a-fA-F])*(\.([0-9a-fA-F](_?[0-9a-fA-F])*)?)?[pP][-+]?[0-9](_?[0-9])*$/.test(s) && /[0-9a-fA-F]/.test(s.slice(3))
    // out of range (±Inf) is an error in Go; underflow to 0 is not
    return /^[-+]?(([0-9](_?[0-9])*)(\.([0-9](_?[0-9])*)?)?|\.[0-9](_?[0-9])*)([eE][-+]?[0-9](_?[0-9])*)?$/.test(s) && Number.isFinite(Number(s.replaceAll("_", "")))
}

function daysIn(year: number, month: number): number {
    return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/** go-yaml v2 `parseTimestamp` (the formats it tries with Go's time.Parse). */
function goTimestamp(s: string): boolean {
    const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:([Tt ])(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(Z|[-+]\d{2}:\d{2})?)?$/.exec(s)
    if (!m) return false
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
    if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return false
    if (m[4] === undefined) return true
    if (m[4] === " " && m[8] !== undefined) return false
    if (m[4] !== " " && m[8] === undefined) return false
    return Number(m[5]) < 24 && Number(m[6]) < 60 && Number(m[7]) < 60
}

/** go-yaml v2 `resolve("", s)` gives something other than a string (then the emitter double-quotes). */
function resolvesNonString(s: string): boolean {
    if (s === "" || V2_NON_STRINGS.has(s)) return true
    const c = s[0]
    if (c === ".") return goFloat(s)
    if (!/[-+0-9]/.test(c)) return false
    if (goTimestamp(s)) return true
    const plain = s.replaceAll("_", "")
    if (goInt(plain)) return true
    // go-yaml v2's own binary forms: ParseInt(rest, 2) after "0b" (a sign may follow) or "-0b"
    if (/^0b[-+]?[01]+$/.test(plain) && BigInt(`0b${plain.replace(/^0b[-+]?/, "")}`) <= 2n ** 63n - (plain[2] === "-" ? 0n : 1n)) return true
    if (/^-0b[01]+$/.test(plain) && BigInt(`0b${plain.slice(3)}`) <= 2n ** 63n) return true
    if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(plain) && Number.isFinite(Number(plain))) return true
    return /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(s)
}

function printable(cp: number): boolean {
    return (
        cp === 0x0a ||
        (cp >= 0x20 && cp <= 0x7e) ||
        cp === 0x85 ||
        (cp >= 0xa0 && cp <= 0xd7ff) ||
        (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff) ||
        (cp >= 0x10000 && cp <= 0x10ffff)
    )
}

/** go-yaml v2 `yaml_emitter_analyze_scalar` for block context: plain allowed, single quotes allowed. */
function analyze(s: string): { plain: boolean; single: boolean } {
    if (s === "") return { plain: false, single: true }
    const chars = [...s]
    let block = false
    let special = false
    let lineBreaks = false
    let leadingSpace = false
    let trailingSpace = false
    let spaceBreak = false
    if (s.startsWith("---") || s.startsWith("...")) block = true
    let precededByWs = true
    for (let i = 0; i < chars.length; i++) {
        const ch = chars[i]
        const followedByWs = i + 1 >= chars.length || /[ \t\r\n\u0085\u2028\u2029]/.test(chars[i + 1])
        if (i === 0) {
            if ("#,[]{}&*!|>'\"%@`".includes(ch)) block = true
            if ((ch === "?" || ch === ":") && followedByWs) block = true
            if (ch === "-" && followedByWs) block = true
        } else {
            if (ch === ":" && followedByWs) block = true
            if (ch === "#" && precededByWs) block = true
        }
        const cp = ch.codePointAt(0)!
        if (!printable(cp)) special = true
        if (ch === " ") {
            if (i === 0) leadingSpace = true
            if (i === chars.length - 1) trailingSpace = true
        }
        if (/[\r\n\u0085\u2028\u2029]/.test(ch)) {
            lineBreaks = true
            if (i > 0 && chars[i - 1] === " ") spaceBreak = true
        }
        precededByWs = /[ \t\r\n\u0085\u2028\u2029]/.test(ch)
    }
    const plain = !(block || special || lineBreaks || leadingSpace || trailingSpace)
    const single = !(special || spaceBreak || lineBreaks)
    return { plain, single }
}

function doubleQuoted(s: string): string {
    let out = '"'
    for (const ch of s) {
        const cp = ch.codePointAt(0)!
        const named: Record<string, string> = { "\0": "\\0", "\x07": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\u0085": "\\N", "\u00a0": "\\_", "\u2028": "\\L", "\u2029": "\\P" }
        if (named[ch] !== undefined) out += named[ch]
        else if (printable(cp) && cp !== 0xfeff) out += ch
        else if (cp <= 0xff) out += `\\x${cp.toString(16).toUpperCase().padStart(2, "0")}`
        else if (cp <= 0xffff) out += `\\u${cp.toString(16).toUpperCase().padStart(4, "0")}`
        else out += `\\U${cp.toString(16).toUpperCase().padStart(8, "0")}`
    }
    return `${out}"`
}

/** A string as go-yaml v2 writes it in block context. */
function v2Scalar(s: string): string {
    if (resolvesNonString(s)) return doubleQuoted(s)
    const a = analyze(s)
    if (a.plain) return s
    if (a.single) return `'${s.replaceAll("'", "''")}'`
    return doubleQuoted(s)
}

/** A mapping entry line (`key: value`, or go-yaml's `? key` / `: value` form for keys over 128 bytes unless `inline`). */
function v2Key(indent: string, key: string, value: string, inline = false): string {
    const k = v2Scalar(key)
    if (!inline && Buffer.byteLength(k) > 128) return `${indent}? ${k}\n${indent}: ${value}\n`
    return `${indent}${k}: ${value}\n`
}

/**
 * The Secret as `kubectl create secret generic … --dry-run=client -o yaml` prints it (kubectl 1.32): apiVersion,
 * data (base64, keys in go-yaml order), kind, metadata {creationTimestamp: null, name, namespace}, type.
 * `inlineLongKeys`: write keys over 128 bytes as `key: value` too (the same document; the YAML store reads no `?` keys).
 */
export function secretYaml(
    sources: Pick<SecretSources, "name" | "namespace" | "type">,
    data: ReadonlyMap<string, Uint8Array>,
    options: { inlineLongKeys?: boolean } = {},
): string {
    let out = "apiVersion: v1\n"
    if (data.size > 0) {
        out += "data:\n"
        const keys = [...data.keys()].sort(goKeyCompare)
        for (const key of keys) {
            const b64 = Buffer.from(data.get(key)!).toString("base64")
            // base64 can read as a number or a bool ("1234", "true", "0x1F"): quoted then, like kubectl
            out += v2Key("  ", key, v2Scalar(b64), options.inlineLongKeys)
        }
    }
    out += "kind: Secret\nmetadata:\n  creationTimestamp: null\n"
    out += v2Key("  ", "name", v2Scalar(sources.name))
    if (sources.namespace !== undefined && sources.namespace !== "") out += v2Key("  ", "namespace", v2Scalar(sources.namespace))
    if (sources.type !== undefined && sources.type !== "") out += `type: ${v2Scalar(sources.type)}\n`
    return out
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
        const plain = secretYaml(secret, data, { inlineLongKeys: true })
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
