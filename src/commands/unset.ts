import { unset } from "../cli/actions/set.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops unset FILE PATH`. */
export const UnsetCommand = defineCommand(unset)
