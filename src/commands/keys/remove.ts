import { keysRemove } from "../../cli/actions/keys.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops keys remove`. */
export const KeysRemoveCommand = defineCommand(keysRemove)
