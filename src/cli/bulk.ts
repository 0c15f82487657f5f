/**
 * Bulk mode: several files and folders in one process. Folders are walked recursively and yield the files that
 * match a `.sops.yaml` creation rule (hidden entries and `node_modules` are skipped).
 */
import { readdirSync, statSync } from "node:fs"
import path from "node:path"
import { findConfig, matchRule } from "../config/sops-yaml.js"
import { ErrorKind, KsopsError } from "../errors.js"
import { renderError } from "./errors.js"
import { deferDirSyncs, progress, writeOut } from "./io.js"
import type { CommandIo } from "./spec.js"

/** The files named by command-line arguments (files as given; folders expanded). */
export interface Targets {
    files: string[]
    /** More than one file, or a folder was given. */
    bulk: boolean
}

/**
 * Expand arguments into files.
 * @param config - `--config`, used to decide which files in a folder match a creation rule.
 * @throws KsopsError CouldNotReadInputFile for an argument that does not exist
 */
export function expandTargets(args: readonly string[], io: CommandIo, config?: string): Targets {
    const files: string[] = []
    let folder = false
    for (const arg of args) {
        let isDir = false
        try {
            isDir = statSync(path.resolve(io.cwd, arg)).isDirectory()
        } catch {
            // a missing file is reported by the operation itself, in sops' words
        }
        if (!isDir) {
            files.push(arg)
            continue
        }
        folder = true
        for (const file of walk(path.resolve(io.cwd, arg))) {
            if (matchesRule(file, io, config)) files.push(path.relative(io.cwd, file) || file)
        }
    }
    return { files, bulk: folder || files.length > 1 }
}

function* walk(dir: string): Generator<string> {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const e of entries) {
        if (e.name.startsWith(".") || e.name === "node_modules") continue
        const full = path.join(dir, e.name)
        if (e.isDirectory()) yield* walk(full)
        else if (e.isFile()) yield full
    }
}

function matchesRule(file: string, io: CommandIo, config: string | undefined): boolean {
    try {
        const cfg = findConfig(file, { cwd: io.cwd, ...(config === undefined ? {} : { explicit: config }) })
        return cfg !== undefined && matchRule(cfg, file, io.cwd) !== undefined
    } catch {
        return false
    }
}

/** Why a file was skipped rather than failed. */
export class Skip extends Error {}

/** How many files a bulk run works on at once: their file I/O (reads, fsyncs, renames) overlaps. */
const CONCURRENCY = 16

/**
 * Run `op` on every file, several at a time; each file's outcome is reported in the order the files were given
 * (`file: message`), and an error does not stop the run. What `op` returns as a string is written to stdout, also
 * in file order.
 * @returns 0 when all succeeded, else the exit status of the first failure (in file order)
 */
export async function forEachFile(
    files: readonly string[],
    io: CommandIo,
    op: (file: string) => Promise<unknown>,
): Promise<number> {
    const bar = progress(files.length, io.stderr)
    const outcomes: (unknown | null | undefined)[] = new Array(files.length).fill(undefined)
    /** What each file's operation printed: written to stdout in file order. */
    const outputs: (string | undefined)[] = new Array(files.length).fill(undefined)
    let status = 0
    let reported = 0
    const report = (): void => {
        while (reported < files.length && outcomes[reported] !== undefined) {
            const file = files[reported]
            const error = outcomes[reported]
            const output = outputs[reported]
            if (output !== undefined) void writeOut(io, output)
            if (error !== null) {
                bar.done()
                if (error instanceof Skip) io.stderr.write(`${file}: skipped: ${error.message}\n`)
                else {
                    const rendered = renderError(error, io.env.KUBECTL_SOPS_DEBUG === "1")
                    io.stderr.write(`${file}: ${rendered.text}`)
                    if (status === 0) status = rendered.exitCode
                }
            }
            bar.tick(file)
            reported++
        }
    }
    let next = 0
    const worker = async (): Promise<void> => {
        while (next < files.length) {
            const i = next++
            try {
                const output = await op(files[i])
                if (typeof output === "string") outputs[i] = output
                outcomes[i] = null
            } catch (error) {
                outcomes[i] = error ?? new Error("unknown error")
            }
            report()
        }
    }
    await deferDirSyncs(() => Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker)))
    bar.done()
    return status
}

/** The error for a bulk run without `-i` where output would be ambiguous. */
export function bulkNeedsInPlace(command: string): KsopsError {
    return new KsopsError(ErrorKind.ConflictingParameters, `${command} of several files needs --in-place`, {
        hint: `run \`kubectl sops ${command} -i …\` or name a single file`,
    })
}
