import { keysList } from "../../cli/actions/keys.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops keys list`. */
export const KeysListCommand = defineCommand(keysList)
