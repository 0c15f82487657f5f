import { agentUnlock } from "../../cli/actions/agent.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops agent unlock`. */
export const AgentUnlockCommand = defineCommand(agentUnlock)
