import { createSourceGit } from "../../../cli/actions/create.js"
import { defineCommand } from "../../../cli/oclif-command.js"

/** `kubectl sops create source git`. */
export const CreateSourceGitCommand = defineCommand(createSourceGit)
