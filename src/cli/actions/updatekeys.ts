/**
 * `kubectl sops updatekeys FILE…`: make files' key groups match their `.sops.yaml` creation rule. The data key,
 * values, MAC and `lastmodified` stay as they are; the data key is wrapped for the new keys.
 */
import path from "node:path"
import { createInterface } from "node:readline"
import { creationRuleFor } from "../../config/sops-yaml.js"
import { ConfigError, ErrorKind, KsopsError } from "../../errors.js"
import { recoverDataKey, updateKeys } from "../../sops/document.js"
import type { KeyGroup, KeyService } from "../../sops/keys.js"
import { metadataFromTree, metadataToTree } from "../../sops/metadata.js"
import { expandTargets, forEachFile } from "../bulk.js"
import { createRuntime, fileOptions, loadEncrypted, requireExisting, type Runtime } from "../file-ops.js"
import { configFlags, decryptionFlags, formatFlags } from "../flags.js"
import { readInput, writeFileAtomic, writeOut } from "../io.js"
import type { CommandIo, CommandSpec, ParsedFlags } from "../spec.js"

/** A line like Go's `log.Printf`: `2006/01/02 15:04:05 message`. */
function logLine(io: CommandIo, message: string): void {
    const d = new Date()
    const p = (n: number) => String(n).padStart(2, "0")
    const stamp = `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
    io.stderr.write(`${stamp} ${message}\n`)
}

interface GroupDiff {
    common: string[]
    added: string[]
    removed: string[]
}

/** Per-group differences between a file's key groups and the rule's, by key identity (sops' diffKeyGroups). */
export function diffKeyGroups(ours: readonly KeyGroup[], theirs: readonly KeyGroup[], keys: KeyService): GroupDiff[] {
    const diffs: GroupDiff[] = []
    for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
        const our = (ours[i] ?? []).map((e) => keys.keyId(e))
        const their = (theirs[i] ?? []).map((e) => keys.keyId(e))
        diffs.push({
            common: their.filter((k) => our.includes(k)),
            added: their.filter((k) => !our.includes(k)),
            removed: our.filter((k) => !their.includes(k)),
        })
    }
    return diffs
}

let stdinLines: AsyncIterator<string> | undefined

async function ask(io: CommandIo, question: string): Promise<string | undefined> {
    stdinLines ??= createInterface({ input: io.stdin, terminal: false })[Symbol.asyncIterator]()
    for (;;) {
        await writeOut(io, question)
        const next = await stdinLines.next()
        if (next.done) return undefined
        const answer = next.value.trim()
        if (answer === "y" || answer === "n") return answer
    }
}

async function updateOne(rt: Runtime, file: string, flags: ParsedFlags): Promise<void> {
    const io = rt.io
    requireExisting(rt, file)
    logLine(io, `Syncing keys for file ${file}`)
    const input = await readInput(file, () => io.stdin, io.cwd)
    const opts = fileOptions(flags, file)
    const { resolved, file: loaded } = await loadEncrypted(rt, input, file, opts)
    const md = metadataFromTree(loaded.metadata)
    if (resolved.config === undefined) throw new ConfigError("config file not found", { hint: "updatekeys needs a .sops.yaml creation rule for the file" })
    const rule = await creationRuleFor(resolved.config, opts.name ?? file, io.cwd)
    if (rule === undefined) throw new ConfigError("error loading config: no creation rules found")
    const diffs = diffKeyGroups(md.keyGroups, rule.keyGroups, rt.keys)
    if (!diffs.some((d) => d.added.length > 0 || d.removed.length > 0)) {
        logLine(io, `File ${file} already up to date`)
        return
    }
    const lines = ["The following changes will be made to the file's groups:"]
    diffs.forEach((d, i) => {
        lines.push(`Group ${i + 1}`)
        for (const k of d.common) lines.push(`    ${k}`)
        for (const k of d.added) lines.push(`+++ ${k}`)
        for (const k of d.removed) lines.push(`--- ${k}`)
    })
    await writeOut(io, `${lines.join("\n")}\n`)
    if (flags.yes !== true) {
        const answer = await ask(io, "Is this okay? (y/n):")
        if (answer === undefined) {
            throw new KsopsError(ErrorKind.Generic, "no answer on stdin", { hint: "pass -y to update without asking" })
        }
        if (answer === "n") {
            logLine(io, `File ${file} left unchanged`)
            return
        }
    }
    const order = (flags["decryption-order"] as string | undefined)?.split(",").map((s) => s.trim())
    const dataKey = await recoverDataKey(md, rt.keys, order)
    try {
        let threshold = (flags["shamir-secret-sharing-threshold"] as number | undefined) ?? md.shamirThreshold
        threshold = Math.min(threshold, rule.keyGroups.length)
        const updated = await updateKeys(md, dataKey, rule.keyGroups, threshold, rt.keys, rt.entropy)
        await writeFileAtomic(path.resolve(io.cwd, file), resolved.output.emitEncrypted(loaded.branches, metadataToTree(updated)))
    } finally {
        dataKey.fill(0)
    }
    logLine(io, `File ${file} synced with new keys`)
}

/** The updatekeys command. */
export const updatekeys: CommandSpec = {
    id: "updatekeys",
    summary: "Update the master keys of SOPS files from .sops.yaml",
    description:
        "Replaces each file's key groups with those of its .sops.yaml creation rule, after showing the changes and asking (skip the question with -y). The data key and every value stay the same; the data key is wrapped for the new keys. Accepts several files and folders (files matching a creation rule).",
    examples: [
        { description: "Update one file after changing .sops.yaml", command: "kubectl sops updatekeys -y secret.yaml" },
        { description: "Update every file under clusters/", command: "kubectl sops updatekeys -y clusters/" },
    ],
    flags: {
        config: configFlags.config,
        "input-type": formatFlags["input-type"],
        yes: { type: "boolean", char: "y", summary: "Update without asking" },
        "shamir-secret-sharing-threshold": { type: "integer", summary: "Number of key groups needed to decrypt" },
        "decryption-order": decryptionFlags["decryption-order"],
        "no-agent": decryptionFlags["no-agent"],
    },
    args: [{ name: "file", summary: "Files or folders", required: true }],
    variadic: true,
    async run(parsed, io) {
        const rt = createRuntime(io, { noAgent: parsed.flags["no-agent"] === true })
        const { files, bulk } = expandTargets(parsed.argv, io, parsed.flags.config as string | undefined)
        if (!bulk) {
            await updateOne(rt, files[0], parsed.flags)
            return 0
        }
        return forEachFile(files, io, (file) => updateOne(rt, file, parsed.flags))
    },
}
