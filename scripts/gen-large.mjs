// Generates the benchmark inputs: a ~6 MiB YAML with 120,000 values, and Secret manifests.
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** A deterministic ~6 MiB YAML document: 3,000 groups × 40 string values. */
export function largeYaml() {
    const lines = []
    let n = 0
    for (let g = 0; g < 3000; g++) {
        lines.push(`group${g}:`)
        for (let k = 0; k < 40; k++) {
            n++
            lines.push(`    key${k}: value-${n.toString(36).padStart(6, "0")}-${"x".repeat(20)}`)
        }
    }
    return `${lines.join("\n")}\n`
}

/** The Flux guide's basic-auth Secret, as `kubectl create secret generic … --dry-run=client -o yaml` prints it. */
export function basicAuthSecret(name = "basic-auth") {
    return `apiVersion: v1
data:
  password: Y2hhbmdlLW1l
  user: YWRtaW4=
kind: Secret
metadata:
  creationTimestamp: null
  name: ${name}
  namespace: default
`
}

/** Write `count` Secret files into `dir`. */
export function writeSecrets(dir, count) {
    mkdirSync(dir, { recursive: true })
    const files = []
    for (let i = 0; i < count; i++) {
        const f = join(dir, `secret-${String(i).padStart(4, "0")}.yaml`)
        writeFileSync(f, basicAuthSecret(`basic-auth-${i}`))
        files.push(f)
    }
    return files
}
