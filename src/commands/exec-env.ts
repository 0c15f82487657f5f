import { execEnv } from "../cli/actions/exec.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops exec-env FILE COMMAND`. */
export const ExecEnvCommand = defineCommand(execEnv)
