/** `kubectl sops decrypt [FILE…]`: decrypt SOPS files (stdout, `--output`, `--extract`, or in place). */
import { ErrorKind, KsopsError, MetadataNotFoundError } from "../../errors.js"
import { getPath, parseTreePath } from "../../sops/tree-path.js"
import { bulkNeedsInPlace, expandTargets, forEachFile, Skip } from "../bulk.js"
import { createRuntime, fileOptions, loadDecrypted, readFor, requireExisting, type Runtime, writeResult } from "../file-ops.js"
import { configFlags, decryptionFlags, formatFlags, outputFlags } from "../flags.js"
import type { CommandSpec, ParsedFlags } from "../spec.js"

async function decryptOne(rt: Runtime, file: string | undefined, flags: ParsedFlags): Promise<void> {
    const dest = { inPlace: flags["in-place"] === true, output: flags.output as string | undefined }
    requireExisting(rt, file)
    const extract = flags.extract as string | undefined
    const path = extract === undefined ? undefined : parseTreePath(extract)
    const input = await readFor(rt, file, dest)
    const decrypted = await loadDecrypted(rt, input, file, {
        ...fileOptions(flags, file),
        ignoreMac: flags["ignore-mac"] === true,
        keepIvs: false,
        ...(flags["decryption-order"] === undefined ? {} : { decryptionOrder: flags["decryption-order"] as string }),
    })
    decrypted.dataKey.fill(0)
    const out =
        path === undefined
            ? decrypted.resolved.output.emitPlain(decrypted.branches)
            : decrypted.resolved.output.emitValue(getPath(decrypted.branches, path))
    await writeResult(rt, file, dest, out, { plaintext: true })
}

/** The decrypt command. */
export const decrypt: CommandSpec = {
    id: "decrypt",
    summary: "Decrypt a SOPS file",
    description:
        "Decrypts a file encrypted by sops or kubectl-sops with any key you hold (age identities from SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, ~/.config/sops/age/keys.txt, SSH keys; PGP keys from GnuPG). Prints the plaintext unless --in-place or --output is given; reads stdin when no file is given. --extract prints one value (a string raw, without a newline). With several files or folders (files matching a creation rule) and -i, decrypts each in place and skips files that are not encrypted.",
    examples: [
        { description: "Print the plaintext", command: "kubectl sops decrypt secret.yaml" },
        { description: "Print one value", command: "kubectl sops decrypt --extract '[\"data\"][\"password\"]' secret.yaml" },
        { description: "Decrypt in place", command: "kubectl sops decrypt -i secret.yaml" },
        { description: "Decrypt stdin", command: "kubectl sops decrypt --input-type yaml < secret.yaml" },
    ],
    flags: {
        ...configFlags,
        ...formatFlags,
        ...outputFlags,
        ...decryptionFlags,
        extract: { type: "string", summary: "Print only the value at this path, e.g. '[\"data\"][\"password\"]'" },
    },
    args: [{ name: "file", summary: "File to decrypt (stdin when omitted); several files or folders with -i" }],
    variadic: true,
    async run(parsed, io) {
        const rt = createRuntime(io, { noAgent: parsed.flags["no-agent"] === true })
        if (parsed.argv.length === 0) {
            if (parsed.flags["in-place"] === true) {
                throw new KsopsError(ErrorKind.ConflictingParameters, "Error: cannot use --in-place when reading from stdin")
            }
            await decryptOne(rt, undefined, parsed.flags)
            return 0
        }
        const { files, bulk } = expandTargets(parsed.argv, io, parsed.flags.config as string | undefined)
        if (!bulk) {
            await decryptOne(rt, files[0], parsed.flags)
            return 0
        }
        if (parsed.flags["in-place"] !== true) throw bulkNeedsInPlace("decrypt")
        if (parsed.flags.extract !== undefined || parsed.flags.output !== undefined) {
            throw new KsopsError(ErrorKind.ConflictingParameters, "--extract and --output take a single file")
        }
        return forEachFile(files, io, async (file) => {
            try {
                await decryptOne(rt, file, parsed.flags)
            } catch (error) {
                if (error instanceof MetadataNotFoundError) throw new Skip("not encrypted")
                throw error
            }
        })
    },
}
