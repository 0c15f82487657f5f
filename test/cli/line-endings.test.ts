/**
 * CRLF line endings, a UTF-8 BOM and invalid UTF-8 through the real CLI (encrypt → decrypt), compared with what
 * sops 3.13.2 does: YAML and INI take both (sops-3.13.2-cli/yaml-bom and yaml-crlf record sops' output), JSON takes
 * CRLF and refuses a BOM as Go's encoding/json does, invalid UTF-8 YAML is refused with go-yaml's reader problem.
 */
import { readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { AGE1, sandbox } from "../commands/fixtures.js"
import { vectorsDir } from "./run.js"

const BOM = Buffer.from([0xef, 0xbb, 0xbf])
const crlf = (s: string) => Buffer.from(s.replace(/\n/g, "\r\n"))
const withBom = (b: Buffer) => Buffer.concat([BOM, b])

describe("CRLF and BOM through encrypt and decrypt", () => {
    it("YAML: sops' yaml-bom and yaml-crlf inputs decrypt to sops' own output", async () => {
        const sb = sandbox()
        for (const c of ["yaml-bom", "yaml-crlf"]) {
            writeFileSync(path.join(sb.dir, `${c}.yaml`), readFileSync(path.join(vectorsDir, "sops-3.13.2-cli", c, "in.yaml")))
            const enc = await sb.run(["encrypt", "--age", AGE1, "-i", `${c}.yaml`])
            expect(enc.code, enc.stderr).toBe(0)
            const dec = await sb.run(["decrypt", `${c}.yaml`])
            expect(dec.code, dec.stderr).toBe(0)
            expect(dec.stdout, c).toBe(readFileSync(path.join(vectorsDir, "sops-3.13.2-cli", c, "out.yaml"), "utf8"))
        }
    })

    const plain = {
        yaml: "# comment\napiVersion: v1\nkind: Secret\nstringData:\n    user: admin\n    password: |\n        line one\n        line two\n",
        json: '{\n\t"user": "admin",\n\t"password": "two words",\n\t"n": [\n\t\t1,\n\t\ttrue\n\t]\n}\n',
        ini: "[db]\nuser = admin\npassword = two words\n",
    }
    // what decrypt prints for each (go-ini aligns the = of a section; YAML and JSON above are in sops' layout)
    const decrypted: Record<string, string> = { ...plain, ini: "[db]\nuser     = admin\npassword = two words\n" }

    for (const [format, lf] of Object.entries(plain)) {
        it(`${format}: CRLF${format === "json" ? "" : " with a BOM"} encrypts and decrypts to what the LF file gives; an encrypted file converted to CRLF still decrypts`, async () => {
            const sb = sandbox()
            const file = `crlf.${format}`
            const input = format === "json" ? crlf(lf) : withBom(crlf(lf))
            writeFileSync(path.join(sb.dir, file), input)
            const enc = await sb.run(["encrypt", "--age", AGE1, "-i", file])
            expect(enc.code, enc.stderr).toBe(0)
            const encrypted = readFileSync(path.join(sb.dir, file), "utf8")
            expect(encrypted).not.toContain("\r")
            expect(encrypted).not.toContain("admin")
            const dec = await sb.run(["decrypt", file])
            expect(dec.code, dec.stderr).toBe(0)
            expect(dec.stdout).toBe(decrypted[format])

            // the encrypted file checked out with CRLF (git autocrlf) and a BOM where the format allows one
            writeFileSync(path.join(sb.dir, file), format === "json" ? crlf(encrypted) : withBom(crlf(encrypted)))
            const again = await sb.run(["decrypt", file])
            expect(again.code, again.stderr).toBe(0)
            expect(again.stdout).toBe(decrypted[format])
        })
    }

    it("json: a BOM is refused like Go's encoding/json, in one line, nothing encrypted", async () => {
        const sb = sandbox()
        const input = withBom(Buffer.from('{"password": "hunter2"}\n'))
        writeFileSync(path.join(sb.dir, "bom.json"), input)
        const r = await sb.run(["encrypt", "--age", AGE1, "-i", "bom.json"])
        // sops: Error unmarshalling file → could not read input file
        expect(r.code).toBe(2)
        expect(r.stderr).toBe("bom.json:1:1: invalid character 'ï' looking for beginning of value\n")
        expect(readFileSync(path.join(sb.dir, "bom.json")).equals(input)).toBe(true)
    })
})

describe("non-UTF-8 YAML", () => {
    const cases: [string, Buffer, string][] = [
        // "password: café crème" saved as Latin-1
        ["latin1.yaml", Buffer.from("user: admin\npassword: caf\xe9 cr\xe8me\n", "latin1"), "latin1.yaml:2:15: yaml: invalid trailing UTF-8 octet"],
        ["end.yaml", Buffer.from("user: admin\npassword: caf\xe9\n", "latin1"), "end.yaml:2:14: yaml: incomplete UTF-8 octet sequence"],
        ["lead.yaml", Buffer.from("password: \xa9hunter2\n", "latin1"), "lead.yaml:1:11: yaml: invalid leading UTF-8 octet"],
    ]
    for (const [file, input, line] of cases) {
        it(`${file}: go-yaml's problem and where, one line, no byte of the value, exit 2 (encrypt) or 1`, async () => {
            const sb = sandbox()
            writeFileSync(path.join(sb.dir, file), input)
            // as sops: a plaintext that does not parse cannot be read (2); an encrypted file that does not load is
            // an uncoded error (1)
            for (const [code, args] of [
                [2, ["encrypt", "--age", AGE1, file]],
                [2, ["encrypt", "--age", AGE1, "-i", file]],
                [1, ["decrypt", file]],
                [1, ["filestatus", file]],
            ] as const) {
                const r = await sb.run([...args])
                expect(r.code, args.join(" ")).toBe(code)
                expect(r.stdout).toBe("")
                expect(r.stderr, args.join(" ")).toBe(`${line}\n`)
                expect(r.stderr).not.toMatch(/caf|cr|hunter|admin|\ufffd/)
            }
            expect(readFileSync(path.join(sb.dir, file)).equals(input)).toBe(true)
        })
    }
})
