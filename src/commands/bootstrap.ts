import { bootstrap } from "../cli/actions/bootstrap.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops bootstrap`. */
export const BootstrapCommand = defineCommand(bootstrap)
