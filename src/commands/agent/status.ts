import { agentStatus } from "../../cli/actions/agent.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops agent status`. */
export const AgentStatusCommand = defineCommand(agentStatus)
