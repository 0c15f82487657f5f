import { agentStart } from "../../cli/actions/agent.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops agent start`. */
export const AgentStartCommand = defineCommand(agentStart)
