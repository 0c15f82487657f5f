import { createSecret } from "../../cli/actions/create.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops create secret`. */
export const CreateSecretCommand = defineCommand(createSecret)
