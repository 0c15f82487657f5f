import { check } from "../cli/actions/check.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops check`. */
export const CheckCommand = defineCommand(check)
