/** Placeholder: replaced by the implementation. */
import { ErrorKind, KsopsError } from "../../errors.js"
import type { CommandSpec } from "../spec.js"

/** `kubectl sops create secret`. */
export const createSecret: CommandSpec = {
    id: "create secret",
    summary: "Create a decryption Secret for kustomize-controller",
    examples: [],
    flags: {},
    args: [],
    variadic: true,
    async run() {
        throw new KsopsError(ErrorKind.Generic, "create secret: not implemented yet")
    },
}

/** `kubectl sops create source git`. */
export const createSourceGit: CommandSpec = {
    id: "create source git",
    summary: "Create a Flux GitRepository source",
    examples: [],
    flags: {},
    args: [],
    variadic: true,
    async run() {
        throw new KsopsError(ErrorKind.Generic, "create source git: not implemented yet")
    },
}

/** `kubectl sops create kustomization`. */
export const createKustomization: CommandSpec = {
    id: "create kustomization",
    summary: "Create a Flux Kustomization with SOPS decryption",
    examples: [],
    flags: {},
    args: [],
    variadic: true,
    async run() {
        throw new KsopsError(ErrorKind.Generic, "create kustomization: not implemented yet")
    },
}
