/** `kubectl sops set FILE PATH VALUE` and `kubectl sops unset FILE PATH`: change one value of an encrypted file in place. */
import path from "node:path"
import { ErrorKind, KsopsError, UsageError } from "../../errors.js"
import { reencryptDocument } from "../../sops/document.js"
import type { TreeValue } from "../../sops/tree.js"
import { parseTreePath, setPath, unsetPath } from "../../sops/tree-path.js"
import { createRuntime, type DecryptedFile, emitEncrypted, fileOptions, loadDecrypted, requireExisting, type Runtime } from "../file-ops.js"
import { configFlags, decryptionFlags, formatFlags } from "../flags.js"
import { readInput, writeFileAtomic } from "../io.js"
import { loadStore } from "../stores.js"
import type { CommandSpec, ParsedFlags } from "../spec.js"

/**
 * A JSON value as sops inserts it: scalars as they are (numbers as floats), objects through the JSON store.
 * @throws KsopsError (InvalidSetFormat, exit 7 as in sops) when the text is not JSON
 */
export async function jsonToTreeValue(text: string, source = "VALUE"): Promise<TreeValue> {
    let parsed: unknown
    try {
        parsed = JSON.parse(text)
    } catch {
        // JSON.parse's message quotes the text, which is the secret: say what was expected, not what was given
        throw new KsopsError(ErrorKind.InvalidSetFormat, `${source} must be JSON: quote a string as '"text"'`, {
            hint: "numbers, true/false, null, objects and arrays are JSON too, e.g. 5, true, '{\"a\":1}'",
        })
    }
    if (parsed !== null && typeof parsed === "object") {
        const store = await loadStore("json")
        try {
            return store.loadPlain(new TextEncoder().encode(text))[0]
        } catch {
            // the store's message may quote a literal of the value (e.g. a float out of range)
            throw new KsopsError(ErrorKind.InvalidSetFormat, `${source} must be JSON that sops can store (finite numbers, unique keys)`)
        }
    }
    return parsed as string | number | boolean | null
}

async function load(rt: Runtime, file: string, flags: ParsedFlags): Promise<DecryptedFile> {
    requireExisting(rt, file)
    const input = await readInput(file, () => rt.io.stdin, rt.io.cwd)
    return loadDecrypted(rt, input, file, {
        ...fileOptions(flags, file),
        ignoreMac: flags["ignore-mac"] === true,
        ...(flags["decryption-order"] === undefined ? {} : { decryptionOrder: flags["decryption-order"] as string }),
    })
}

async function save(rt: Runtime, file: string, decrypted: DecryptedFile): Promise<void> {
    const md = reencryptDocument(decrypted.branches, decrypted.metadata, decrypted.dataKey, decrypted.stash, rt.entropy)
    decrypted.dataKey.fill(0)
    await writeFileAtomic(path.resolve(rt.io.cwd, file), emitEncrypted(decrypted, md))
}

const commonFlags = {
    config: configFlags.config,
    indent: configFlags.indent,
    "input-type": formatFlags["input-type"],
    "output-type": formatFlags["output-type"],
    ...decryptionFlags,
    idempotent: { type: "boolean", summary: "Do not write the file when nothing changes" },
} as const

/** The set command. */
export const set: CommandSpec = {
    id: "set",
    summary: "Set one value in an encrypted file",
    description:
        "Decrypts the file, sets the value at PATH (a JSON value; maps and lists are allowed), re-encrypts it with the same data key (unchanged values keep their ciphertext) and writes the file in place.",
    examples: [
        { description: "Set a string", command: "kubectl sops set secret.yaml '[\"stringData\"][\"password\"]' '\"s3cret\"'" },
        { description: "Set a value read from a file", command: "kubectl sops set --value-file secret.yaml '[\"data\"][\"tls.crt\"]' value.json" },
        { description: "Set a value read from stdin", command: "echo '\"s3cret\"' | kubectl sops set --value-stdin secret.yaml '[\"stringData\"][\"password\"]'" },
    ],
    flags: {
        ...commonFlags,
        "value-file": { type: "boolean", summary: "VALUE is a file holding the JSON value" },
        "value-stdin": { type: "boolean", summary: "Read the JSON value from stdin (no VALUE argument)" },
    },
    args: [
        { name: "file", summary: "Encrypted file", required: true },
        { name: "path", summary: "Tree path, e.g. '[\"data\"][\"password\"]'", required: true },
        { name: "value", summary: "JSON value (or a file with --value-file)" },
    ],
    async run(parsed, io) {
        const [file, pathText, valueArg] = parsed.argv
        const fromFile = parsed.flags["value-file"] === true
        const fromStdin = parsed.flags["value-stdin"] === true
        if (fromFile && fromStdin) {
            throw new UsageError("Error: cannot use both --value-file and --value-stdin", { kind: ErrorKind.ConflictingParameters })
        }
        if (fromStdin ? valueArg !== undefined : valueArg === undefined) {
            throw new UsageError(fromStdin ? "Error: too many arguments with --value-stdin" : "Error: no value specified", {
                kind: ErrorKind.NoFileSpecified,
                hint: "usage: kubectl sops set FILE PATH VALUE",
            })
        }
        const rt = createRuntime(io, { noAgent: parsed.flags["no-agent"] === true })
        const parts = parseTreePath(pathText)
        let text: string
        if (fromStdin) text = new TextDecoder().decode(await readInput(undefined, () => io.stdin))
        else if (fromFile) text = new TextDecoder().decode(await readInput(valueArg, () => io.stdin, io.cwd))
        else text = valueArg
        const value = await jsonToTreeValue(text, fromStdin ? "the value on stdin" : fromFile ? "the content of the --value-file file" : "VALUE")
        const decrypted = await load(rt, file, parsed.flags)
        const store = decrypted.resolved.output
        const before = parsed.flags.idempotent === true ? store.emitPlain(decrypted.branches) : undefined
        setPath(decrypted.branches, parts, value)
        if (before !== undefined && Buffer.from(before).equals(Buffer.from(store.emitPlain(decrypted.branches)))) {
            decrypted.dataKey.fill(0)
            return 0
        }
        await save(rt, file, decrypted)
        return 0
    },
}

/** The unset command. */
export const unset: CommandSpec = {
    id: "unset",
    summary: "Remove one value from an encrypted file",
    description: "Decrypts the file, removes the value at PATH, re-encrypts it with the same data key and writes the file in place.",
    examples: [{ description: "Remove a key", command: "kubectl sops unset secret.yaml '[\"data\"][\"user\"]'" }],
    flags: commonFlags,
    args: [
        { name: "file", summary: "Encrypted file", required: true },
        { name: "path", summary: "Tree path, e.g. '[\"data\"][\"user\"]'", required: true },
    ],
    async run(parsed, io) {
        const [file, pathText] = parsed.argv
        const rt = createRuntime(io, { noAgent: parsed.flags["no-agent"] === true })
        const parts = parseTreePath(pathText)
        const decrypted = await load(rt, file, parsed.flags)
        if (!unsetPath(decrypted.branches, parts)) {
            decrypted.dataKey.fill(0)
            if (parsed.flags.idempotent === true) return 0
            throw new KsopsError(ErrorKind.Generic, `component ${pathText} not found`, { hint: "use --idempotent to ignore missing keys" })
        }
        await save(rt, file, decrypted)
        return 0
    },
}
