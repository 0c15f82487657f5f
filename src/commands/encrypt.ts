import { encrypt } from "../cli/actions/encrypt.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops encrypt [FILE…]`. */
export const EncryptCommand = defineCommand(encrypt)
