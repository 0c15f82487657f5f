import { createGeneric } from "../../cli/actions/create-generic.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops create generic`. */
export const CreateGenericCommand = defineCommand(createGeneric)
