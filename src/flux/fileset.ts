/**
 * The files kustomize-controller decrypts for a Kustomization (flux-decryption.md §5.1, §5.2): secure-join path
 * resolution inside the artifact root, the kustomization-file rules, the generated kustomization, the recursion
 * through `resources` and `components`, and the pre-build targets (secretGenerator files and envs, local patches).
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, type Stats, statSync } from "node:fs"
import path from "node:path"
import { Branch } from "../sops/tree.js"
import { formatFromPath } from "../stores/index.js"
import type { Format } from "../stores/store.js"

/** `maxEncryptedFileSize` of the controller: 5 MiB. */
export const MAX_ENCRYPTED_FILE_SIZE = 5 << 20

/** The kustomization file names kustomize accepts, in its order. */
export const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"] as const

/** The marker whose presence makes the controller decrypt a file of a format (§5.2). */
export const FORMAT_MARKERS: Readonly<Record<Format, string>> = {
    yaml: "mac: ENC[",
    json: '"mac": "ENC[',
    binary: '"mac": "ENC[',
    dotenv: "sops_mac=ENC[",
    ini: "[sops]",
}

/** `formatForPath` of the controller: `.dockerconfigjson` is JSON, otherwise sops' suffix rule. */
export function formatForPath(name: string): Format {
    if (name.endsWith(".dockerconfigjson")) return "json"
    return formatFromPath(name)
}

/** A file the controller tries to decrypt before the build. */
export interface SourceTarget {
    /** Path relative to the root, forward slashes (where it resolves to). */
    path: string
    /** What the kustomization wrote (for messages). */
    ref: string
    format: Format
    /** Where it is referenced: `clusters/x/kustomization.yaml secretGenerator 'db' files`. */
    via: string
    /** secretGenerator files: the key in the Secret. */
    key?: string
    /** Generator name (secretGenerator / configMapGenerator). */
    generator?: string
}

/** A resource file, with the kustomize transformations that apply to its objects' names. */
export interface ResourceFile {
    path: string
    /** Namespace set by a kustomization on the way (the outermost wins). */
    namespace?: string
    namePrefix: string
    nameSuffix: string
}

/** A configMapGenerator source (checked for markers: those stay encrypted). */
export interface ConfigMapSource {
    path: string
    via: string
}

/** The file set of one Kustomization path. */
export interface FileSet {
    /** Absolute root (the artifact). */
    root: string
    /** `spec.path` cleaned, relative to root ("" for the root). */
    dirPath: string
    /** No kustomization file at the path: the controller generates one. */
    generated: boolean
    /** A fatal error of the walk (the reconcile fails): text as the controller reports it, unwrapped. */
    error?: string
    sources: SourceTarget[]
    resources: ResourceFile[]
    configMapSources: ConfigMapSource[]
    /** Local resources/components that do not exist: the kustomize build fails. */
    missing: { path: string; ref: string; via: string }[]
    /** Files the controller never decrypts: patchesStrategicMerge and patchesJson6902 paths (checked for markers). */
    undecryptedPatches: ConfigMapSource[]
    warnings: string[]
    /** Kustomization directories visited (relative). */
    visited: string[]
    /** Documents parsed while generating the kustomization (relative path → documents), reused by the caller. */
    parsed: Map<string, unknown[]>
}

/** Forward-slash path relative to root ("." stays "."). */
export function relToRoot(root: string, abs: string): string {
    const r = path.relative(root, abs)
    return r === "" ? "." : r.split(path.sep).join("/")
}

/**
 * filepath-securejoin's `SecureJoin(root, unsafe)`: `..` and symlinks are resolved inside root and clamped to it
 * (never rejected). The result may not exist.
 */
export function secureJoin(root: string, unsafe: string, cache?: Map<string, Stats | null>): string {
    let pending = unsafe.split(/[/\\]+/).filter((p) => p !== "" && p !== ".")
    const cur: string[] = []
    let links = 0
    while (pending.length > 0) {
        const part = pending.shift()!
        if (part === "..") {
            cur.pop()
            continue
        }
        const candidate = path.join(root, ...cur, part)
        let st = cache?.get(candidate)
        if (st === undefined) {
            try {
                st = lstatSync(candidate)
            } catch {
                st = null
            }
            cache?.set(candidate, st)
        }
        if (st === null) {
            cur.push(part)
            continue
        }
        if (!st.isSymbolicLink()) {
            cur.push(part)
            continue
        }
        if (++links > 255) {
            cur.push(part)
            break
        }
        const target = readlinkSync(candidate)
        if (target.startsWith("/")) cur.length = 0
        pending = [...target.split("/").filter((p) => p !== "" && p !== "."), ...pending]
    }
    return path.join(root, ...cur)
}

/** Whether a resource/patch reference is remote (URL, go-getter, git SSH). */
function isRemote(ref: string): boolean {
    return /^[a-z][a-z0-9+.-]*::/i.test(ref) || /^[a-z][a-z0-9+.-]*:\/\/[^/]/i.test(ref) || /^git@/.test(ref) || /^(github|gitlab|bitbucket)\.(com|org)\//.test(ref)
}

function findKustomization(dirAbs: string): { files: string[] } {
    const files: string[] = []
    for (const name of KUSTOMIZATION_FILES) {
        try {
            if (statSync(path.join(dirAbs, name)).isFile()) files.push(name)
        } catch {
            // absent
        }
    }
    return { files }
}

function isDir(abs: string): boolean {
    try {
        return statSync(abs).isDirectory()
    } catch {
        return false
    }
}

function strings(v: unknown): string[] {
    if (typeof v === "string") return [v]
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []
}

function list(v: unknown): Record<string, unknown>[] {
    return Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => x !== null && typeof x === "object" && !Array.isArray(x)) : []
}

type ParseYaml = (text: string) => unknown
/** Every document of a YAML stream as plain values; throws on a syntax error. */
type ParseAll = (text: string) => unknown[]

/** What one kustomization level passes down to the levels it includes. */
interface Scope {
    namespace?: string
    namePrefix: string
    nameSuffix: string
}

/**
 * The generated kustomization's resources (§5.1 step 2): every *.yaml/*.yml file (each must decode as Kubernetes
 * objects, else the reconcile fails), folders with a kustomization file as leaves.
 */
function generatedResources(root: string, dirAbs: string, parseAll: ParseAll, parsed: Map<string, unknown[]>): { resources: string[]; error?: string } {
    const out: string[] = []
    let error: string | undefined
    const walk = (abs: string) => {
        let names: string[]
        try {
            names = readdirSync(abs).sort()
        } catch {
            return
        }
        for (const name of names) {
            if (error !== undefined) return
            // source-controller's default ignore list keeps these out of the artifact
            if (name === ".git" || name === ".sops.yaml" || name === ".flux.yaml" || name === ".goreleaser.yml") continue
            const child = path.join(abs, name)
            let st: Stats
            try {
                // lstat, as Go's filepath.Walk: a symlinked folder is not descended into (two links to "." would
                // never end), a symlinked file is read through the link (os.ReadFile), but only inside root
                st = lstatSync(child)
            } catch {
                continue
            }
            if (st.isDirectory()) {
                if (findKustomization(child).files.length > 0) out.push(path.relative(dirAbs, child))
                else walk(child)
            } else if (/\.ya?ml$/.test(name)) {
                if (st.isSymbolicLink() && !linkStaysInside(root, child)) {
                    error = `kustomize create failed: open ${relToRoot(root, child)}: no such file or directory`
                    return
                }
                const why = kubernetesYamlProblem(child, parseAll, (docs) => parsed.set(relToRoot(root, child), docs))
                if (why !== undefined) error = `kustomize create failed: failed to decode Kubernetes YAML from ${relToRoot(root, child)}: ${why}`
                else out.push(path.relative(dirAbs, child))
            }
        }
    }
    walk(dirAbs)
    return error === undefined ? { resources: out } : { resources: out, error }
}

/** Does a symlink resolve to a regular file inside root? (One that leaves it is clamped away, like secure-join.) */
function linkStaysInside(root: string, link: string): boolean {
    try {
        const target = realpathSync(link)
        const rel = path.relative(realpathSync(root), target)
        return rel !== "" && rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel) && statSync(target).isFile()
    } catch {
        return false
    }
}

/** Why kustomize's `SliceFromBytes` would refuse a file, or undefined. */
function kubernetesYamlProblem(abs: string, parseAll: ParseAll, keep: (docs: unknown[]) => void): string | undefined {
    let text: string
    try {
        text = readFileSync(abs, "utf8")
    } catch (e) {
        return (e as Error).message
    }
    let docs: unknown[]
    try {
        docs = parseAll(text)
    } catch (e) {
        return `error converting YAML to JSON: yaml: ${(e as Error).message.split("\n")[0]}`
    }
    for (const d of docs) {
        if (d === null || d === undefined) continue
        const kind = d instanceof Branch ? d.get("kind") : typeof d === "object" && !Array.isArray(d) ? (d as Record<string, unknown>).kind : undefined
        if (d instanceof Branch && d.items.length === 0) continue
        if (typeof kind !== "string") return "missing Resource metadata"
    }
    keep(docs)
    return undefined
}

/**
 * Walk the kustomizations from `spec.path` like the controller's `DecryptSources` (and the build's resource
 * accumulation), collecting what it decrypts before the build and which files become resources.
 * @param root - the artifact root (absolute)
 * @param specPath - `spec.path`, relative to root (any form; cleaned with secure-join)
 * @param parse - a YAML parser (the `yaml` package's `parse`), loaded by the caller
 */
export function collectFileSet(
    root: string,
    specPath: string,
    parse: ParseYaml,
    flux: { components?: readonly string[]; targetNamespace?: string } = {},
    parseAll: ParseAll = (t) => [parse(t)],
): FileSet {
    const lstats = new Map<string, Stats | null>()
    const join = (unsafe: string) => secureJoin(root, unsafe, lstats)
    const dirAbs = join(specPath)
    const set: FileSet = {
        root,
        dirPath: relToRoot(root, dirAbs),
        generated: false,
        sources: [],
        resources: [],
        configMapSources: [],
        undecryptedPatches: [],
        missing: [],
        warnings: [],
        visited: [],
        parsed: new Map(),
    }
    if (!isDir(dirAbs)) {
        set.error = `kustomization path not found: ${set.dirPath}`
        return set
    }
    const seen = new Set<string>()
    const resourceSeen = new Set<string>()
    const sourceSeen = new Set<string>()

    const visit = (kdirAbs: string, scope: Scope, generated?: string[], extraComponents: readonly string[] = []): void => {
        if (set.error !== undefined || seen.has(kdirAbs)) return
        seen.add(kdirAbs)
        const kdirRel = relToRoot(root, kdirAbs)
        set.visited.push(kdirRel)
        let k: Record<string, unknown>
        let kfile: string
        if (generated !== undefined) {
            k = { resources: generated }
            kfile = `${kdirRel === "." ? "" : `${kdirRel}/`}kustomization.yaml (generated)`
        } else {
            const { files } = findKustomization(kdirAbs)
            if (files.length > 1) {
                set.error = "found multiple kustomization files"
                return
            }
            if (files.length === 0) {
                set.error = "no kustomization file found"
                return
            }
            kfile = `${kdirRel === "." ? "" : `${kdirRel}/`}${files[0]}`
            try {
                const v = parse(readFileSync(path.join(kdirAbs, files[0]), "utf8"))
                k = v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
            } catch (e) {
                set.error = `failed to unmarshal kustomization file from '${kfile}': ${(e as Error).message.split("\n")[0]}`
                return
            }
        }
        const inner: Scope = {
            namespace: scope.namespace ?? (typeof k.namespace === "string" && k.namespace !== "" ? k.namespace : undefined),
            namePrefix: scope.namePrefix + (typeof k.namePrefix === "string" ? k.namePrefix : ""),
            nameSuffix: (typeof k.nameSuffix === "string" ? k.nameSuffix : "") + scope.nameSuffix,
        }
        /** A referenced file, resolved as the decryptor does (relative to the kustomization dir, absolute = root). */
        const resolve = (ref: string) => join(ref.startsWith("/") ? ref : path.join(kdirRel, ref))

        // pre-build targets, in the decryptor's order: secretGenerator (files, envs), then patches
        for (const gen of list(k.secretGenerator)) {
            const name = typeof gen.name === "string" ? gen.name : ""
            for (const f of strings(gen.files)) {
                const eq = f.indexOf("=")
                const key = eq >= 0 ? f.slice(0, eq) : path.basename(f)
                const ref = eq >= 0 ? f.slice(eq + 1) : f
                addSource({ ref, resolved: resolve(ref), format: formatForPath(eq >= 0 ? f.slice(0, eq) : ref), via: `${kfile} secretGenerator '${name}' files`, key, generator: name })
            }
            for (const e of [...strings(gen.envs), ...strings(gen.env)]) {
                const f = formatForPath(e)
                addSource({ ref: e, resolved: resolve(e), format: f === "binary" ? "dotenv" : f, via: `${kfile} secretGenerator '${name}' envs`, generator: name })
            }
        }
        for (const p of list(k.patches)) {
            if (typeof p.path !== "string" || p.path === "") continue
            if (isRemote(p.path)) continue
            addSource({ ref: p.path, resolved: resolve(p.path), format: formatForPath(p.path), via: `${kfile} patches` })
        }
        for (const p of [...strings(k.patchesStrategicMerge), ...list(k.patchesJson6902).flatMap((x) => strings(x.path))]) {
            if (isRemote(p) || p.includes("\n")) continue
            set.undecryptedPatches.push({ path: relToRoot(root, resolve(p)), via: `${kfile} ${p.endsWith(".json") ? "patchesJson6902" : "patchesStrategicMerge"}` })
        }
        for (const gen of list(k.configMapGenerator)) {
            const name = typeof gen.name === "string" ? gen.name : ""
            for (const f of [...strings(gen.files), ...strings(gen.envs), ...strings(gen.env)]) {
                const eq = f.indexOf("=")
                const ref = eq >= 0 ? f.slice(eq + 1) : f
                set.configMapSources.push({ path: relToRoot(root, resolve(ref)), via: `${kfile} configMapGenerator '${name}'` })
            }
        }

        const entries: { ref: string; component: boolean }[] = [
            ...strings(k.resources).map((ref) => ({ ref, component: false })),
            ...strings(k.components).map((ref) => ({ ref, component: true })),
            ...extraComponents.map((ref) => ({ ref, component: true })),
        ]
        for (const { ref, component } of entries) {
            if (set.error !== undefined) return
            if (isRemote(ref)) continue
            const abs = join(path.join(kdirRel, ref))
            // secure-join resolved every symlink, so the cached lstat of the result is its stat
            let st: Stats | undefined = lstats.get(abs) ?? undefined
            if (st === undefined) {
                try {
                    st = statSync(abs)
                } catch {
                    st = undefined
                }
            }
            if (st === undefined) {
                set.missing.push({ path: relToRoot(root, abs), ref, via: `${kfile} ${component ? "components" : "resources"}` })
                continue
            }
            if (st.isDirectory()) visit(abs, inner)
            else if (!component) {
                const rel = relToRoot(root, abs)
                if (!resourceSeen.has(rel)) {
                    resourceSeen.add(rel)
                    set.resources.push({ path: rel, ...(inner.namespace === undefined ? {} : { namespace: inner.namespace }), namePrefix: inner.namePrefix, nameSuffix: inner.nameSuffix })
                }
            }
        }
    }

    function addSource(s: { ref: string; resolved: string; format: Format; via: string; key?: string; generator?: string }): void {
        const rel = relToRoot(root, s.resolved)
        const id = `${rel}\u0000${s.format}`
        if (sourceSeen.has(id)) return
        sourceSeen.add(id)
        set.sources.push({
            path: rel,
            ref: s.ref,
            format: s.format,
            via: s.via,
            ...(s.key === undefined ? {} : { key: s.key }),
            ...(s.generator === undefined ? {} : { generator: s.generator }),
        })
    }

    // spec.components and spec.targetNamespace are merged into the top kustomization before decryption
    for (const c of flux.components ?? []) {
        if (c.startsWith("/") || isRemote(c)) {
            set.error = `component path '${c}' must be local and relative`
            return set
        }
    }
    const scope: Scope = { ...(flux.targetNamespace ? { namespace: flux.targetNamespace } : {}), namePrefix: "", nameSuffix: "" }
    const top = findKustomization(dirAbs)
    if (top.files.length === 0) {
        set.generated = true
        const gen = generatedResources(root, dirAbs, parseAll, set.parsed)
        if (gen.error !== undefined) {
            set.error = gen.error
            return set
        }
        visit(dirAbs, scope, gen.resources, flux.components)
    } else visit(dirAbs, scope, undefined, flux.components)
    return set
}

/** What the controller finds when it opens a pre-build target (§5.2 path safety), before any parsing. */
export type SourceRead =
    | { ok: true; bytes: Buffer }
    | { ok: false; error: string }

/** Open a referenced file like the decryptor: lstat (no such file), regular file, size limit, read. */
export function readSource(root: string, rel: string): SourceRead {
    const abs = path.join(root, rel)
    let st: Stats
    try {
        st = lstatSync(abs)
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        return { ok: false, error: `lstat ${rel}: ${code === "ENOENT" ? "no such file or directory" : code === "ENOTDIR" ? "not a directory" : (e as Error).message}` }
    }
    if (!st.isFile()) return { ok: false, error: "cannot decrypt irregular file as it has file mode type bits set" }
    if (st.size > MAX_ENCRYPTED_FILE_SIZE) {
        return { ok: false, error: `cannot decrypt file with size (${st.size} bytes) exceeding limit (${MAX_ENCRYPTED_FILE_SIZE})` }
    }
    try {
        return { ok: true, bytes: readFileSync(abs) }
    } catch (e) {
        return { ok: false, error: `open ${rel}: ${(e as Error).message}` }
    }
}
