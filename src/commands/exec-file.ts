import { execFile } from "../cli/actions/exec.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops exec-file FILE COMMAND`. */
export const ExecFileCommand = defineCommand(execFile)
