import { keysGenerate } from "../../cli/actions/keys.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops keys generate`. */
export const KeysGenerateCommand = defineCommand(keysGenerate)
