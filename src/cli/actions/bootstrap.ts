/** Placeholder: replaced by the implementation. */
import { ErrorKind, KsopsError } from "../../errors.js"
import type { CommandSpec } from "../spec.js"

/** `kubectl sops bootstrap`. */
export const bootstrap: CommandSpec = {
    id: "bootstrap",
    summary: "Set up SOPS decryption for Flux in the cluster",
    examples: [],
    flags: {},
    args: [],
    variadic: true,
    async run() {
        throw new KsopsError(ErrorKind.Generic, "bootstrap: not implemented yet")
    },
}
