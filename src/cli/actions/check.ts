/** Placeholder: replaced by the implementation. */
import { ErrorKind, KsopsError } from "../../errors.js"
import type { CommandSpec } from "../spec.js"

/** `kubectl sops check`. */
export const check: CommandSpec = {
    id: "check",
    summary: "Predict whether kustomize-controller will decrypt a path",
    examples: [],
    flags: {},
    args: [],
    variadic: true,
    async run() {
        throw new KsopsError(ErrorKind.Generic, "check: not implemented yet")
    },
}
