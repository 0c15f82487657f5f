/**
 * Every case of the shared vectors/sops-3.13.2/cases.tsv, run with kubectl-sops standing in for `sops` (a `sops`
 * shim on PATH runs bin/kubectl-sops): the exit status is sops'; deterministic output (decrypt, extract,
 * filestatus) is byte for byte sops'; encrypted output has the same structure, the same clear text, the same
 * encrypted positions and type tags, and the same metadata fields and keys as what sops wrote.
 *
 * Then our encrypted outputs are decrypted without our code: the data key with the real `age` and `gpg` binaries,
 * every ENC[…] value with node:crypto's AES-256-GCM (AAD = the path, docs/sops-format.md §2.4), the MAC recomputed
 * (SHA-512 over the leaves, §5) and compared with the decrypted `mac`; the values must be the plaintext's, read
 * with the `yaml` package; and the keys must be exactly the creation rule's or the flags' recipients.
 */
import { spawnSync } from "node:child_process"
import { createDecipheriv, createHash } from "node:crypto"
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import path from "node:path"
import { afterAll, expect, it } from "vitest"
import { parse as parseYaml, parseAllDocuments } from "yaml"
import { isEncryptedValue, parseEncryptedValue } from "../../src/sops/cipher.js"
import { metadataFromTree } from "../../src/sops/metadata.js"
import { Branch, Comment, type TreeValue } from "../../src/sops/tree.js"
import { formatFromPath, storeFor } from "../../src/stores/index.js"
import type { Format } from "../../src/stores/store.js"
import { baseEnv, binPath, tempDir, vectorsDir } from "../cli/run.js"
import { describeShared, sharedData } from "../conformance-data.js"

const casesDir = path.join(vectorsDir, "sops-3.13.2")
const keysDir = path.join(casesDir, "keys")
const rows = (sharedData ? readFileSync(path.join(casesDir, "cases.tsv"), "utf8") : "")
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => {
        const [name, command, exit] = l.split("\t")
        return { name, command, exit: Number(exit) }
    })

function recipient(n: number): string {
    if (!sharedData) return ""
    return /public key: (age1[0-9a-z]+)/.exec(readFileSync(path.join(keysDir, `age${n}.agekey`), "utf8"))?.[1] ?? ""
}

/** Every temp folder of this file, removed at the end. */
const made: string[] = []
afterAll(() => {
    // the gpg-agent that gpg started for the independent decoder's keyring goes first, then the folders
    if (gnupg !== undefined) spawnSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: gnupg } })
    for (const d of made) rmSync(d, { recursive: true, force: true })
})
function scratch(prefix: string): string {
    const dir = tempDir(prefix)
    made.push(dir)
    return dir
}

/** A folder with a `sops` executable that runs kubectl-sops. */
function shimDir(): string {
    const dir = scratch("ksops-shim-")
    writeFileSync(path.join(dir, "sops"), `#!/bin/sh\nexec "${process.execPath}" "${binPath}" "$@"\n`, { mode: 0o755 })
    return dir
}

function runCase(command: string, cwd: string) {
    const home = path.join(cwd, ".home")
    mkdirSync(home, { recursive: true, mode: 0o700 })
    const env: Record<string, string> = {
        ...baseEnv(home),
        PATH: `${shimDir()}:${process.env.PATH}`,
        SOPS_AGE_KEY_FILE: path.join(keysDir, "all.agekey"),
        KUBECTL_SOPS_PGP_PUBKEYS: path.join(keysDir, "cluster0.pub.asc"),
        KUBECTL_SOPS_PGP_KEY_FILE: path.join(keysDir, "cluster0.sec.asc"),
        AGE1: recipient(1),
        AGE2: recipient(2),
        AGE3: recipient(3),
        AGE4: recipient(4),
        PGP_FP: readFileSync(path.join(keysDir, "cluster0.fpr"), "utf8").trim(),
    }
    let r: ReturnType<typeof spawnSync>
    if (command.startsWith("sh -c ")) {
        // recorded as `sh -c '<script>'`-style text: the rest is the shell script
        r = spawnSync("sh", ["-c", command.slice(6)], { cwd, env, encoding: "buffer" })
    } else {
        const argv = command.split(" ").map((w) => w.replace(/^\$([A-Z0-9_]+)$/, (_, v: string) => env[v] ?? ""))
        r = spawnSync(argv[0], argv.slice(1), { cwd, env, encoding: "buffer" })
    }
    return { code: r.status, stdout: r.stdout as Buffer, stderr: String(r.stderr) }
}

/** Put a case folder in its "before" state: `before.yaml` is the input of in-place commands; `*.plain` files are the
 * plaintexts of the creation-rules tree. */
function prepare(name: string): string {
    const dir = scratch(`ksops-case-${name}-`)
    cpSync(path.join(casesDir, name), dir, { recursive: true })
    spawnSync("chmod", ["-R", "u+w", dir])
    if (existsSync(path.join(dir, "before.yaml"))) cpSync(path.join(dir, "before.yaml"), path.join(dir, "input.yaml"))
    const walk = (d: string): void => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name)
            if (e.isDirectory()) walk(p)
            else if (e.name.endsWith(".plain")) cpSync(p, p.slice(0, -".plain".length))
        }
    }
    walk(dir)
    return dir
}

/** The store of a case's output: from its input file's extension. */
function caseFormat(dir: string): Format {
    const input = readdirSync(dir).find((f) => /^(plain|input)\./.test(f))
    return input ? formatFromPath(input) : "yaml"
}

/** Same shape, same clear values, ENC where sops has ENC (same type tag), comments alike. */
function sameShape(sops: TreeValue, ours: TreeValue, where: string): void {
    if (sops instanceof Branch) {
        expect(ours, where).toBeInstanceOf(Branch)
        const o = ours as Branch
        expect(o.items.length, `${where}: number of items`).toBe(sops.items.length)
        sops.items.forEach((item, i) => {
            const mine = o.items[i]
            if (item.key instanceof Comment) {
                expect(mine.key, `${where}: comment ${i}`).toBeInstanceOf(Comment)
                sameShape(item.key.value, (mine.key as Comment).value, `${where}#comment${i}`)
            } else {
                expect(mine.key, where).toBe(item.key)
                sameShape(item.value, mine.value, `${where}.${item.key}`)
            }
        })
    } else if (Array.isArray(sops)) {
        expect(Array.isArray(ours), where).toBe(true)
        const o = ours as TreeValue[]
        expect(o.length, where).toBe(sops.length)
        sops.forEach((v, i) => {
            sameShape(v instanceof Comment ? v.value : v, o[i] instanceof Comment ? (o[i] as Comment).value : o[i], `${where}[${i}]`)
        })
    } else if (typeof sops === "string" && isEncryptedValue(sops)) {
        expect(typeof ours === "string" && isEncryptedValue(ours), `${where} is encrypted`).toBe(true)
        expect(parseEncryptedValue(ours as string).type, `${where} type`).toBe(parseEncryptedValue(sops).type)
    } else {
        expect(ours, where).toEqual(sops)
    }
}

function keyIds(groups: readonly (readonly { type: string; params: Readonly<Record<string, unknown>> }[])[]): string[][] {
    return groups.map((g) => g.map((k) => `${k.type}:${String(k.params.recipient ?? k.params.fp ?? "")}`).sort())
}

function compareEncrypted(sopsBytes: Buffer, oursBytes: Buffer, format: Format): void {
    const store = storeFor(format)
    const sops = store.loadEncrypted(sopsBytes)
    const ours = store.loadEncrypted(oursBytes)
    expect(ours.branches.length).toBe(sops.branches.length)
    sops.branches.forEach((b, i) => {
        sameShape(b, ours.branches[i], `doc${i}`)
    })
    const fieldNames = (m: Branch) => m.items.map((i) => i.key as string).sort()
    expect(fieldNames(ours.metadata)).toEqual(fieldNames(sops.metadata))
    const a = metadataFromTree(sops.metadata)
    const b = metadataFromTree(ours.metadata)
    expect(keyIds(b.keyGroups)).toEqual(keyIds(a.keyGroups))
    expect(b.selection).toEqual(a.selection)
    expect(b.macOnlyEncrypted).toBe(a.macOnlyEncrypted)
    expect(b.shamirThreshold).toBe(a.shamirThreshold)
    expect(b.version).toBe("3.13.2")
}

describeShared("sops 3.13.2 cases, with kubectl-sops as sops", () => {
    for (const c of rows) {
        it(`${c.name}: ${c.command}`, () => {
            const dir = prepare(c.name)
            const r = runCase(c.command, dir)
            expect(r.code, r.stderr).toBe(c.exit)
            const sopsOut = readFileSync(path.join(casesDir, c.name, "out.stdout"))
            const format = caseFormat(path.join(casesDir, c.name))
            if (["decrypt", "extract", "filestatus"].includes(c.name)) {
                expect(r.stdout.toString()).toBe(sopsOut.toString())
            } else if (c.name === "creation-rules") {
                for (const f of ["clusters/cluster0/secret.yaml", "clusters/cluster1/secret.yaml", "apps/app.env"]) {
                    compareEncrypted(readFileSync(path.join(casesDir, c.name, f)), readFileSync(path.join(dir, f)), formatFromPath(f))
                }
            } else if (c.exit === 0 && c.name !== "updatekeys") {
                compareEncrypted(sopsOut, r.stdout, format)
            } else if (c.name === "updatekeys") {
                const f = path.join(dir, "input.yaml")
                expect(existsSync(f)).toBe(true)
                // sops' file after updatekeys is not recorded; its keys must be the rule's
                const md = metadataFromTree(storeFor("yaml").loadEncrypted(readFileSync(f)).metadata)
                expect(keyIds(md.keyGroups)[0]).toHaveLength(2)
            } else if (c.name === "err-no-key" || c.name === "err-already-encrypted") {
                // sops' whole message, then our hint line
                const sops = readFileSync(path.join(casesDir, c.name, "out.stderr"), "utf8")
                expect(r.stderr.startsWith(sops.replace(/\n$/, ""))).toBe(true)
            } else {
                // errors: sops' first line, except that ours names the value that failed and never prints the
                // computed MAC (a hash of every plaintext value)
                const sops = readFileSync(path.join(casesDir, c.name, "out.stderr"), "utf8").split("\n")[0]
                expect(r.stderr.split("\n")[0]).toBe(
                    sops.replace(/, computed [0-9A-F]+$/, "").replace("Could not decrypt value:", 'Could not decrypt value at ["data"]["password"]:'),
                )
            }
        })
    }

    it("set keeps the ciphertext of every value it did not change, like sops", () => {
        const dir = prepare("set")
        const c = rows.find((r) => r.name === "set")!
        const r = runCase(c.command, dir)
        expect(r.code).toBe(0)
        const password = (s: string) => /password: (ENC\[[^\]]+\])/.exec(s)?.[1]
        expect(password(r.stdout.toString())).toBe(password(readFileSync(path.join(casesDir, "set/out.stdout"), "utf8")))
    })
})

/* ---------- an independent decoder: the yaml package, node:crypto, age and gpg; none of our modules ---------- */

type Plain = string | bigint | number | boolean | Date | null | Buffer | Plain[] | Map<string, Plain>

const ENC = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]$/

/** AES-256-GCM open of one ENC[…] string: the plaintext bytes and the type tag. */
function openEnc(value: string, key: Buffer, aad: string): { bytes: Buffer; type: string } {
    const m = ENC.exec(value)
    if (m === null) throw new Error(`not an ENC value at ${aad}`)
    const iv = Buffer.from(m[2], "base64")
    expect(iv.length, `iv length at ${aad}`).toBe(32)
    const decipher = createDecipheriv("aes-256-gcm", key, iv)
    decipher.setAAD(Buffer.from(aad, "utf8"))
    decipher.setAuthTag(Buffer.from(m[3], "base64"))
    return { bytes: Buffer.concat([decipher.update(Buffer.from(m[1], "base64")), decipher.final()]), type: m[4] }
}

/** The typed value of a decrypted plaintext (docs/sops-format.md §2.3). */
function typed(bytes: Buffer, type: string, rawStrings = false): Plain {
    const s = bytes.toString("utf8")
    switch (type) {
        case "str":
            return rawStrings ? bytes : s
        case "int":
            return BigInt(s)
        case "float":
            return Number(s)
        case "bool":
            expect(["True", "False"]).toContain(s)
            return s === "True"
        case "time":
            return new Date(s)
        default:
            throw new Error(`unexpected type ${type}`)
    }
}

/** The bytes sops hashes for a clear leaf (§2.3): strings raw, ints decimal, floats positional, bools Title-case. */
function macBytes(v: Plain): Buffer {
    if (typeof v === "string") return Buffer.from(v, "utf8")
    if (typeof v === "bigint") return Buffer.from(v.toString())
    if (typeof v === "boolean") return Buffer.from(v ? "True" : "False")
    if (v instanceof Date) return Buffer.from(v.toISOString().replace(/\.000Z$/, "Z"))
    if (typeof v === "number") {
        // Go's FormatFloat(v, 'f', -1): shortest digits, never an exponent (1e21 → 1000000000000000000000)
        const text = String(v)
        if (!text.includes("e")) return Buffer.from(text)
        expect(Number.isInteger(v), `a float this decoder can write: ${text}`).toBe(true)
        return Buffer.from(BigInt(v).toString())
    }
    throw new Error(`no MAC bytes for ${typeof v}`)
}

/** The `yaml` package's reading: ints as bigint, timestamps as dates, maps in order. */
function readYamlDocs(text: string): Plain[] {
    return parseAllDocuments(text, { customTags: ["timestamp"], intAsBigInt: true }).map((d) => {
        expect(d.errors).toEqual([])
        return d.toJS({ mapAsMap: true }) as Plain
    })
}

/** Comparable text of a value: maps as entry lists, numbers as numbers whatever their type. */
function canon(v: Plain | undefined): unknown {
    if (v instanceof Map) return { map: [...v].map(([k, x]) => [k, canon(x)]) }
    if (Array.isArray(v)) return v.map(canon)
    if (typeof v === "bigint") return { num: Number(v) }
    if (typeof v === "number") return { num: v }
    if (v instanceof Date) return { time: v.toISOString() }
    if (Buffer.isBuffer(v)) return { bytes: v.toString("hex") }
    return v
}

/** The data key: every age stanza opened by `age` with that recipient's identity, every PGP one by `gpg`. */
function dataKey(sops: Map<string, Plain>): { key: Buffer; recipients: string[] } {
    expect(sops.has("key_groups"), "this decoder reads one key group (no Shamir)").toBe(false)
    const keys = new Set<string>()
    const recipients: string[] = []
    for (const entry of (sops.get("age") as Map<string, Plain>[] | undefined) ?? []) {
        const to = entry.get("recipient") as string
        recipients.push(`age:${to}`)
        const n = [1, 2, 3, 4].find((i) => to === recipient(i))
        expect(n, `identity for ${to}`).toBeDefined()
        const r = spawnSync("age", ["--decrypt", "-i", path.join(keysDir, `age${n}.agekey`)], { input: entry.get("enc") as string })
        expect(r.status, String(r.stderr)).toBe(0)
        keys.add(r.stdout.toString("hex"))
    }
    for (const entry of (sops.get("pgp") as Map<string, Plain>[] | undefined) ?? []) {
        recipients.push(`pgp:${entry.get("fp") as string}`)
        const r = spawnSync("gpg", ["--batch", "--quiet", "--decrypt"], { input: entry.get("enc") as string, env: { ...process.env, GNUPGHOME: gnupgHome() } })
        expect(r.status, String(r.stderr)).toBe(0)
        keys.add(r.stdout.toString("hex"))
    }
    expect(keys.size, "every master key holds the same data key").toBe(1)
    const key = Buffer.from([...keys][0], "hex")
    expect(key.length).toBe(32)
    return { key, recipients: recipients.sort() }
}

let gnupg: string | undefined
function gnupgHome(): string {
    if (gnupg === undefined) {
        gnupg = scratch("ksops-gnupg-")
        spawnSync("chmod", ["700", gnupg])
        const r = spawnSync("gpg", ["--batch", "--quiet", "--import", path.join(keysDir, "cluster0.sec.asc")], { env: { ...process.env, GNUPGHOME: gnupg } })
        expect(r.status, String(r.stderr)).toBe(0)
    }
    return gnupg
}

/** Decrypt every leaf of the documents in place, hashing as sops does; returns the recomputed MAC. */
function decodeDocuments(docs: Plain[], key: Buffer, macOnlyEncrypted: boolean, rawStrings = false): string {
    const hash = createHash("sha512")
    if (macOnlyEncrypted) hash.update(createHash("sha256").update("sops").digest())
    const walk = (v: Plain, keys: string[]): Plain => {
        if (v instanceof Map) {
            for (const [k, x] of v) v.set(k, walk(x, [...keys, k]))
            return v
        }
        if (Array.isArray(v)) return v.map((x) => walk(x, keys))
        if (v === null) return v
        if (typeof v === "string" && v.startsWith("ENC[")) {
            const { bytes, type } = openEnc(v, key, `${keys.join(":")}:`)
            hash.update(bytes)
            return typed(bytes, type, rawStrings)
        }
        if (!macOnlyEncrypted) hash.update(macBytes(v))
        return v
    }
    docs.forEach((d, i) => {
        docs[i] = walk(d, [])
    })
    return hash.digest("hex").toUpperCase()
}

type Independent = "yaml" | "json" | "dotenv" | "ini" | "binary"

/**
 * A dotenv file as one map (comments and blank lines skipped), its flattened `sops_…` keys folded back into the
 * metadata map (`sops_age__list_0__map_enc` → sops.age[0].enc, `\n` escapes undone).
 */
function readDotenv(text: string): Map<string, Plain> {
    const doc = new Map<string, Plain>()
    const meta: [string, string][] = []
    for (const line of text.split("\n")) {
        if (line === "" || line.startsWith("#")) continue
        const eq = line.indexOf("=")
        expect(eq, `a KEY=VALUE line: ${line.slice(0, 20)}`).toBeGreaterThan(0)
        const [k, v] = [line.slice(0, eq), line.slice(eq + 1)]
        if (k.startsWith("sops_")) meta.push([k.slice(5), v])
        else doc.set(k, v)
    }
    if (meta.length > 0) doc.set("sops", foldMetadata(meta))
    return doc
}

/** An INI file as section → key → value (go-ini trims around `=`); the `[sops]` section folded into the metadata. */
function readIni(text: string): Map<string, Plain> {
    const doc = new Map<string, Plain>()
    let section: Map<string, Plain> | undefined
    let inSops = false
    const meta: [string, string][] = []
    for (const line of text.split("\n")) {
        if (line.trim() === "" || line.startsWith(";") || line.startsWith("#")) continue
        const header = /^\[(.+)\]$/.exec(line)
        if (header !== null) {
            section = new Map()
            inSops = header[1] === "sops"
            if (!inSops) doc.set(header[1], section)
            continue
        }
        const eq = line.indexOf("=")
        expect(eq > 0 && section !== undefined, `a key = value line in a section: ${line.slice(0, 20)}`).toBe(true)
        const [k, v] = [line.slice(0, eq).trim(), line.slice(eq + 1).trim()]
        if (inSops) meta.push([k, v])
        else section!.set(k, v)
    }
    if (meta.length > 0) doc.set("sops", foldMetadata(meta))
    return doc
}

/** Flattened metadata keys (`age__list_0__map_enc`) back into sops' map (`age[0].enc`), `\n` escapes undone. */
function foldMetadata(entries: [string, string][]): Map<string, Plain> {
    const sops = new Map<string, Plain>()
    for (const [k, v] of entries) {
        const list = /^([a-z_]+)__list_(\d+)__map_([a-z_]+)$/.exec(k)
        if (list === null) {
            sops.set(k, k === "mac_only_encrypted" ? v === "true" : v)
            continue
        }
        const items = (sops.get(list[1]) as Map<string, Plain>[] | undefined) ?? []
        items[Number(list[2])] ??= new Map()
        items[Number(list[2])].set(list[3], v.replaceAll("\\n", "\n"))
        sops.set(list[1], items)
    }
    return sops
}

/** Our encrypted output read and decrypted independently: the documents, the keys, the MAC checked. */
function independentDecrypt(bytes: Buffer, format: Independent): { docs: Plain[]; recipients: string[]; sops: Map<string, Plain> } {
    const text = bytes.toString("utf8")
    const docs = format === "json" || format === "binary" ? [toMaps(JSON.parse(text))] : format === "dotenv" ? [readDotenv(text)] : format === "ini" ? [readIni(text)] : readYamlDocs(text)
    const sops = (docs[0] as Map<string, Plain>).get("sops") as Map<string, Plain>
    expect(sops, "sops metadata").toBeInstanceOf(Map)
    for (const d of docs) (d as Map<string, Plain>).delete("sops")
    const { key, recipients } = dataKey(sops)
    const computed = decodeDocuments(docs, key, sops.get("mac_only_encrypted") === true, format === "binary")
    const lastmodified = sops.get("lastmodified")
    expect(typeof lastmodified, "lastmodified is a string").toBe("string")
    const mac = openEnc(sops.get("mac") as string, key, lastmodified as string)
    expect(mac.bytes.toString("utf8"), "MAC").toBe(computed)
    return { docs, recipients, sops }
}

/** JSON.parse's objects as ordered maps, integers as bigint (as the yaml package reads the plaintext). */
function toMaps(v: unknown): Plain {
    if (Array.isArray(v)) return v.map(toMaps)
    if (v !== null && typeof v === "object") return new Map(Object.entries(v).map(([k, x]) => [k, toMaps(x)]))
    if (typeof v === "number" && Number.isInteger(v)) return BigInt(v)
    return v as Plain
}

/** [case, our encrypted file (stdout or a file of the case folder), format, the plaintext it must hold, the recipients] */
const AGE = (n: number) => `age:${recipient(n)}`
const decrypted = sharedData ? readFileSync(path.join(casesDir, "decrypt/out.stdout"), "utf8") : ""
const independentCases: [string, string, Independent, string, string[]][] = [
    ["secret-age-cli", "-", "yaml", "secret-age-cli/plain.yaml", [AGE(1)]],
    ["secret-age", "-", "yaml", "secret-age/plain.yaml", []],
    ["secret-pgp", "-", "yaml", "secret-pgp/plain.yaml", []],
    ["secret-age-pgp", "-", "yaml", "secret-age-pgp/plain.yaml", []],
    ["types", "-", "yaml", "types/plain.yaml", [AGE(1)]],
    ["multidoc", "-", "yaml", "multidoc/plain.yaml", [AGE(1)]],
    ["json", "-", "json", "json/plain.json", [AGE(1)]],
    ["dotenv", "-", "dotenv", "dotenv/plain.env", [AGE(1)]],
    ["ini", "-", "ini", "ini/plain.ini", [AGE(1)]],
    ["binary", "-", "binary", "binary/plain.bin", [AGE(1)]],
    ["opt-unencrypted-suffix", "-", "yaml", "opt-unencrypted-suffix/plain.yaml", [AGE(1)]],
    ["opt-encrypted-suffix", "-", "yaml", "opt-encrypted-suffix/plain.yaml", [AGE(1)]],
    ["opt-unencrypted-regex", "-", "yaml", "opt-unencrypted-regex/plain.yaml", [AGE(1)]],
    ["opt-encrypted-regex", "-", "yaml", "opt-encrypted-regex/plain.yaml", [AGE(1)]],
    ["opt-mac-only-encrypted", "-", "yaml", "opt-mac-only-encrypted/plain.yaml", []],
    ["opt-encrypted-comment-regex", "-", "yaml", "opt-encrypted-comment-regex/plain.yaml", []],
    ["opt-unencrypted-comment-regex", "-", "yaml", "opt-unencrypted-comment-regex/plain.yaml", []],
    ["creation-rules", "clusters/cluster0/secret.yaml", "yaml", "creation-rules/clusters/cluster0/secret.yaml.plain", []],
    ["creation-rules", "clusters/cluster1/secret.yaml", "yaml", "creation-rules/clusters/cluster1/secret.yaml.plain", []],
    ["creation-rules", "apps/app.env", "dotenv", "creation-rules/apps/app.env.plain", []],
    ["rotate", "-", "yaml", "=decrypt", []],
    ["rotate-add-age", "-", "yaml", "=decrypt", []],
    ["updatekeys", "input.yaml", "yaml", "=decrypt", []],
    ["set", "-", "yaml", "=set", []],
    ["unset", "-", "yaml", "=unset", []],
]

/** The recipients of a case's creation rule (first rule whose path_regex matches, or the only one). */
function ruleRecipients(name: string, file: string): string[] {
    const config = path.join(casesDir, name, ".sops.yaml")
    if (!existsSync(config)) return []
    const rules = (parseYaml(readFileSync(config, "utf8")) as { creation_rules: Record<string, string>[] }).creation_rules
    const rule = rules.find((r) => r.path_regex === undefined || new RegExp(r.path_regex).test(file))
    expect(rule, `a rule for ${file}`).toBeDefined()
    const split = (v: string | undefined) => (v ?? "").split(",").map((x) => x.trim()).filter((x) => x !== "")
    return [...split(rule!.age).map((r) => `age:${r}`), ...split(rule!.pgp).map((f) => `pgp:${f}`)].sort()
}

describeShared("our encrypted output, decrypted without our code", () => {
    it.each(independentCases)("%s %s", (name, file, format, plain, flagRecipients) => {
        const c = rows.find((r) => r.name === name)!
        const dir = prepare(name)
        const r = runCase(c.command, dir)
        expect(r.code, r.stderr).toBe(0)
        const ours = file === "-" ? r.stdout : readFileSync(path.join(dir, file))
        const { docs, recipients } = independentDecrypt(ours, format)
        // the values are the plaintext's
        const wantText =
            plain === "=decrypt"
                ? decrypted
                : plain === "=set"
                  ? decrypted.replace("user: YWRtaW4=", "user: cm9vdA==")
                  : plain === "=unset"
                    ? decrypted.replace("    user: YWRtaW4=\n", "")
                    : readFileSync(path.join(casesDir, plain), "utf8")
        const want =
            format === "json"
                ? [toMaps(JSON.parse(wantText))]
                : format === "dotenv"
                  ? [readDotenv(wantText)]
                  : format === "ini"
                    ? [readIni(wantText)]
                  : format === "binary"
                    ? [new Map([["data", readFileSync(path.join(casesDir, plain))]])]
                    : readYamlDocs(wantText)
        expect(canon(docs)).toEqual(canon(want))
        // the keys are exactly those asked for: the flags', else the creation rule's
        if (name === "rotate" || name === "set" || name === "unset" || name === "rotate-add-age") {
            // these keep the input's keys (before.yaml: age1 only), rotate --add-age adds age2
            expect(recipients).toEqual([AGE(1), ...(name === "rotate-add-age" ? [AGE(2)] : [])].sort())
        } else {
            const expected = flagRecipients.length > 0 ? [...flagRecipients].sort() : ruleRecipients(name, file === "-" ? "plain.yaml" : file)
            expect(expected.length).toBeGreaterThan(0)
            expect(recipients).toEqual(expected)
        }
    })

    it("a tampered value makes the independent decoder fail (it can fail)", () => {
        const dir = prepare("types")
        const r = runCase(rows.find((x) => x.name === "types")!.command, dir)
        const text = r.stdout.toString("utf8")
        const m = /^str: ENC\[AES256_GCM,data:([^,]+),/m.exec(text)!
        const flipped = Buffer.from(m[1], "base64")
        flipped[0] ^= 1
        expect(() => independentDecrypt(Buffer.from(text.replace(m[1], flipped.toString("base64"))), "yaml")).toThrow()
        // and a clear value changed breaks the recomputed MAC
        const opt = runCase(rows.find((x) => x.name === "opt-unencrypted-suffix")!.command, prepare("opt-unencrypted-suffix")).stdout.toString()
        expect(opt).toMatch(/_unencrypted: /)
        expect(() => independentDecrypt(Buffer.from(opt.replace(/(_unencrypted: )(.+)/, "$1changed")), "yaml")).toThrow(/MAC/)
    })
})
