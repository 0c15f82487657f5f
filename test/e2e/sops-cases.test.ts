/**
 * Every case of the shared vectors/sops-3.13.2/cases.tsv, run with kubectl-sops standing in for `sops` (a `sops`
 * shim on PATH runs bin/kubectl-sops): the exit status is sops'; deterministic output (decrypt, extract,
 * filestatus) is byte for byte sops'; encrypted output has the same structure, the same clear text, the same
 * encrypted positions and type tags, and the same metadata fields and keys as what sops wrote.
 */
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { expect, it } from "vitest"
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
    return /public key: (age1[0-9a-z]+)/.exec(readFileSync(path.join(keysDir, `age${n}.agekey`), "utf8"))?.[1] ?? ""
}

/** A folder with a `sops` executable that runs kubectl-sops. */
function shimDir(): string {
    const dir = tempDir("ksops-shim-")
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
    const dir = tempDir(`ksops-case-${name}-`)
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
                // errors: sops' first line
                expect(r.stderr.split("\n")[0]).toBe(readFileSync(path.join(casesDir, c.name, "out.stderr"), "utf8").split("\n")[0])
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
