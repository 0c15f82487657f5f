/**
 * `kubectl sops keys generate|list|import|export|remove`: the private keys the agent holds (persisted in the OS
 * keychain). Every command talks to the running agent and starts it when none runs.
 */
import { readFileSync } from "node:fs"
import path from "node:path"
import type { KeyInfo } from "../../agent/protocol.js"
import { ErrorKind, KsopsError, UsageError } from "../../errors.js"
import { writeOut } from "../io.js"
import type { CommandSpec } from "../spec.js"
import { formatData, outputFormatFlag, passphraseFlags, readPassphrase, table, withAgent } from "./agent-support.js"

const KEY_TYPES = ["age", "age-pq", "pgp"] as const

function shortId(id: string): string {
    return id.length > 64 ? `${id.slice(0, 24)}…${id.slice(-8)}` : id
}

function keyRows(keys: readonly KeyInfo[]): string {
    return table(
        ["ID", "TYPE", "CREATED", "STATE", "NAME"],
        keys.map((k) => [shortId(k.id), k.type, k.created, k.protected ? (k.unlocked ? "unlocked" : "locked") : "unlocked", k.name]),
    )
}

/** `keys generate`. */
export const keysGenerate: CommandSpec = {
    id: "keys generate",
    summary: "Generate a key in the agent",
    description:
        "Generates a private key inside the agent and stores it in the keychain; prints its age recipient or PGP fingerprint (what goes into .sops.yaml). pgp follows the Flux guide: RSA 4096 with an RSA 4096 encryption subkey, no expiry, user id \"NAME (flux secrets)\". age-pq is the hybrid post-quantum age recipient type. With a passphrase the key stays locked until `kubectl sops agent unlock`.",
    examples: [
        { description: "Generate an age key", command: "kubectl sops keys generate --type age --name flux-prod" },
        {
            description: "Generate a PGP key as in the Flux guide and write its public key for the repository",
            command: 'kubectl sops keys export "$(kubectl sops keys generate --type pgp --name cluster0.example.com)" > .sops.pub.asc',
        },
        {
            description: "Generate a passphrase-protected age key",
            command: "kubectl sops keys generate --type age --passphrase-file passphrase.txt",
        },
    ],
    flags: {
        type: { type: "string", options: KEY_TYPES, default: "age", summary: "Key type" },
        name: { type: "string", summary: "Label (for pgp also the user id name; default kubectl-sops)" },
        comment: { type: "string", summary: "Comment (for pgp the user id comment; default \"flux secrets\")" },
        ...passphraseFlags,
        ...outputFormatFlag,
    },
    args: [],
    async run(parsed, io) {
        const f = parsed.flags
        const passphrase = await readPassphrase(io, f)
        const key = await withAgent(io, {}, (c) =>
            c.generateKey({
                type: f.type as (typeof KEY_TYPES)[number],
                ...(f.name === undefined ? {} : { name: f.name as string }),
                ...(f.comment === undefined ? {} : { comment: f.comment as string }),
                ...(passphrase === undefined ? {} : { passphrase }),
            }),
        )
        if (f.output !== undefined) {
            await writeOut(io, formatData(f.output as string, key))
            return 0
        }
        io.stderr.write(`generated ${key.type} key ${JSON.stringify(key.name)}${key.protected ? " (passphrase-protected)" : ""}\n`)
        await writeOut(io, `${key.recipient}\n`)
        return 0
    },
}

/** `keys list`. */
export const keysList: CommandSpec = {
    id: "keys list",
    summary: "List the agent's keys",
    description:
        "Lists the keys the agent holds: id (age recipient or PGP fingerprint), type, creation time, locked or unlocked, name. -o json or -o yaml prints every field.",
    examples: [
        { description: "List the keys", command: "kubectl sops keys list" },
        { description: "As JSON", command: "kubectl sops keys list -o json" },
    ],
    flags: { ...outputFormatFlag },
    args: [],
    async run(parsed, io) {
        const keys = await withAgent(io, {}, (c) => c.listKeys())
        const format = parsed.flags.output as string | undefined
        if (format !== undefined) await writeOut(io, formatData(format, keys))
        else if (keys.length === 0) io.stderr.write("the agent holds no keys (add one with `kubectl sops keys generate` or `keys import`)\n")
        else await writeOut(io, keyRows(keys))
        return 0
    },
}

/** `keys import`. */
export const keysImport: CommandSpec = {
    id: "keys import",
    summary: "Import private keys into the agent",
    description:
        "Imports armored PGP secret keys (several per file, as `gpg --export-secret-keys --armor` writes them) and age identity files (also passphrase-encrypted ones) into the agent's keychain. Passphrase-protected keys stay protected: the passphrase is checked now and asked again by `kubectl sops agent unlock`. Reads stdin for -.",
    examples: [
        { description: "Import age identities", command: "kubectl sops keys import ~/.config/sops/age/keys.txt" },
        { description: "Import a PGP secret key from GnuPG", command: "gpg --export-secret-keys --armor EE1E8CF37CFC50776EF383589CC3EF7A23419576 | kubectl sops keys import -" },
    ],
    flags: {
        ...passphraseFlags,
        name: { type: "string", summary: "Label of the imported keys (default: from the PGP user id or the age file)" },
        ...outputFormatFlag,
    },
    args: [{ name: "file", summary: "Key file, or - for stdin", required: true }],
    async run(parsed, io) {
        const file = parsed.argv[0]
        let text: string
        if (file === "-") {
            const chunks: Buffer[] = []
            for await (const c of io.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c)
            text = Buffer.concat(chunks).toString("utf8")
        } else {
            try {
                text = readFileSync(path.resolve(io.cwd, file), "utf8")
            } catch (e) {
                throw new KsopsError(ErrorKind.CouldNotReadInputFile, `error reading file ${file}: ${(e as Error).message}`)
            }
        }
        const passphrase = await readPassphrase(io, parsed.flags, { stdinTaken: file === "-" })
        const name = parsed.flags.name as string | undefined
        const keys = await withAgent(io, {}, (c) =>
            c.importKeys({ text, ...(passphrase === undefined ? {} : { passphrase }), ...(name === undefined ? {} : { name }) }),
        )
        const format = parsed.flags.output as string | undefined
        if (format !== undefined) await writeOut(io, formatData(format, keys))
        else {
            io.stderr.write(`imported ${keys.length} key(s)\n`)
            await writeOut(io, keyRows(keys))
        }
        return 0
    },
}

/** `keys export`. */
export const keysExport: CommandSpec = {
    id: "keys export",
    summary: "Print a key's public part (or, with --secret, its private key)",
    description:
        "Prints the armored PGP public key (what a repository commits as .sops.pub.asc) or the age recipient. --secret prints the private key as stored (still passphrase-protected if it was): keep it out of repositories and logs.",
    examples: [
        { description: "Write a PGP public key for the repository", command: "kubectl sops keys export EE1E8CF37CFC50776EF383589CC3EF7A23419576 > .sops.pub.asc" },
        { description: "Back up an age identity", command: "kubectl sops keys export --secret age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u > age-backup.txt" },
    ],
    flags: { secret: { type: "boolean", summary: "Print the private key (as stored)" } },
    args: [{ name: "id", summary: "Key id, recipient, fingerprint or a unique prefix", required: true }],
    async run(parsed, io) {
        const secret = parsed.flags.secret === true
        const r = await withAgent(io, {}, (c) => c.exportKey(parsed.argv[0], secret))
        if (secret) io.stderr.write(`warning: printing the PRIVATE key ${shortId(r.id)}; anyone who gets it can decrypt your secrets\n`)
        await writeOut(io, r.text)
        return 0
    },
}

/** `keys remove`. */
export const keysRemove: CommandSpec = {
    id: "keys remove",
    summary: "Remove a key from the agent and the keychain",
    description:
        "Deletes the key from the keychain and the agent's memory (its cached data keys too). Files encrypted only for it can no longer be decrypted: export a backup first (keys export --secret).",
    examples: [{ description: "Remove a key", command: "kubectl sops keys remove age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u" }],
    flags: {},
    args: [{ name: "id", summary: "Key id, recipient, fingerprint or a unique prefix", required: true }],
    async run(parsed, io) {
        const id = parsed.argv[0]
        if (id.trim() === "") throw new UsageError("the key id is empty")
        await withAgent(io, {}, (c) => c.removeKey(id))
        io.stderr.write(`removed key ${shortId(id)}\n`)
        return 0
    },
}
