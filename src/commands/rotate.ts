import { rotate } from "../cli/actions/rotate.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops rotate FILE…`. */
export const RotateCommand = defineCommand(rotate)
