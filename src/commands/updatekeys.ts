import { updatekeys } from "../cli/actions/updatekeys.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops updatekeys FILE…`. */
export const UpdatekeysCommand = defineCommand(updatekeys)
