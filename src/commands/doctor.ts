import { doctor } from "../cli/actions/doctor.js"
import { defineCommand } from "../cli/oclif-command.js"

/** `kubectl sops doctor`. */
export const DoctorCommand = defineCommand(doctor)
