import { spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import path from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { buildSecretData, secretHash, secretYaml, splitStringSlice } from "../../src/cli/actions/create-generic.js"
import { goKeyCompare } from "../../src/kube/yaml.js"
import { needs, which } from "../cli/run.js"
import { AGE1, AGE2, AGE4, PGP_FP, sandbox } from "./fixtures.js"

/** kubectl's client minor version, or undefined when it cannot be run. */
function kubectlMinor(): number | undefined {
    const kubectl = which("kubectl")
    if (kubectl === undefined) return undefined
    const r = spawnSync(kubectl, ["version", "--client", "-o", "json"], { encoding: "utf8" })
    const minor = /"minor":\s*"(\d+)/.exec(r.stdout ?? "")
    return minor ? Number(minor[1]) : undefined
}

/**
 * The golden comparisons need kubectl 1.28 or later (several --from-env-file, the same messages as 1.32); in CI a
 * missing kubectl fails them (.ci/run installs it), an old one skips them.
 */
const hasKubectl = needs("kubectl") && (which("kubectl") === undefined || (kubectlMinor() ?? 0) >= 28)

/** Run the real `kubectl create secret generic … --dry-run=client -o yaml`. */
function kubectl(args: readonly string[], cwd: string, env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(which("kubectl") ?? "kubectl", ["create", "secret", "generic", ...args, "--dry-run=client", "-o", "yaml"], {
        cwd,
        // no kubeconfig needed for --dry-run=client; keep the user's out of it
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, KUBECONFIG: path.join(cwd, "no-kubeconfig"), ...env },
        encoding: "utf8",
    })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Our Secret (before encryption) for kubectl-style arguments, or the error message. */
function ours(args: readonly string[], cwd: string, env: Record<string, string> = {}): { stdout: string; error?: string } {
    const literals: string[] = []
    const files: string[] = []
    const envFiles: string[] = []
    let namespace: string | undefined
    let type: string | undefined
    let name: string | undefined
    let appendHash = false
    try {
        for (const a of args) {
            const m = /^--(from-literal|from-file|from-env-file|namespace|type)=(.*)$/s.exec(a)
            if (a === "--append-hash") appendHash = true
            else if (!m) name = a
            else if (m[1] === "from-literal") literals.push(m[2])
            else if (m[1] === "from-file") files.push(...splitStringSlice("from-file", m[2]))
            else if (m[1] === "from-env-file") envFiles.push(...splitStringSlice("from-env-file", m[2]))
            else if (m[1] === "namespace") namespace = m[2]
            else type = m[2]
        }
        const sources = { name: name!, literals, files, envFiles, ...(namespace === undefined ? {} : { namespace }), ...(type === undefined ? {} : { type }) }
        const data = buildSecretData(sources, { cwd, env })
        if (appendHash) sources.name = `${sources.name}-${secretHash(sources.name, type ?? "", data)}`
        return { stdout: secretYaml(sources, data) }
    } catch (e) {
        return { stdout: "", error: (e as Error).message }
    }
}

function fixtureDir(): string {
    const sb = sandbox()
    const d = sb.dir
    writeFileSync(path.join(d, "token.txt"), "s3cr3t\n")
    writeFileSync(path.join(d, "bin.dat"), Buffer.from([0, 1, 2, 255, 254, 10, 13]))
    writeFileSync(path.join(d, "empty"), "")
    // bytes whose base64 reads as YAML non-strings
    mkdirSync(path.join(d, "typed"))
    for (const b64 of ["true", "1234", "0x1F", "NULL", "+123", "1e10"]) writeFileSync(path.join(d, "typed", `v${b64.replace(/\W/g, "_")}`), Buffer.from(b64, "base64"))
    mkdirSync(path.join(d, "certs/sub"), { recursive: true })
    writeFileSync(path.join(d, "certs/tls.crt"), "CERT\n")
    writeFileSync(path.join(d, "certs/tls.key"), "KEY\n")
    writeFileSync(path.join(d, "certs/10.pem"), "ten")
    writeFileSync(path.join(d, "certs/9.pem"), "nine")
    writeFileSync(path.join(d, "certs/sub/ignored"), "x")
    symlinkSync("tls.crt", path.join(d, "certs/link.crt"))
    mkdirSync(path.join(d, "badkeys"))
    writeFileSync(path.join(d, "badkeys/a b"), "x")
    writeFileSync(path.join(d, "app.env"), '\uFEFF# comment\nUSER=admin\n  PASSWORD=p=a s s \r\nEMPTY=\nFROM_ENV\n\n   # indented comment\nQUOTED="q"\nLAST=no newline')
    writeFileSync(path.join(d, "bad.env"), "GOOD=1\nBAD KEY=2\n")
    writeFileSync(path.join(d, "dup.env"), "A=1\nA=2\n")
    writeFileSync(path.join(d, "digit.env"), "1A=1\n")
    writeFileSync(path.join(d, "utf8.env"), Buffer.concat([Buffer.from("A="), Buffer.from([0xff]), Buffer.from("\n")]))
    return d
}

const GOLDEN_CASES: string[][] = [
    ["basic-auth", "--namespace=default", "--from-literal=user=admin", "--from-literal=password=change-me"],
    ["s", "--from-literal=k=", "--from-literal=a=b=c", "--from-literal=-dash=1", "--from-literal=_u=2", "--type=kubernetes.io/basic-auth"],
    ["files", "--from-file=token.txt", "--from-file=bin=bin.dat", "--from-file=empty", "--from-literal=z=last"],
    ["dir", "--from-file=certs", "--namespace=flux-system"],
    ["typed", "--from-file=typed"],
    ["env", "--from-env-file=app.env"],
    ["env2", "--from-env-file=app.env", "--from-env-file=digit-free.env"],
    ["empty"],
    // go-yaml v2 quoting and natural key order
    [
        "quoting",
        ...["1", "1.5", "true", "yes", "on", "null", "-", "---x", "1e3", "-1", ".inf", "_", "1_000", "Null", "y", "Y", "n", "off", "012", "08", "1.", ".5"].map(
            (k) => `--from-literal=${k}=v`,
        ),
        ...["-.5", "e3", "1e", "True", ".nan", "-.inf", "2001-01-01", "2001-02-30", "1.2.3", "60", "-_1", "._", "0_", ".1_0", "1_.0", "0777", "9", "a10", "a9", "a09"].map(
            (k) => `--from-literal=${k}=v`,
        ),
        `--from-literal=${"k".repeat(130)}=long-key`,
    ],
    // base prefixes apart: go-yaml v2's key order is not transitive when "0b…" meets other numbers, and kubectl's
    // output order then changes from run to run (Go map order + sort.Sort)
    ["prefixed", ...["0b101", "0o17", "0x1F", "0x", "0x_1", "-0b1", "0b", "key"].map((k) => `--from-literal=${k}=v`)],
    ["true", "--namespace=a: b", "--type=it's"],
    // --from-file and --from-env-file are pflag string slices: comma-separated, CSV quoting
    ["slices", "--from-file=token.txt,k=bin.dat", '--from-file="certs"', "--from-file="],
    ["envs", "--from-env-file=digit-free.env,app.env"],
    ["bad", "--from-file=,"],
    ["bad", '--from-file=tok"en.txt'],
    ["bad", '--from-file="token.txt"x'],
    ["bad", '--from-file=a,"abc'],
    // --append-hash: kubectl's name suffix
    ["hashed", "--append-hash", "--from-literal=a=<&>", "--type=t<", "--from-file=bin.dat"],
    ["hashed-empty", "--append-hash", "--namespace=ns"],
    ["x", "--namespace=#ns", "--type=a\tb"],
    // kubectl's errors
    ["bad", "--from-literal=novalue"],
    ["bad", "--from-literal==v"],
    ["bad", "--from-literal=k=1", "--from-literal=k=2"],
    ["bad", "--from-literal=a/b=1"],
    ["bad", "--from-literal=.=1"],
    ["bad", "--from-literal=..=1"],
    ["bad", "--from-literal=..a=1"],
    ["bad", `--from-literal=${"k".repeat(254)}=1`],
    ["bad", "--from-literal=token.txt=1", "--from-file=token.txt"],
    ["bad", "--from-file=nope.txt"],
    ["bad", "--from-file=k="],
    ["bad", "--from-file==token.txt"],
    ["bad", "--from-file=a=b=token.txt"],
    ["bad", "--from-file=k=certs"],
    ["bad", "--from-file=badkeys"],
    ["bad", "--from-env-file=app.env", "--from-literal=a=1"],
    ["bad", "--from-env-file=certs"],
    ["bad", "--from-env-file=nope.env"],
    ["bad", "--from-env-file=bad.env"],
    ["bad", "--from-env-file=dup.env"],
    ["bad", "--from-env-file=digit.env"],
    ["bad", "--from-env-file=utf8.env"],
]

describe.skipIf(!hasKubectl)("create generic: the Secret is kubectl's, byte for byte", () => {
    it.each(GOLDEN_CASES.map((c) => [c.join(" ").slice(0, 80), c]))("%s", (_label, args) => {
        const dir = fixtureDir()
        writeFileSync(path.join(dir, "digit-free.env"), "OTHER=2\n")
        const env = { FROM_ENV: "from the environment" }
        const k = kubectl(args, dir, env)
        const o = ours(args, dir, env)
        if (k.code === 0) {
            expect(o.error).toBeUndefined()
            expect(o.stdout).toBe(k.stdout)
        } else {
            // kubectl 1.31 prints flag errors as "Error: …", 1.32 as "error: …"
            const first = (line: string | undefined) => line?.replace(/^Error: /, "error: ")
            expect(first(o.error)).toBe(first(k.stderr.trimEnd().split("\n")[0]))
        }
    })
})

describe.skipIf(!hasKubectl)("create generic: go-yaml v2 quoting of random keys and names, against kubectl", () => {
    it("quotes every key, name, namespace and type as kubectl does", () => {
        const dir = sandbox().dir
        const piece = fc.constantFrom("0", "1", "9", "00", "0x", "0b", "0o", "x", "b", "F", ".", "-", "_", "e", "E", "inf", "nan", "NaN", "true", "y", "N", "on", "Off", "null", "~", "1e3", "2001-01-01", "12:30", " ", "#", ":", "'", '"', "é", "\t", "<<", "---", "?")
        const text = fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join(""))
        const keyText = text.map((k) => k.replace(/[^-._a-zA-Z0-9]/g, "")).filter((k) => k !== "" && k !== "." && !k.startsWith(".."))
        fc.assert(
            fc.property(fc.uniqueArray(keyText, { minLength: 1, maxLength: 25 }), text.filter((n) => !n.startsWith("-")), text, text, (keys, name, namespace, type) => {
                const args = [name, `--namespace=${namespace}`, `--type=${type}`, ...keys.map((k) => `--from-literal=${k}=v`)]
                const k = kubectl(args, dir)
                const o = ours(args, dir)
                expect(o.error).toBeUndefined()
                // go-yaml v2's key order is not transitive for some of these keys: compare the lines as a set
                expect(o.stdout.split("\n").sort()).toEqual(k.stdout.split("\n").sort())
            }),
            { numRuns: 40 },
        )
    }, 120_000)
})

describe("go-yaml v2 key order", () => {
    it("compares digit runs as numbers and letters before other characters", () => {
        const keys = ["b", "a10", "a9", "_x", "A", "10", "9", "-", "a"]
        const sorted = [...keys].sort(goKeyCompare)
        expect(sorted).toEqual(["-", "_x", "9", "10", "A", "a", "a9", "a10", "b"])
    })
})

const GUIDE = ["basic-auth", "-n", "default", "--from-literal=user=admin", "--from-literal=password=change-me"]

describe("kubectl sops create generic", () => {
    it.skipIf(!hasKubectl)("encrypts the guide's basic-auth Secret: decrypts back to exactly kubectl's manifest", async () => {
        const sb = sandbox()
        const r = await sb.run(["create", "generic", ...GUIDE, "--age", AGE1, "--output", "basic-auth.yaml"])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(r.stdout).toBe("")
        const file = path.join(sb.dir, "basic-auth.yaml")
        expect(statSync(file).mode & 0o777).toBe(0o600)
        const enc = readFileSync(file, "utf8")
        // Flux needs apiVersion, kind and metadata in clear; only data is encrypted
        expect(enc).toMatch(/^apiVersion: v1\ndata:\n {4}password: ENC\[AES256_GCM,data:[^\]]+,type:str\]\n {4}user: ENC\[AES256_GCM,/)
        expect(enc).toContain("kind: Secret\nmetadata:\n    creationTimestamp: null\n    name: basic-auth\n    namespace: default\nsops:\n")
        expect(enc).toContain("    encrypted_regex: ^(data|stringData)$\n")
        expect(enc).toMatch(/\n {4}mac: ENC\[AES256_GCM,/)
        expect(enc).toContain(`recipient: ${AGE1}`)
        expect(enc).not.toContain("admin")
        expect(enc).not.toContain("change-me")
        expect(enc).not.toContain(Buffer.from("change-me").toString("base64"))
        const k = kubectl(["basic-auth", "--namespace=default", "--from-literal=user=admin", "--from-literal=password=change-me"], sb.dir)
        const back = await sb.run(["decrypt", "--indent", "2", "basic-auth.yaml"])
        expect(back.code).toBe(0)
        expect(back.stdout).toBe(k.stdout)
        // and like `sops --encrypt` of kubectl's file would: the same as decrypting kubectl's manifest encrypted by us
        writeFileSync(path.join(sb.dir, "k.yaml"), k.stdout)
        const viaEncrypt = await sb.run(["encrypt", "--age", AGE1, "--encrypted-regex", "^(data|stringData)$", "k.yaml"])
        writeFileSync(path.join(sb.dir, "k.enc.yaml"), viaEncrypt.stdout)
        expect((await sb.run(["decrypt", "k.enc.yaml"])).stdout).toBe((await sb.run(["decrypt", "basic-auth.yaml"])).stdout)
    })

    it("prints to stdout without --output, and replaces an existing --output", async () => {
        const sb = sandbox()
        const printed = await sb.run(["create", "generic", ...GUIDE, "--age", AGE1])
        expect(printed.code).toBe(0)
        expect(printed.stdout).toMatch(/^apiVersion: v1\ndata:\n/)
        expect(existsSync(path.join(sb.dir, "basic-auth.yaml"))).toBe(false)
        const out = path.join(sb.dir, "out.yaml")
        writeFileSync(out, "old\n")
        chmodSync(out, 0o640)
        const r = await sb.run(["create", "generic", ...GUIDE, "--age", AGE1, "--output", "out.yaml"])
        expect(r.code).toBe(0)
        expect(readFileSync(out, "utf8")).toContain("sops:")
        expect(statSync(out).mode & 0o777).toBe(0o640)
        const dec = await sb.run(["decrypt", "--extract", '["data"]["password"]', "out.yaml"])
        expect(dec.stdout).toBe(Buffer.from("change-me").toString("base64"))
    })

    it("uses the creation rule matching the output path, with the nearest .sops.yaml (nested folders)", async () => {
        const sb = sandbox({ pgp: true })
        mkdirSync(path.join(sb.dir, "clusters/prod"), { recursive: true })
        mkdirSync(path.join(sb.dir, "clusters/staging/apps"), { recursive: true })
        writeFileSync(
            path.join(sb.dir, ".sops.yaml"),
            `creation_rules:\n  - path_regex: clusters/prod/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    pgp: ${PGP_FP}\n  - path_regex: .*\n    age: ${AGE2}\n`,
        )
        writeFileSync(path.join(sb.dir, "clusters/staging/.sops.yaml"), `creation_rules:\n  - path_regex: apps/\n    unencrypted_regex: ^(apiVersion|kind|metadata)$\n    age: ${AGE4}\n`)
        const recipients = (text: string) => [...text.matchAll(/recipient: (age1\w+)|fp: (\w+)/g)].map((m) => m[1] ?? m[2])

        const prod = await sb.run(["create", "generic", "db", "--from-literal=p=1", "--output", "clusters/prod/db.yaml"])
        expect(prod.code).toBe(0)
        const prodText = readFileSync(path.join(sb.dir, "clusters/prod/db.yaml"), "utf8")
        expect(recipients(prodText)).toEqual([PGP_FP])
        expect(prodText).toContain("encrypted_regex: ^(data|stringData)$")

        // the rule without a selection option: the guide's encrypted_regex is used, metadata stays clear
        const other = await sb.run(["create", "generic", "db", "--from-literal=p=1"])
        expect(other.code).toBe(0)
        expect(recipients(other.stdout)).toEqual([AGE2])
        expect(other.stdout).toContain("encrypted_regex: ^(data|stringData)$")
        expect(other.stdout).toContain("    name: db\n")

        // --filename-override picks the rule when printing
        const override = await sb.run(["create", "generic", "db", "--from-literal=p=1", "--filename-override", "clusters/prod/x.yaml"])
        expect(recipients(override.stdout)).toEqual([PGP_FP])

        // nested .sops.yaml: its own rule and its own selection option (not overridden)
        const staging = await sb.run(["create", "generic", "db", "--from-literal=p=1", "--output", "clusters/staging/apps/db.yaml"])
        expect(staging.code).toBe(0)
        const stagingText = readFileSync(path.join(sb.dir, "clusters/staging/apps/db.yaml"), "utf8")
        expect(recipients(stagingText)).toEqual([AGE4])
        expect(stagingText).toContain("unencrypted_regex: ^(apiVersion|kind|metadata)$")
        expect(stagingText).not.toContain("encrypted_regex: ^(data")

        // a flag's selection wins; key flags replace the rule's keys
        const flags = await sb.run(["create", "generic", "db", "--from-literal=p=1", "--age", AGE1, "--encrypted-regex", "^data$", "--output", "clusters/prod/f.yaml"])
        expect(flags.code).toBe(0)
        const flagsText = readFileSync(path.join(sb.dir, "clusters/prod/f.yaml"), "utf8")
        expect(recipients(flagsText)).toEqual([AGE1])
        expect(flagsText).toContain("encrypted_regex: ^data$")

        // no matching rule in the nearest config
        const none = await sb.run(["create", "generic", "db", "--from-literal=p=1", "--output", "clusters/staging/db.yaml"])
        expect(none.code).toBe(1)
        expect(none.stderr).toMatch(/^error loading config: no matching creation rules found\n/)
        expect(existsSync(path.join(sb.dir, "clusters/staging/db.yaml"))).toBe(false)
    })

    it("without .sops.yaml or a key: one line and a hint, exit 1, nothing written", async () => {
        const sb = sandbox()
        const r = await sb.run(["create", "generic", ...GUIDE, "--output", "s.yaml"])
        expect(r.code).toBe(1)
        const lines = r.stderr.trimEnd().split("\n")
        expect(lines).toHaveLength(2)
        expect(lines[0]).toMatch(/^no \.sops\.yaml at or above .* and no key given: nothing to encrypt basic-auth for$/)
        expect(lines[1]).toBe("hint: run kubectl sops bootstrap, or pass --age/--pgp (or set SOPS_AGE_RECIPIENTS)")
        expect(existsSync(path.join(sb.dir, "s.yaml"))).toBe(false)
        // SOPS_AGE_RECIPIENTS counts as a key
        const env = await sb.run(["create", "generic", ...GUIDE], { env: { SOPS_AGE_RECIPIENTS: AGE1 } })
        expect(env.code).toBe(0)
        expect(env.stdout).toContain(`recipient: ${AGE1}`)
        // a .sops.yaml without creation_rules
        writeFileSync(path.join(sb.dir, ".sops.yaml"), "stores:\n  yaml:\n    indent: 2\n")
        const noRules = await sb.run(["create", "generic", ...GUIDE])
        expect(noRules.code).toBe(1)
        expect(noRules.stderr).toMatch(/\.sops\.yaml has no creation_rules and no key was given/)
    })

    it("reports kubectl's errors with exit 1, and reads --from-env-file keys from the environment", async () => {
        const sb = sandbox()
        const bad = await sb.run(["create", "generic", "x", "--from-literal=novalue", "--age", AGE1])
        expect(bad.code).toBe(1)
        expect(bad.stderr).toBe("error: invalid literal source novalue, expected key=value\n")
        const none = await sb.run(["create", "generic", "--from-literal=a=b", "--age", AGE1])
        expect(none.code).toBe(1)
        expect(none.stderr.split("\n")[0]).toBe("error: exactly one NAME is required, got 0")
        const missing = await sb.run(["create", "generic", "x", "--from-file=nope", "--age", AGE1])
        expect(missing.stderr).toBe("error: error reading nope: no such file or directory\n")
        const csv = await sb.run(["create", "generic", "x", '--from-file=a"b', "--age", AGE1])
        expect(csv.code).toBe(1)
        expect(csv.stderr.split("\n")[0]).toBe('Error: invalid argument "a\\"b" for "--from-file" flag: parse error on line 1, column 2: bare " in non-quoted-field')
        writeFileSync(path.join(sb.dir, "a.env"), "TOKEN\nPLAIN=1\n")
        const r = await sb.run(["create", "generic", "x", "--from-env-file", "a.env", "--age", AGE1, "--output", "x.yaml"], { env: { TOKEN: "t0k" } })
        expect(r.code).toBe(0)
        const token = await sb.run(["decrypt", "--extract", '["data"]["TOKEN"]', "x.yaml"])
        expect(Buffer.from(token.stdout, "base64").toString()).toBe("t0k")
    })

    it.skipIf(!hasKubectl)("--append-hash and comma-separated --from-file give kubectl's name and data", async () => {
        const sb = sandbox()
        writeFileSync(path.join(sb.dir, "a.txt"), "A\n")
        writeFileSync(path.join(sb.dir, "b.txt"), "B\n")
        const args = ["h", "--from-file=a.txt,k=b.txt", "--from-literal=x=y", "--append-hash"]
        const r = await sb.run(["create", "generic", ...args, "--age", AGE1, "--output", "h.yaml"])
        expect(r.code).toBe(0)
        const back = await sb.run(["decrypt", "--indent", "2", "h.yaml"])
        expect(back.stdout).toBe(kubectl(args, sb.dir).stdout)
        expect(back.stdout).toMatch(/name: h-[a-z0-9]{10}\n/)
    })

    it("encrypts keys longer than 128 bytes (kubectl writes them as `? key`)", async () => {
        const sb = sandbox()
        const key = "k".repeat(200)
        const r = await sb.run(["create", "generic", "long", `--from-literal=${key}=v`, "--age", AGE1, "--output", "l.yaml"])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        // the YAML store writes it back as `? key` (go-yaml v3 does too); reading that back is the store's business
        expect(readFileSync(path.join(sb.dir, "l.yaml"), "utf8")).toMatch(new RegExp(`\\n {4}\\? ${key}\\n {4}: ENC\\[AES256_GCM,`))
    })

    it("keeps values whose base64 looks like a number or a bool as strings", async () => {
        const sb = sandbox()
        writeFileSync(path.join(sb.dir, "bool"), Buffer.from("true", "base64"))
        writeFileSync(path.join(sb.dir, "num"), Buffer.from("1234", "base64"))
        const r = await sb.run(["create", "generic", "typed", "--from-file=bool", "--from-file=num", "--age", AGE1, "--output", "t.yaml"])
        expect(r.code).toBe(0)
        expect(readFileSync(path.join(sb.dir, "t.yaml"), "utf8")).toMatch(/ {4}bool: ENC\[AES256_GCM,[^\]]*type:str\]\n {4}num: ENC\[AES256_GCM,[^\]]*type:str\]/)
        const back = await sb.run(["decrypt", "--indent", "2", "t.yaml"])
        expect(back.stdout).toContain('  bool: "true"\n  num: "1234"\n')
    })

    it("encrypts for a PGP key and keeps binary file bytes exactly", async () => {
        const sb = sandbox({ pgp: true })
        const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0x80])
        writeFileSync(path.join(sb.dir, "blob"), bytes)
        const r = await sb.run(["create", "generic", "b", "--from-file=blob", "--pgp", PGP_FP, "--type", "Opaque", "--output", "b.yaml"])
        expect(r.code).toBe(0)
        const text = readFileSync(path.join(sb.dir, "b.yaml"), "utf8")
        expect(text).toContain("\ntype: Opaque\n")
        expect(text).toContain(`fp: ${PGP_FP}`)
        const blob = await sb.run(["decrypt", "--extract", '["data"]["blob"]', "b.yaml"])
        expect(Buffer.from(blob.stdout, "base64").equals(bytes)).toBe(true)
    })
})
