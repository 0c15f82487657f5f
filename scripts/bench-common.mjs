// What the benchmark scripts share: where the CLI is, the sops 3.13.2 test keys beside the repository, the age
// recipient they encrypt for, and numeric flags.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root. */
export const root = fileURLToPath(new URL("../", import.meta.url))
/** The built CLI. */
export const bin = join(root, "bin/kubectl-sops")
/** The keys of the shared sops 3.13.2 vectors (age1.agekey, all.agekey, age1.pub, …). */
export const keysDir = join(root, "../shared/vectors/sops-3.13.2/keys")
/** The recipient of age1.agekey. */
export const AGE = readFileSync(join(keysDir, "age1.pub"), "utf8").trim()

/** The number after `--name` on the command line, or `fallback`. */
export function numberArg(name, fallback) {
    const i = process.argv.indexOf(name)
    return i < 0 ? fallback : Number(process.argv[i + 1])
}
