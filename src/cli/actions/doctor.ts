/** Placeholder: replaced by the implementation. */
import { ErrorKind, KsopsError } from "../../errors.js"
import type { CommandSpec } from "../spec.js"

/** `kubectl sops doctor`. */
export const doctor: CommandSpec = {
    id: "doctor",
    summary: "Check the live Flux SOPS chain in the cluster",
    examples: [],
    flags: {},
    args: [],
    variadic: true,
    async run() {
        throw new KsopsError(ErrorKind.Generic, "doctor: not implemented yet")
    },
}
