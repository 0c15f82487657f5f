/**
 * toKubeYaml against the real sigs.k8s.io/yaml: kubectl prints `create configmap --dry-run=client -o yaml` with the
 * same marshaller, so random values (quoting, escapes, literal blocks, folding) must come out byte for byte the same.
 */
import { spawnSync } from "node:child_process"
import fc from "fast-check"
import { describe, expect, test } from "vitest"
import { toKubeYaml } from "../../src/kube/yaml.js"
import { needs } from "../cli/run.js"

const pieces = [
    "a", "Z", "0", "1", "9", " ", "  ", "\n", "\t", ":", ": ", " #", "#", "-", "- ", "?", ",", "[", "]", "{", "}", "&", "*", "!", "|", ">",
    "'", '"', "%", "@", "`", "~", ".", "_", "/", "\\", "é", "😀", "\u0085", "\u2028", "\r", "true", "yes", "NO", "null", "0x1F", "1e3",
    "1.5", "012", "2024-01-02", "1:30", "---", "...", "<<", "+", ".inf", "word ",
] // biome-ignore format: table

const value = fc.array(fc.constantFrom(...pieces), { minLength: 0, maxLength: 12 }).map((p) => p.join(""))
const longValue = fc.array(fc.constantFrom("word", "w", "longer-word", " ", "  ", ":", "'", "\t", "é"), { minLength: 20, maxLength: 60 }).map((p) => p.join(" "))

describe.runIf(needs("kubectl"))("toKubeYaml = kubectl's sigs.k8s.io/yaml", () => {
    test("random values in a ConfigMap", () => {
        const values = [...fc.sample(value, { numRuns: 300, seed: 42 }), ...fc.sample(longValue, { numRuns: 60, seed: 7 })]
        const data: Record<string, string> = {}
        values.forEach((v, i) => {
            data[`k${i}`] = v
        })
        const args = ["create", "configmap", "x", "--dry-run=client", "-o", "yaml", ...Object.entries(data).map(([k, v]) => `--from-literal=${k}=${v}`)]
        const r = spawnSync("kubectl", args, { encoding: "utf8", env: { ...process.env, KUBECONFIG: "/dev/null" } })
        expect(r.status, r.stderr).toBe(0)
        const ours = toKubeYaml({ apiVersion: "v1", data, kind: "ConfigMap", metadata: { creationTimestamp: null, name: "x" } })
        const theirs = r.stdout.split("\n")
        ours.split("\n").forEach((line, i) => {
            expect(line, `line ${i + 1}`).toBe(theirs[i])
        })
        expect(ours).toBe(r.stdout)
    })
})
