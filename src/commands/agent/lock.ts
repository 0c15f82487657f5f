import { agentLock } from "../../cli/actions/agent.js"
import { defineCommand } from "../../cli/oclif-command.js"

/** `kubectl sops agent lock`. */
export const AgentLockCommand = defineCommand(agentLock)
