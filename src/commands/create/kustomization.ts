import { createKustomization } from "../../cli/actions/create.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops create kustomization`. */
export const CreateKustomizationCommand = defineCommand(createKustomization)
