import { agentStop } from "../../cli/actions/agent.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops agent stop`. */
export const AgentStopCommand = defineCommand(agentStop)
