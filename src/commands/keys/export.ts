import { keysExport } from "../../cli/actions/keys.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops keys export`. */
export const KeysExportCommand = defineCommand(keysExport)
