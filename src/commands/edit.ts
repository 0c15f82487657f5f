import { edit } from "../cli/actions/edit.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops edit FILE`. */
export const EditCommand = defineCommand(edit)
