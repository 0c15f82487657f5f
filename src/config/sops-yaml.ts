/**
 * `.sops.yaml`: discovery, `creation_rules` and `stores` (sops §12).
 *
 * Discovery differs from sops on purpose: an explicit `--config`/`SOPS_CONFIG` wins; otherwise the nearest
 * `.sops.yaml` at or above the FILE's folder is used (so a bulk run from a repository root applies each cluster
 * folder's own rules, as the Flux guide promises), and only then sops' own search upward from the current
 * directory.
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path"
import { ConfigError, ErrorKind, FormatError, KsopsError } from "../errors.js"
import { loadProvider, PROVIDERS, type ProviderDescriptor } from "../keys/registry.js"
import type { KeyEntry, KeyGroup, KeyParams } from "../sops/keys.js"
import { SELECTION_FIELDS, type Selection } from "../sops/metadata.js"
import { Branch, Comment, SopsTime, type TreeValue } from "../sops/tree.js"
import { compileGoRegex, type GoRegex, GoRegexSyntaxError, goRegexError } from "../sops/regex.js"
import { SELECTION_OPTIONS_TEXT, selectionCount } from "../sops/walk.js"
import type { StoreOptions } from "../stores/store.js"
import { YamlStore } from "../stores/yaml.js"

/** The config file name sops looks for. */
export const CONFIG_FILE = ".sops.yaml"

/** A plain JSON-like value (a config file converted from the tree). */
export type Plain = string | number | boolean | null | Plain[] | { [k: string]: Plain }

/** A loaded `.sops.yaml`. */
export interface SopsConfig {
    /** Absolute path of the file. */
    path: string
    /** Its folder (creation-rule paths are relative to it). */
    dir: string
    /** `creation_rules`, or undefined when the file has none. */
    creationRules: Record<string, Plain>[] | undefined
    /** `stores:` options. */
    stores: StoreOptions
}

/** What a matching creation rule gives to `encrypt`/`updatekeys`. */
export interface CreationRule {
    keyGroups: KeyGroup[]
    shamirThreshold: number
    selection: Selection
    macOnlyEncrypted: boolean
}

function toPlain(v: TreeValue): Plain {
    if (v instanceof Branch) {
        const out: Record<string, Plain> = {}
        for (const item of v.items) if (!(item.key instanceof Comment)) out[item.key] = toPlain(item.value)
        return out
    }
    if (Array.isArray(v)) return v.filter((e) => !(e instanceof Comment)).map(toPlain)
    if (typeof v === "bigint") return Number(v)
    if (v instanceof SopsTime) return v.text
    if (v instanceof Comment) return null
    if (v instanceof Uint8Array) return Buffer.from(v).toString("utf8")
    return v
}

function isMap(v: Plain | undefined): v is Record<string, Plain> {
    return typeof v === "object" && v !== null && !Array.isArray(v)
}

function indentOf(stores: Plain | undefined, name: string): number | undefined {
    if (!isMap(stores)) return undefined
    const s = stores[name]
    if (!isMap(s)) return undefined
    return typeof s.indent === "number" ? s.indent : undefined
}

/**
 * Parse a `.sops.yaml` file's text.
 * @throws ConfigError with the file and what is wrong
 */
export function parseConfig(path: string, text: Uint8Array): SopsConfig {
    let root: Plain = null
    try {
        const docs = new YamlStore().loadPlain(text)
        root = docs.length > 0 ? toPlain(docs[0]) : {}
    } catch (e) {
        if (e instanceof FormatError) e.withFile(path)
        throw new ConfigError(`error loading config: ${(e as Error).message}`, { cause: e, hint: `fix the YAML in ${path}` })
    }
    if (!isMap(root)) throw new ConfigError(`error loading config: ${path}: the top level must be a mapping`)
    const rules = root.creation_rules
    if (rules !== undefined && rules !== null && !Array.isArray(rules)) {
        throw new ConfigError(`error loading config: ${path}: creation_rules must be a list`)
    }
    const creationRules = rules ? rules.map((r, i) => {
        if (!isMap(r)) throw new ConfigError(`error loading config: ${path}: creation_rules[${i}] must be a mapping`)
        return r
    }) : undefined
    const yamlIndent = indentOf(root.stores, "yaml")
    const jsonIndent = indentOf(root.stores, "json")
    const binaryIndent = indentOf(root.stores, "json_binary")
    for (const [name, v] of [["json", jsonIndent], ["json_binary", binaryIndent]] as const) {
        if (v !== undefined && v < -1) throw new ConfigError(`error loading config: ${path}: stores.${name}.indent must be -1 or more`)
    }
    if (yamlIndent !== undefined && yamlIndent < 0) throw new ConfigError(`error loading config: ${path}: stores.yaml.indent must not be negative`)
    const stores: StoreOptions = {}
    if (yamlIndent) stores.yamlIndent = yamlIndent
    if (jsonIndent !== undefined) stores.jsonIndent = jsonIndent
    if (binaryIndent !== undefined) stores.binaryIndent = binaryIndent
    const abs = resolve(path)
    return { path: abs, dir: dirname(abs), creationRules, stores }
}

/** Read and parse a config file. @throws ConfigError when it cannot be read */
export function loadConfig(path: string): SopsConfig {
    let text: Buffer
    try {
        text = readFileSync(path)
    } catch (e) {
        throw new ConfigError(`error loading config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
            hint: "check --config / SOPS_CONFIG",
        })
    }
    return parseConfig(path, text)
}

function isFile(p: string): boolean {
    try {
        return statSync(p).isFile()
    } catch {
        return false
    }
}

/** Per-process cache: folder → whether it holds a `.sops.yaml` (a bulk run asks for the same folders often). */
const hasConfig = new Map<string, boolean>()

function searchUp(start: string, maxLevels: number): string | undefined {
    let dir = resolve(start)
    for (let i = 0; i < maxLevels; i++) {
        const candidate = join(dir, CONFIG_FILE)
        let found = hasConfig.get(dir)
        if (found === undefined) {
            found = isFile(candidate)
            hasConfig.set(dir, found)
        }
        if (found) return candidate
        const parent = dirname(dir)
        if (parent === dir) return undefined
        dir = parent
    }
    return undefined
}

/** Where to look for the config of a file. */
export interface FindOptions {
    cwd: string
    /** `--config` or `SOPS_CONFIG`. */
    explicit?: string
}

/**
 * The config file that applies to `filePath`: explicit, else the nearest `.sops.yaml` at or above the file's folder,
 * else sops' upward search from the current directory (100 levels).
 * @param filePath - the target file (or `--filename-override`); undefined for stdin without an override
 */
export function findConfigPath(filePath: string | undefined, opts: FindOptions): string | undefined {
    if (opts.explicit) return resolve(opts.cwd, opts.explicit)
    if (filePath !== undefined) {
        const near = searchUp(dirname(resolve(opts.cwd, filePath)), 1000)
        if (near) return near
    }
    return searchUp(opts.cwd, 100)
}

const configCache = new Map<string, SopsConfig>()

/** {@link findConfigPath} + {@link loadConfig}, caching each file for a bulk run. */
export function findConfig(filePath: string | undefined, opts: FindOptions): SopsConfig | undefined {
    const path = findConfigPath(filePath, opts)
    if (path === undefined) return undefined
    if (opts.explicit && !existsSync(path)) throw new ConfigError(`error loading config: config file not found: ${path}`, { hint: "check --config / SOPS_CONFIG" })
    let cfg = configCache.get(path)
    if (!cfg) {
        cfg = loadConfig(path)
        configCache.set(path, cfg)
    }
    return cfg
}

/** The path a creation rule's `path_regex` is matched against (relative to the config's folder when inside it). */
export function rulePath(config: SopsConfig, filePath: string, cwd: string): string {
    const abs = isAbsolute(filePath) ? filePath : resolve(cwd, filePath)
    const rel = relative(config.dir, abs)
    if (rel !== "" && !rel.startsWith("..") && !isAbsolute(rel)) return rel.split(sep).join("/")
    return abs
}

function splitList(v: Plain | undefined, where: string): string[] {
    if (v === undefined || v === null) return []
    if (typeof v === "string") {
        return v
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
    }
    if (Array.isArray(v)) return v.flatMap((item) => splitList(item, where))
    if (typeof v === "number") return [String(v)]
    throw new ConfigError(`error loading config: ${where} must be a string or a list of strings`)
}

async function parseSpecs(d: ProviderDescriptor, specs: string[], where: string, extra?: (p: KeyParams) => KeyParams): Promise<KeyEntry[]> {
    if (specs.length === 0) return []
    const provider = await loadProvider(d.type)
    return specs.map((spec) => {
        let params: KeyParams
        try {
            params = provider.parseSpec(spec)
        } catch (e) {
            throw new ConfigError(`error loading config: ${where}: ${(e as Error).message}`, { cause: e })
        }
        return { type: d.type, params: extra ? extra(params) : params, enc: "" }
    })
}

function dedupe(entries: KeyEntry[]): KeyEntry[] {
    const seen = new Set<string>()
    const out: KeyEntry[] = []
    for (const e of entries) {
        const d = PROVIDERS.find((p) => p.type === e.type)
        const id = `${e.type}\u0000${d ? d.keyId(e.params) : JSON.stringify(e.params)}`
        if (seen.has(id)) continue
        seen.add(id)
        out.push(e)
    }
    return out
}

/** Rule-level key order without key_groups. */
const RULE_ORDER = ["age", "pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault"]

async function groupFromConfig(g: Plain, where: string): Promise<KeyEntry[]> {
    if (!isMap(g)) throw new ConfigError(`error loading config: ${where} must be a mapping`)
    const entries: KeyEntry[] = []
    const merge = g.merge
    if (merge !== undefined && merge !== null) {
        if (!Array.isArray(merge)) throw new ConfigError(`error loading config: ${where}.merge must be a list`)
        for (const [i, m] of merge.entries()) entries.push(...(await groupFromConfig(m, `${where}.merge[${i}]`)))
    }
    for (const type of RULE_ORDER) {
        const d = PROVIDERS.find((p) => p.type === type)!
        for (const key of d.groupKeys) {
            const v = g[key]
            if (v === undefined || v === null) continue
            const items = Array.isArray(v) ? v : [v]
            const provider = items.some(isMap) ? await loadProvider(type) : undefined
            for (const item of items) {
                if (isMap(item)) {
                    if (!provider?.parseConfigEntry) throw new ConfigError(`error loading config: ${where}.${key}: entries must be strings`)
                    entries.push({ type, params: provider.parseConfigEntry(item), enc: "" })
                } else entries.push(...(await parseSpecs(d, splitList(item, `${where}.${key}`), `${where}.${key}`)))
            }
        }
    }
    return dedupe(entries)
}

function selectionOf(rule: Record<string, Plain>): Selection {
    const s: Selection = {}
    for (const [field, prop] of SELECTION_FIELDS) {
        const v = rule[field]
        if (typeof v === "string" && v !== "") {
            // sops would ignore a pattern Go refuses and encrypt nothing (or everything): refuse it instead
            const bad = field.endsWith("_regex") ? goRegexError(v) : undefined
            if (bad !== undefined) throw new ConfigError(`error loading config: invalid ${field}: ${bad}`, { hint: "regexes in .sops.yaml use Go's RE2 syntax" })
            s[prop] = v
        }
    }
    return s
}

/** Find the first matching rule (raw), or undefined when the config has no `creation_rules`. */
export function matchRule(config: SopsConfig, filePath: string, cwd: string): Record<string, Plain> | undefined {
    if (!config.creationRules) return undefined
    const subject = rulePath(config, filePath, cwd)
    for (const rule of config.creationRules) {
        const re = rule.path_regex
        if (re === undefined || re === null || re === "") return rule
        let compiled: GoRegex
        try {
            compiled = compileGoRegex(String(re))
        } catch (e) {
            if (!(e instanceof GoRegexSyntaxError)) throw e
            // sops' words; Go's message quotes the offending part of the pattern
            throw new ConfigError(`can not compile regexp: ${e.message}`, { hint: `fix the path_regex in ${config.path} (Go RE2 syntax)` })
        }
        if (compiled.test(subject)) return rule
    }
    throw new ConfigError("error loading config: no matching creation rules found", {
        hint: `no path_regex in ${config.path} matches ${subject}; add a rule or pass --config`,
    })
}

/**
 * Turn a raw creation rule into key groups and options (providers parse the key specs).
 * @throws ConfigError for conflicting selection options or malformed keys
 */
export async function creationRuleFrom(
    rule: Record<string, Plain>,
    where = "creation rule",
    kmsContext?: Readonly<Record<string, string>>,
): Promise<CreationRule> {
    const selection = selectionOf(rule)
    if (selectionCount(selection) > 1) {
        throw new KsopsError(ErrorKind.Config, `error loading config: cannot use more than one of ${SELECTION_OPTIONS_TEXT} for the same rule`)
    }
    let keyGroups: KeyEntry[][]
    if (rule.key_groups !== undefined && rule.key_groups !== null) {
        if (!Array.isArray(rule.key_groups)) throw new ConfigError(`error loading config: ${where}: key_groups must be a list`)
        keyGroups = []
        for (const [i, g] of rule.key_groups.entries()) keyGroups.push(await groupFromConfig(g, `${where}: key_groups[${i}]`))
        if (keyGroups.length === 0) keyGroups = [[]]
    } else {
        const entries: KeyEntry[] = []
        const profile = typeof rule.aws_profile === "string" ? rule.aws_profile : ""
        for (const type of RULE_ORDER) {
            const d = PROVIDERS.find((p) => p.type === type)!
            for (const key of d.ruleKeys) {
                const extra =
                    type === "kms" ? (p: KeyParams): KeyParams => ({ ...p, aws_profile: profile, ...(kmsContext ? { context: { ...kmsContext } } : {}) }) : undefined
                entries.push(...(await parseSpecs(d, splitList(rule[key], `${where}: ${key}`), `${where}: ${key}`, extra)))
            }
        }
        keyGroups = [dedupe(entries)]
    }
    const threshold = rule.shamir_threshold
    return {
        keyGroups,
        shamirThreshold: typeof threshold === "number" ? threshold : 0,
        selection,
        macOnlyEncrypted: rule.mac_only_encrypted === true,
    }
}

/**
 * The creation rule for a file, or undefined when there is no config or it has no `creation_rules`.
 * @throws ConfigError "no matching creation rules found" when rules exist but none matches
 */
export async function creationRuleFor(
    config: SopsConfig | undefined,
    filePath: string,
    cwd: string,
    kmsContext?: Readonly<Record<string, string>>,
): Promise<CreationRule | undefined> {
    if (!config) return undefined
    const rule = matchRule(config, filePath, cwd)
    return rule ? creationRuleFrom(rule, `${config.path}: creation rule`, kmsContext) : undefined
}

/** Key specs given on the command line or in the environment, by type. */
export type KeySpecs = Partial<Record<string, string[]>>

/**
 * Key specs from flags (`--age`, `--pgp`, …, each repeatable and comma-separated) falling back to the environment
 * (`SOPS_AGE_RECIPIENTS`, `SOPS_PGP_FP`, …) per type.
 */
export function keySpecsFrom(flags: KeySpecs, env: Readonly<Record<string, string | undefined>>): KeySpecs {
    const out: KeySpecs = {}
    for (const d of PROVIDERS) {
        const fromFlags = (flags[d.type] ?? []).flatMap((v) => splitList(v, `--${d.flag}`))
        const specs = fromFlags.length > 0 ? fromFlags : splitList(env[d.env] ?? "", d.env)
        if (specs.length > 0) out[d.type] = specs
    }
    return out
}

/** Flag order of keys in the single group sops makes from flags. */
const FLAG_ORDER = ["kms", "gcp_kms", "hckms", "azure_kv", "pgp", "hc_vault", "age"]

/**
 * One key group from command-line/environment key specs, or undefined when none was given.
 * @throws UsageError-like ConfigError for a malformed spec (names the flag)
 */
export async function keyGroupFromSpecs(specs: KeySpecs): Promise<KeyEntry[] | undefined> {
    const entries: KeyEntry[] = []
    for (const type of FLAG_ORDER) {
        const list = specs[type]
        if (!list || list.length === 0) continue
        const d = PROVIDERS.find((p) => p.type === type)!
        try {
            entries.push(...(await parseSpecs(d, list, `--${d.flag}`)))
        } catch (e) {
            throw new KsopsError(ErrorKind.Usage, (e as Error).message.replace(/^error loading config: /, ""), { cause: e })
        }
    }
    return entries.length > 0 ? dedupe(entries) : undefined
}
