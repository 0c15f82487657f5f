import { filestatus } from "../cli/actions/filestatus.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops filestatus FILE…`. */
export const FilestatusCommand = defineCommand(filestatus)
