import { completion } from "../cli/actions/completion.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops completion bash|zsh`. */
export const CompletionCommand = defineCommand(completion)
