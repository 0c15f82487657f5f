/** `kubectl sops rotate FILE…`: a new data key for a file, optionally adding or removing master keys. */
import { ErrorKind, KsopsError } from "../../errors.js"
import { rotateDocument } from "../../sops/document.js"
import { bulkNeedsInPlace, expandTargets, forEachFile } from "../bulk.js"
import {
    createRuntime,
    emitEncrypted,
    fileOptions,
    keysToAdd,
    keysToRemove,
    loadDecrypted,
    readFor,
    requireExisting,
    type Runtime,
    writeResult,
} from "../file-ops.js"
import { configFlags, decryptionFlags, formatFlags, keyFlags, kmsOptionFlags, outputFlags } from "../flags.js"
import type { CommandSpec, FlagSpec, ParsedFlags } from "../spec.js"

function changeFlags(prefix: "add-" | "rm-", verb: string): Record<string, FlagSpec> {
    const out: Record<string, FlagSpec> = {}
    for (const [name, flag] of Object.entries(keyFlags)) {
        out[`${prefix}${name}`] = {
            type: "string",
            multiple: true,
            helpGroup: "KEY",
            summary: `${verb} ${flag.summary.replace(/ to encrypt for/, "").replace(/ \(env [A-Z_]+\)$/, "")}`,
        }
    }
    return out
}

async function rotateOne(rt: Runtime, file: string, flags: ParsedFlags): Promise<void> {
    const dest = { inPlace: flags["in-place"] === true, output: flags.output as string | undefined }
    requireExisting(rt, file)
    const input = await readFor(rt, file, dest)
    const decrypted = await loadDecrypted(rt, input, file, {
        ...fileOptions(flags, file),
        ignoreMac: flags["ignore-mac"] === true,
        ...(flags["decryption-order"] === undefined ? {} : { decryptionOrder: flags["decryption-order"] as string }),
    })
    decrypted.dataKey.fill(0)
    const md = await rotateDocument(decrypted.branches, decrypted.metadata, rt.keys, rt.entropy, {
        add: await keysToAdd(flags),
        remove: await keysToRemove(flags, rt.keys),
    })
    await writeResult(rt, file, dest, emitEncrypted(decrypted, md))
}

/** The rotate command. */
export const rotate: CommandSpec = {
    id: "rotate",
    summary: "Rotate the data key of SOPS files",
    description:
        "Decrypts the file, makes a new data key, re-encrypts every value and wraps the new key for the file's master keys. --add-age/--add-pgp/… add keys to the first key group, --rm-age/--rm-pgp/… remove them from every group. Prints the result unless --in-place or --output is given. With several files or folders (files matching a creation rule), rotates each in place.",
    examples: [
        { description: "Rotate in place", command: "kubectl sops rotate -i secret.yaml" },
        { description: "Add an age recipient and rotate", command: "kubectl sops rotate -i --add-age age12e6gt43wx2u0ytxk4ljxdt0lh7345t5xapjzyh4tlar3dq0a9v0q5nhsvp secret.yaml" },
        { description: "Remove an age recipient and rotate every file under clusters/", command: "kubectl sops rotate -i --rm-age age12e6gt43wx2u0ytxk4ljxdt0lh7345t5xapjzyh4tlar3dq0a9v0q5nhsvp clusters/" },
    ],
    flags: { ...configFlags, ...formatFlags, ...outputFlags, ...decryptionFlags, ...changeFlags("add-", "Add"), ...changeFlags("rm-", "Remove"), ...kmsOptionFlags },
    args: [{ name: "file", summary: "File to rotate; several files or folders with -i", required: true }],
    variadic: true,
    async run(parsed, io) {
        const rt = createRuntime(io, { noAgent: parsed.flags["no-agent"] === true })
        const { files, bulk } = expandTargets(parsed.argv, io, parsed.flags.config as string | undefined)
        if (!bulk) {
            await rotateOne(rt, files[0], parsed.flags)
            return 0
        }
        if (parsed.flags["in-place"] !== true) throw bulkNeedsInPlace("rotate")
        if (parsed.flags.output !== undefined) throw new KsopsError(ErrorKind.ConflictingParameters, "--output takes a single file")
        return forEachFile(files, io, (file) => rotateOne(rt, file, parsed.flags))
    },
}
