/** Shared helpers of the kube tests: golden files and a CRD schema check. */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"
import { parse } from "yaml"
import { crdsDir, requireSharedData } from "../conformance-data.js"

const here = path.dirname(fileURLToPath(import.meta.url))
/** test/kube/golden */
export const goldenDir = path.join(here, "golden")
/** The shared data's crds/ */
export { crdsDir }

/** Compare with test/kube/golden/NAME byte for byte (UPDATE_GOLDEN=1 writes missing files only). */
export function expectGolden(name: string, actual: string): void {
    const file = path.join(goldenDir, name)
    if (!existsSync(file) && process.env.UPDATE_GOLDEN === "1") writeFileSync(file, actual)
    expect(actual).toBe(readFileSync(file, "utf8"))
}

// biome-ignore lint/suspicious/noExplicitAny: schemas are free-form JSON
type Schema = Record<string, any>

/** The openAPIV3Schema of the served version of the CRD for apiVersion/kind in the shared data's crds/. */
export function crdSchema(apiVersion: string, kind: string): Schema {
    requireSharedData()
    const [group, version] = apiVersion.split("/")
    for (const file of ["kustomize.toolkit.fluxcd.io_kustomizations.yaml", "source.toolkit.fluxcd.io_gitrepositories.yaml", "source.toolkit.fluxcd.io_ocirepositories.yaml"]) {
        const crd = parse(readFileSync(path.join(crdsDir, file), "utf8")) as Schema
        if (crd.spec.group !== group || crd.spec.names.kind !== kind) continue
        const v = (crd.spec.versions as Schema[]).find((x) => x.name === version)
        if (v !== undefined) return v.schema.openAPIV3Schema as Schema
    }
    throw new Error(`no CRD for ${apiVersion} ${kind}`)
}

/**
 * Validate against a structural schema: types, required, enum, pattern, min/max length and items, and unknown fields
 * (which the API server would silently prune). @returns the error list, empty when valid
 */
export function schemaErrors(value: unknown, schema: Schema, at = ""): string[] {
    const errs: string[] = []
    const t = schema.type as string | undefined
    if (schema["x-kubernetes-int-or-string"] === true) {
        if (typeof value !== "string" && typeof value !== "number") errs.push(`${at}: must be int or string`)
        return errs
    }
    if (t === "object") {
        if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${at}: must be an object`]
        const obj = value as Record<string, unknown>
        for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in obj)) errs.push(`${at}.${r}: Required value`)
        for (const [k, v] of Object.entries(obj)) {
            if (at === "" && (k === "apiVersion" || k === "kind" || k === "metadata" || k === "status")) continue
            const sub = schema.properties?.[k] ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined)
            if (sub !== undefined) errs.push(...schemaErrors(v, sub, `${at}.${k}`))
            else if (schema["x-kubernetes-preserve-unknown-fields"] !== true && schema.additionalProperties !== true) errs.push(`${at}.${k}: unknown field`)
        }
        return errs
    }
    if (t === "array") {
        if (!Array.isArray(value)) return [`${at}: must be an array`]
        value.forEach((v, i) => {
            errs.push(...schemaErrors(v, schema.items ?? {}, `${at}[${i}]`))
        })
        return errs
    }
    if (t === "string") {
        if (typeof value !== "string") return [`${at}: must be a string`]
        if (schema.pattern !== undefined && !new RegExp(schema.pattern as string).test(value)) errs.push(`${at}: must match ${schema.pattern}`)
        if (schema.maxLength !== undefined && value.length > schema.maxLength) errs.push(`${at}: too long`)
        if (schema.minLength !== undefined && value.length < schema.minLength) errs.push(`${at}: too short`)
    } else if (t === "boolean" && typeof value !== "boolean") errs.push(`${at}: must be a boolean`)
    else if (t === "integer" && !Number.isInteger(value)) errs.push(`${at}: must be an integer`)
    if (schema.enum !== undefined && !(schema.enum as unknown[]).includes(value)) errs.push(`${at}: must be one of ${JSON.stringify(schema.enum)}`)
    return errs
}
