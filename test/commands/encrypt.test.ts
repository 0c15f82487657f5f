import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { AGE1, cases, sandbox } from "./fixtures.js"

const read = (file: string) => readFileSync(file, "utf8")

describe("kubectl sops encrypt", () => {
    it("encrypts with --age and --encrypted-regex like sops (secret-age-cli)", async () => {
        const sb = sandbox()
        sb.copy("secret-age-cli/plain.yaml")
        const r = await sb.run(["encrypt", "--age", AGE1, "--encrypted-regex", "^(data|stringData)$", "plain.yaml"])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        // Same clear parts as sops' output: everything but ciphertexts, enc and timestamps.
        const mask = (s: string) =>
            s
                .replace(/ENC\[[^\]]*\]/g, "ENC")
                .replace(/-----BEGIN AGE ENCRYPTED FILE-----[\s\S]*?-----END AGE ENCRYPTED FILE-----/g, "AGE")
                .replace(/lastmodified: .*/, "lastmodified")
        expect(mask(r.stdout)).toBe(mask(read(path.join(cases, "secret-age-cli/out.stdout"))))
        writeFileSync(path.join(sb.dir, "enc.yaml"), r.stdout)
        const back = await sb.run(["decrypt", "enc.yaml"])
        expect(back.code).toBe(0)
        const sopsDecrypted = await sb.run(["decrypt", "--input-type", "yaml"], { input: read(path.join(cases, "secret-age-cli/out.stdout")) })
        expect(back.stdout).toBe(sopsDecrypted.stdout)
    })

    it("refuses a file that is already encrypted with sops' message and exit 203", async () => {
        const sb = sandbox()
        sb.copy("err-already-encrypted/input.yaml")
        const r = await sb.run(["encrypt", "--age", AGE1, "input.yaml"])
        expect(r.code).toBe(203)
        expect(r.stderr).toBe(read(path.join(cases, "err-already-encrypted/out.stderr")))
    })

    it("uses the .sops.yaml creation rule and writes in place", async () => {
        const sb = sandbox()
        sb.copy("secret-age/plain.yaml", "secret.yaml")
        sb.copy("secret-age/.sops.yaml")
        const r = await sb.run(["encrypt", "-i", "secret.yaml"])
        expect(r.code).toBe(0)
        expect(r.stdout).toBe("")
        const status = await sb.run(["filestatus", "secret.yaml"])
        expect(status.stdout).toBe('{"encrypted":true}\n')
        const back = await sb.run(["decrypt", "secret.yaml"])
        const plain = await sb.run(["decrypt", "--input-type", "yaml"], { input: read(path.join(cases, "secret-age/out.stdout")) })
        expect(back.stdout).toBe(plain.stdout)
    })

    it("needs --filename-override for stdin (exit 100) and uses it", async () => {
        const sb = sandbox()
        const plain = read(path.join(cases, "secret-age/plain.yaml"))
        const without = await sb.run(["encrypt", "--age", AGE1], { input: plain })
        expect(without.code).toBe(100)
        const withName = await sb.run(["encrypt", "--age", AGE1, "--filename-override", "s.yaml"], { input: plain })
        expect(withName.code).toBe(0)
        expect(withName.stdout).toContain("sops:")
    })

    it("exits 100 for a missing file, 8 for -i with --output, 1 without keys", async () => {
        const sb = sandbox()
        expect((await sb.run(["encrypt", "--age", AGE1, "nope.yaml"])).code).toBe(100)
        sb.copy("secret-age/plain.yaml")
        const both = await sb.run(["encrypt", "--age", AGE1, "-i", "--output", "o.yaml", "plain.yaml"])
        expect(both.code).toBe(8)
        const noKeys = await sb.run(["encrypt", "plain.yaml"])
        expect(noKeys.code).toBe(1)
        expect(noKeys.stderr.split("\n")[0]).toContain("no keys provided")
    })

    it("encrypts folders in bulk with each file's creation rule (creation-rules case)", async () => {
        const sb = sandbox({ pgp: true })
        sb.copy("creation-rules/.sops.yaml")
        sb.copy("creation-rules/clusters")
        sb.copy("creation-rules/apps")
        for (const f of ["clusters/cluster0/secret.yaml", "clusters/cluster1/secret.yaml", "apps/app.env"]) {
            writeFileSync(path.join(sb.dir, f), read(path.join(sb.dir, `${f}.plain`)))
        }
        const r = await sb.run(["encrypt", "-i", "clusters", "apps"])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        const c0 = read(path.join(sb.dir, "clusters/cluster0/secret.yaml"))
        const c1 = read(path.join(sb.dir, "clusters/cluster1/secret.yaml"))
        const app = read(path.join(sb.dir, "apps/app.env"))
        expect(c0).toMatch(/recipient: age1nk4c/)
        expect(c1).toMatch(/fp: EE1E8CF37CFC50776EF383589CC3EF7A23419576/)
        expect(app).toMatch(/^sops_age__list_0__map_recipient=age16tl3/m)
        expect(readdirSync(path.join(sb.dir, "clusters/cluster0")).sort()).toEqual(["secret.yaml", "secret.yaml.plain"])
        for (const f of ["clusters/cluster0/secret.yaml", "clusters/cluster1/secret.yaml", "apps/app.env"]) {
            const back = await sb.run(["decrypt", f])
            expect(back.code).toBe(0)
            const sopsPlain = await sb.run(["decrypt", f], { cwd: path.join(cases, "creation-rules") })
            expect(back.stdout).toBe(sopsPlain.stdout)
        }
        // A second run skips the files that are encrypted now.
        const again = await sb.run(["encrypt", "-i", "clusters", "apps"])
        expect(again.code).toBe(0)
        expect(again.stderr).toContain("skipped: already encrypted")
    })
})
