/**
 * `kubectl sops filestatus FILE…`: whether files are encrypted, as sops says it: `{"encrypted":true}` when the
 * file has `sops` metadata with a non-empty `version` and `mac`.
 */
import { MetadataNotFoundError } from "../../errors.js"
import { expandTargets, forEachFile } from "../bulk.js"
import { createRuntime, fileOptions, loadEncrypted } from "../file-ops.js"
import { configFlags, formatFlags } from "../flags.js"
import { readInput, writeOut } from "../io.js"
import type { CommandSpec } from "../spec.js"

/** The filestatus command. */
export const filestatus: CommandSpec = {
    id: "filestatus",
    summary: "Tell whether files are encrypted",
    description:
        'Prints {"encrypted":true} or {"encrypted":false} for one file, exactly like sops. With several files or folders, prints one JSON object per line with the file name.',
    examples: [
        { description: "Check one file", command: "kubectl sops filestatus secret.yaml" },
        { description: "Check every file under a folder that matches a .sops.yaml creation rule", command: "kubectl sops filestatus clusters/" },
    ],
    flags: { config: configFlags.config, "input-type": formatFlags["input-type"] },
    args: [{ name: "file", summary: "Files or folders", required: true }],
    variadic: true,
    async run(parsed, io) {
        const rt = createRuntime(io)
        const { files, bulk } = expandTargets(parsed.argv, io, parsed.flags.config as string | undefined)
        const status = async (file: string): Promise<boolean> => {
            const input = await readInput(file, () => io.stdin, io.cwd)
            try {
                const { file: loaded } = await loadEncrypted(rt, input, file, fileOptions(parsed.flags, file))
                const version = loaded.metadata.get("version")
                const mac = loaded.metadata.get("mac")
                return typeof version === "string" && version !== "" && typeof mac === "string" && mac !== ""
            } catch (error) {
                if (error instanceof MetadataNotFoundError) return false
                throw error
            }
        }
        if (!bulk) {
            const encrypted = await status(files[0])
            await writeOut(io, `${JSON.stringify({ encrypted })}\n`)
            return 0
        }
        return forEachFile(files, io, async (file) => `${JSON.stringify({ file, encrypted: await status(file) })}\n`)
    },
}
