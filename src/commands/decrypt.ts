import { decrypt } from "../cli/actions/decrypt.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops decrypt [FILE…]`. */
export const DecryptCommand = defineCommand(decrypt)
