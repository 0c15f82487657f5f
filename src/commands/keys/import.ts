import { keysImport } from "../../cli/actions/keys.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops keys import`. */
export const KeysImportCommand = defineCommand(keysImport)
