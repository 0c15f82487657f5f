/**
 * `kubectl sops edit FILE`: decrypt to a private temp file, open `$SOPS_EDITOR`/`$EDITOR`, re-encrypt when changed.
 * The temp file is 0600 inside a 0700 folder and is removed on every exit path (including SIGINT/SIGTERM/SIGHUP),
 * except one: edited text that cannot be used and that the user does not want to fix in the editor again is kept,
 * and its path is reported.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { ErrorKind, FormatError, KsopsError } from "../../errors.js"
import { shellSplit } from "../../keys/exec.js"
import { reencryptDocument } from "../../sops/document.js"
import { metadataToTree } from "../../sops/metadata.js"
import { formatFromPath } from "../../stores/index.js"
import { createRuntime, encryptBytes, fileOptions, loadDecrypted, type Runtime } from "../file-ops.js"
import { configFlags, decryptionFlags, formatFlags, keyFlags, kmsOptionFlags, selectionFlags } from "../flags.js"
import { readInput, writeFileAtomic } from "../io.js"
import type { CommandIo, CommandSpec, ParsedFlags } from "../spec.js"

const EXAMPLES: Record<string, string> = {
    yaml: "example_key: example_value\n",
    json: '{\n\t"example_key": "example_value"\n}',
    dotenv: "example_key=example_value\n",
    ini: "[section]\nexample_key = example_value\n",
    binary: "example value\n",
}

/**
 * The editor command: `$SOPS_EDITOR`, else `$EDITOR` (split like a shell command line), else vim, nano or vi.
 * @throws KsopsError NoEditorFound (201)
 */
export function editorCommand(env: CommandIo["env"]): string[] {
    for (const name of ["SOPS_EDITOR", "EDITOR"]) {
        const v = env[name]
        if (v !== undefined && v.trim() !== "") return shellSplit(v)
    }
    for (const candidate of ["vim", "nano", "vi"]) {
        const found = spawnSync("sh", ["-c", `command -v ${candidate}`], { encoding: "utf8", env: { ...env } as NodeJS.ProcessEnv })
        if (found.status === 0 && found.stdout.trim() !== "") return [found.stdout.trim()]
    }
    throw new KsopsError(ErrorKind.NoEditorFound, "Could not find editor vim, nano or vi", { hint: "set $EDITOR or $SOPS_EDITOR" })
}

/** Run the editor on a file with the terminal attached; removes `cleanupDir` if a signal ends us meanwhile. */
function runEditor(argv: string[], file: string, io: CommandIo, cleanupDir: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const [cmd, ...rest] = argv
        const child = spawn(cmd, [...rest, file], { stdio: "inherit", env: { ...io.env } as NodeJS.ProcessEnv })
        const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"]
        const onSignal = (signal: NodeJS.Signals) => {
            rmSync(cleanupDir, { recursive: true, force: true })
            child.kill(signal)
            process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1))
        }
        for (const s of signals) process.on(s, onSignal)
        const done = () => {
            for (const s of signals) process.off(s, onSignal)
        }
        child.on("error", (error) => {
            done()
            reject(new KsopsError(ErrorKind.NoEditorFound, `could not run editor ${cmd}: ${error.message}`, { hint: "set $EDITOR or $SOPS_EDITOR" }))
        })
        child.on("close", (code, signal) => {
            done()
            if (code === 0) resolve()
            else reject(new KsopsError(ErrorKind.Generic, `editor ${cmd} exited with ${signal ?? `status ${code}`}; file left unchanged`))
        })
    })
}

/** sops' words when the edited text cannot be used; it then waits for a key and reopens the editor. */
const RETRY_SYNTAX = "Could not load tree, probably due to invalid syntax. Press a key to return to the editor, or Ctrl+C to exit."

/**
 * Wait for one key on stdin, as sops does after an error in the edited text: true to return to the editor, false
 * when the user refuses (Ctrl+C or Ctrl+D on a terminal, a signal) or nobody can answer (end of input). On a
 * terminal the key is read raw; from a pipe one byte is taken and the rest is left for the next question.
 */
function waitForKey(io: CommandIo): Promise<boolean> {
    const stdin = io.stdin
    if (stdin.readableEnded || stdin.destroyed) return Promise.resolve(false)
    const tty = stdin.isTTY === true && typeof stdin.setRawMode === "function"
    return new Promise((resolve) => {
        const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"]
        let settled = false
        const finish = (again: boolean, rest?: Buffer) => {
            if (settled) return
            settled = true
            stdin.off("data", onData)
            stdin.off("end", onEnd)
            stdin.off("error", onEnd)
            for (const s of signals) process.off(s, onSignal)
            stdin.pause()
            if (rest !== undefined && rest.length > 0) stdin.unshift(rest)
            if (tty) stdin.setRawMode(false)
            resolve(again)
        }
        const onData = (chunk: Buffer | string) => {
            const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk
            if (bytes.length === 0) return
            // Ctrl+C and Ctrl+D arrive as bytes in raw mode
            if (tty) finish(bytes[0] !== 0x03 && bytes[0] !== 0x04)
            else finish(true, bytes.subarray(1))
        }
        const onEnd = () => finish(false)
        const onSignal = () => finish(false)
        for (const s of signals) process.on(s, onSignal)
        stdin.on("data", onData)
        stdin.once("end", onEnd)
        stdin.once("error", onEnd)
        if (tty) stdin.setRawMode(true)
        stdin.resume()
    })
}

/** Errors in the edited text that the user can fix in the editor (sops reopens it for these). */
function isFixable(error: unknown): error is KsopsError {
    return (
        error instanceof FormatError ||
        (error instanceof KsopsError &&
            (error.kind === ErrorKind.FileAlreadyEncrypted || error.kind === ErrorKind.NeedAtLeastOneDocument || error.kind === ErrorKind.Format))
    )
}

/**
 * Run the editor on `temp` until `use` accepts the edited bytes, as sops' edit loop does: an unchanged file exits
 * 200; a fixable error is shown and, after a key press, the editor reopens on the same text. When the user refuses
 * (or stdin cannot answer), the temp file is kept, its path is reported and the run fails; `keep()` is called so
 * that the caller does not remove it.
 */
async function editUntilValid<T>(
    editor: string[],
    temp: string,
    io: CommandIo,
    original: Uint8Array,
    keep: () => void,
    use: (edited: Uint8Array) => Promise<T>,
): Promise<T> {
    for (;;) {
        await runEditor(editor, temp, io, path.dirname(temp))
        const edited = new Uint8Array(await readFile(temp))
        if (Buffer.from(edited).equals(Buffer.from(original))) throw notModified()
        try {
            return await use(edited)
        } catch (error) {
            if (!isFixable(error)) throw error
            io.stderr.write(`${error.message}\n${RETRY_SYNTAX}\n`)
            if (await waitForKey(io)) continue
            keep()
            throw new KsopsError(error.kind, `your edits are kept in ${temp}; the encrypted file is unchanged`, {
                hint: "it is plaintext: copy what you need from it, then remove its folder",
                cause: error,
            })
        }
    }
}

async function editFile(rt: Runtime, file: string, flags: ParsedFlags): Promise<number> {
    const io = rt.io
    const editor = editorCommand(io.env)
    const exists = existsSync(path.resolve(io.cwd, file))
    const opts = fileOptions(flags, file)
    const dir = mkdtempSync(path.join(tmpdir(), "kubectl-sops-edit-"))
    let kept = false
    const keep = () => {
        kept = true
    }
    try {
        const temp = path.join(dir, path.basename(file))
        if (!exists) {
            const format = opts.inputType ?? formatFromPath(opts.name ?? file)
            const original = Buffer.from(EXAMPLES[format] ?? "")
            await writeFile(temp, original, { mode: 0o600 })
            const encrypted = await editUntilValid(editor, temp, io, original, keep, async (edited) => {
                try {
                    return await encryptBytes(rt, edited, file, { ...opts, flags })
                } catch (error) {
                    if (error instanceof FormatError && error.file === file) throw error.withFile(`${file} (edited)`)
                    throw error
                }
            })
            await writeFileAtomic(path.resolve(io.cwd, file), encrypted)
            return 0
        }
        const decrypted = await loadDecrypted(rt, await readInput(file, () => io.stdin, io.cwd), file, {
            ...opts,
            ignoreMac: flags["ignore-mac"] === true,
            ...(flags["decryption-order"] === undefined ? {} : { decryptionOrder: flags["decryption-order"] as string }),
        })
        try {
            const store = decrypted.resolved.input
            const original = store.emitPlain(decrypted.branches)
            await writeFile(temp, original, { mode: 0o600 })
            const branches = await editUntilValid(editor, temp, io, original, keep, async (edited) => {
                let loaded: typeof decrypted.branches
                try {
                    loaded = store.loadPlain(edited)
                } catch (error) {
                    if (error instanceof FormatError) throw error.withFile(`${file} (edited)`)
                    throw error
                }
                if (store.hasMetadataKey(loaded)) {
                    throw new KsopsError(ErrorKind.Format, "the edited file has a top-level 'sops' entry; remove it and edit again")
                }
                if (loaded.length === 0) throw new KsopsError(ErrorKind.NeedAtLeastOneDocument, "Error: the edited file must contain at least one document")
                return loaded
            })
            const md = reencryptDocument(branches, decrypted.metadata, decrypted.dataKey, decrypted.stash, rt.entropy)
            await writeFileAtomic(path.resolve(io.cwd, file), decrypted.resolved.output.emitEncrypted(branches, metadataToTree(md)))
            return 0
        } finally {
            decrypted.dataKey.fill(0)
        }
    } finally {
        if (!kept) rmSync(dir, { recursive: true, force: true })
    }
}

function notModified(): KsopsError {
    return new KsopsError(ErrorKind.FileHasNotBeenModified, "File has not changed, exiting.")
}

/** The edit command. */
export const edit: CommandSpec = {
    id: "edit",
    summary: "Edit an encrypted file in your editor",
    description:
        "Decrypts FILE into a private temp file (0600 in a 0700 folder), opens $SOPS_EDITOR or $EDITOR (else vim, nano or vi), and when you changed it, re-encrypts it with the same data key (unchanged values keep their ciphertext) and writes it in place. Exits 200 when nothing changed. A new FILE starts from an example and is encrypted for the matching creation rule or the given keys. When the edited text cannot be read (a syntax error), the error is shown and a key press reopens the editor on it; Ctrl+C (or no terminal to ask) keeps the temp file, prints its path and leaves FILE unchanged. Otherwise the temp file is removed on every exit path.",
    examples: [
        { description: "Edit a secret", command: "kubectl sops edit secret.yaml" },
        {
            description: "Change the user from admin to root with a script as the editor (the file name is appended)",
            command: "SOPS_EDITOR='sed -i s/YWRtaW4=/cm9vdA==/' kubectl sops edit secret.yaml",
        },
    ],
    flags: { ...configFlags, ...formatFlags, ...decryptionFlags, ...keyFlags, ...kmsOptionFlags, ...selectionFlags },
    args: [{ name: "file", summary: "File to edit (created when missing)" }],
    async run(parsed, io) {
        const file = parsed.argv[0]
        if (file === undefined) throw new KsopsError(ErrorKind.NoFileSpecified, "Error: no file specified")
        return editFile(createRuntime(io, { noAgent: parsed.flags["no-agent"] === true }), file, parsed.flags)
    },
}
