import { set } from "../cli/actions/set.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops set FILE PATH VALUE`. */
export const SetCommand = defineCommand(set)
