/** Placeholder: replaced by the implementation. */
import { ErrorKind, KsopsError } from "../../errors.js"
import type { CommandSpec } from "../spec.js"

/** `kubectl sops create generic`. */
export const createGeneric: CommandSpec = {
    id: "create generic",
    summary: "Write an encrypted Secret manifest",
    examples: [],
    flags: {},
    args: [],
    variadic: true,
    async run() {
        throw new KsopsError(ErrorKind.Generic, "create generic: not implemented yet")
    },
}
