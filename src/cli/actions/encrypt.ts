/** `kubectl sops encrypt [FILE…]`: encrypt plaintext files (stdout, `--output`, or in place). */
import path from "node:path"
import { ErrorKind, KsopsError } from "../../errors.js"
import { bulkNeedsInPlace, expandTargets, forEachFile, Skip } from "../bulk.js"
import { createRuntime, encryptBytes, fileOptions, readFor, requireExisting, type Runtime, writeResult } from "../file-ops.js"
import { configFlags, formatFlags, keyFlags, kmsOptionFlags, outputFlags, selectionFlags } from "../flags.js"
import type { CommandSpec, ParsedFlags } from "../spec.js"

async function encryptOne(rt: Runtime, file: string | undefined, flags: ParsedFlags): Promise<void> {
    const dest = { inPlace: flags["in-place"] === true, output: flags.output as string | undefined }
    requireExisting(rt, file)
    const input = await readFor(rt, file, dest)
    const opts = fileOptions(flags, file === undefined ? undefined : path.resolve(rt.io.cwd, file))
    const out = await encryptBytes(rt, input, file, { ...opts, flags })
    await writeResult(rt, file, dest, out)
}

/** The encrypt command. */
export const encrypt: CommandSpec = {
    id: "encrypt",
    summary: "Encrypt a file with SOPS",
    description:
        "Encrypts a YAML, JSON, dotenv, INI or binary file for the keys of the matching .sops.yaml creation rule, or for the keys given with --age/--pgp/… (then the config's keys are ignored). Prints the result unless --in-place or --output is given. Reads stdin when no file is given (then --filename-override picks the format and the rule). With several files or folders (files matching a creation rule), encrypts each in place and skips files that are already encrypted.",
    examples: [
        { description: "Encrypt a Secret for an age recipient and print it", command: "kubectl sops encrypt --age age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u --encrypted-regex '^(data|stringData)$' secret.yaml" },
        { description: "Encrypt in place with the keys of .sops.yaml", command: "kubectl sops encrypt -i secret.yaml" },
        { description: "Encrypt stdin", command: "cat secret.yaml | kubectl sops encrypt --filename-override secret.yaml > secret.enc.yaml" },
        { description: "Encrypt every plaintext file under clusters/ that matches a creation rule", command: "kubectl sops encrypt -i clusters/" },
    ],
    flags: { ...configFlags, ...formatFlags, ...outputFlags, ...keyFlags, ...kmsOptionFlags, ...selectionFlags },
    args: [{ name: "file", summary: "File to encrypt (stdin when omitted); several files or folders with -i" }],
    variadic: true,
    async run(parsed, io) {
        const rt = createRuntime(io)
        if (parsed.argv.length === 0) {
            if (parsed.flags["filename-override"] === undefined) {
                throw new KsopsError(ErrorKind.NoFileSpecified, "Error: no file specified", {
                    hint: "name a file, or give --filename-override when encrypting stdin",
                })
            }
            await encryptOne(rt, undefined, parsed.flags)
            return 0
        }
        const { files, bulk } = expandTargets(parsed.argv, io, parsed.flags.config as string | undefined)
        if (!bulk) {
            await encryptOne(rt, files[0], parsed.flags)
            return 0
        }
        if (parsed.flags["in-place"] !== true) throw bulkNeedsInPlace("encrypt")
        return forEachFile(files, io, async (file) => {
            try {
                await encryptOne(rt, file, parsed.flags)
            } catch (error) {
                if (error instanceof KsopsError && error.kind === ErrorKind.FileAlreadyEncrypted) throw new Skip("already encrypted")
                throw error
            }
        })
    },
}
