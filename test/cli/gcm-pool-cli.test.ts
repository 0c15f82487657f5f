import { readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { AGE1, sandbox } from "../commands/fixtures.js"

/** A YAML document with more values than the worker pool's threshold (20,000). */
function largeYaml(groups: number, perGroup: number): string {
    const lines: string[] = []
    for (let g = 0; g < groups; g++) {
        lines.push(`group${g}:`)
        for (let k = 0; k < perGroup; k++) lines.push(`    key${k}: secret-${g}-${k}`)
    }
    return `${lines.join("\n")}\n`
}

describe("large files (the two-thread value cipher), through the CLI", () => {
    it("encrypts and decrypts 24,000 values, and names the one tampered value", async () => {
        const sb = sandbox()
        const plain = largeYaml(600, 40)
        writeFileSync(path.join(sb.dir, "large.yaml"), plain)
        const enc = await sb.run(["encrypt", "--age", AGE1, "--output", "large.enc.yaml", "large.yaml"])
        expect(enc.stderr).toBe("")
        expect(enc.code).toBe(0)
        const sealed = readFileSync(path.join(sb.dir, "large.enc.yaml"), "utf8")
        expect(sealed.match(/ENC\[AES256_GCM,data:/g)).toHaveLength(24_001) // the values and the MAC
        const dec = await sb.run(["decrypt", "large.enc.yaml"])
        expect(dec.stderr).toBe("")
        expect(dec.code).toBe(0)
        expect(dec.stdout).toBe(plain)
        // one value deep in the file gets another value's ciphertext (a valid ENC string, wrong AAD)
        const lines = sealed.split("\n")
        const at = lines.indexOf("group555:") + 8
        expect(lines[at]).toMatch(/^ {4}key7: ENC\[/)
        const donor = lines.find((l) => l.startsWith("    key8:")) as string
        lines[at] = `    key7:${donor.slice("    key8:".length)}`
        writeFileSync(path.join(sb.dir, "tampered.enc.yaml"), lines.join("\n"))
        const bad = await sb.run(["decrypt", "tampered.enc.yaml"])
        expect(bad.code).toBe(25)
        expect(bad.stdout).toBe("")
        expect(bad.stderr).toContain("group555")
        expect(bad.stderr).toContain("key7")
        expect(bad.stderr).not.toContain("secret-")
    })
})
