/**
 * Structural-schema handling for custom resources, after apiextensions-apiserver: pruning of unknown fields,
 * defaulting and validation (kube-openapi messages converted to field errors), plus object-metadata checks used
 * for every kind.
 */
import type { FieldError } from "./errors.js"

/** An OpenAPI v3 (structural) schema node, as found in a CRD. */
// biome-ignore lint/suspicious/noExplicitAny: schemas are free-form JSON
export type Schema = Record<string, any>

// biome-ignore lint/suspicious/noExplicitAny: JSON values
type Json = any

function isObject(v: unknown): v is Record<string, Json> {
    return typeof v === "object" && v !== null && !Array.isArray(v)
}

/** Deep copy of a JSON value. */
export function clone<T>(v: T): T {
    return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T)
}

/**
 * Removes fields the schema does not know (not under x-kubernetes-preserve-unknown-fields), like the API server.
 * The paths of removed fields (`spec.bogus`, `spec.items[0].x`) are appended to `removed`.
 */
export function prune(value: Json, schema: Schema | undefined, root = false, removed: string[] = [], path = ""): Json {
    if (!schema) return value
    const at = (key: string) => (path ? `${path}.${key}` : key)
    if (isObject(value)) {
        if (schema.properties || schema.additionalProperties !== undefined) {
            for (const key of Object.keys(value)) {
                if (root && (key === "apiVersion" || key === "kind" || key === "metadata")) continue
                const sub = schema.properties?.[key]
                if (sub) prune(value[key], sub, false, removed, at(key))
                else if (isObject(schema.additionalProperties)) prune(value[key], schema.additionalProperties, false, removed, at(key))
                else if (schema.additionalProperties === true || schema["x-kubernetes-preserve-unknown-fields"]) continue
                else {
                    removed.push(at(key))
                    delete value[key]
                }
            }
        } else if (!schema["x-kubernetes-preserve-unknown-fields"] && schema.type === "object") {
            for (const key of Object.keys(value)) {
                if (!(root && (key === "apiVersion" || key === "kind" || key === "metadata"))) {
                    removed.push(at(key))
                    delete value[key]
                }
            }
        }
    } else if (Array.isArray(value) && schema.items) {
        value.forEach((item, i) => {
            prune(item, schema.items, false, removed, `${path}[${i}]`)
        })
    }
    return value
}

/** Applies `default:` values for missing properties, top-down. */
export function applyDefaults(value: Json, schema: Schema | undefined): Json {
    if (!schema) return value
    if (isObject(value)) {
        if (schema.properties) {
            for (const [key, sub] of Object.entries<Schema>(schema.properties)) {
                if (value[key] === undefined && sub.default !== undefined) value[key] = clone(sub.default)
                if (value[key] !== undefined) applyDefaults(value[key], sub)
            }
        }
        if (isObject(schema.additionalProperties)) {
            for (const key of Object.keys(value)) applyDefaults(value[key], schema.additionalProperties)
        }
    } else if (Array.isArray(value) && schema.items) {
        for (const item of value) applyDefaults(item, schema.items)
    }
    return value
}

function jsonType(v: Json): string {
    if (v === null) return "null"
    if (Array.isArray(v)) return "array"
    if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number"
    return typeof v
}

const regexCache = new Map<string, RegExp>()
function regex(pattern: string): RegExp {
    let re = regexCache.get(pattern)
    if (!re) {
        re = new RegExp(pattern, "u")
        regexCache.set(pattern, re)
    }
    return re
}

function join(path: string, key: string): string {
    return path ? `${path}.${key}` : key
}

/** Validates a custom resource (without metadata) against its schema; errors in kube-openapi order. */
export function validate(value: Json, schema: Schema | undefined, path = "", errors: FieldError[] = []): FieldError[] {
    if (!schema) return errors
    const type = jsonType(value)
    if (value === null) {
        if (schema.nullable || schema["x-kubernetes-preserve-unknown-fields"] || !schema.type) return errors
    }
    if (schema["x-kubernetes-int-or-string"]) {
        if (type !== "integer" && type !== "string") {
            errors.push({
                type: "TypeInvalid",
                field: path,
                value: type,
                detail: `${path} in body must be of type integer,string: ${JSON.stringify(type)}`,
            })
            return errors
        }
    } else if (schema.type) {
        const ok = schema.type === type || (schema.type === "number" && type === "integer")
        if (!ok) {
            errors.push({
                type: "TypeInvalid",
                field: path,
                value: type,
                detail: `${path} in body must be of type ${schema.type}: ${JSON.stringify(type)}`,
            })
            return errors
        }
    }
    if (Array.isArray(schema.enum) && !schema.enum.some((e: Json) => JSON.stringify(e) === JSON.stringify(value))) {
        errors.push({
            type: "NotSupported",
            field: path,
            value,
            supported: schema.enum.map((e: Json) => (typeof e === "string" ? e : JSON.stringify(e))),
        })
    }
    if (typeof value === "string") {
        const length = [...value].length
        if (schema.maxLength !== undefined && length > schema.maxLength) {
            errors.push({ type: "TooLong", field: path, value, detail: `may not be more than ${schema.maxLength} bytes` })
        }
        if (schema.minLength !== undefined && length < schema.minLength) {
            errors.push({
                type: "Invalid",
                field: path,
                value,
                detail: `${path} in body should be at least ${schema.minLength} chars long`,
            })
        }
        if (schema.pattern !== undefined && !regex(schema.pattern).test(value)) {
            errors.push({ type: "Invalid", field: path, value, detail: `${path} in body should match '${schema.pattern}'` })
        }
    }
    if (typeof value === "number") {
        if (schema.minimum !== undefined) {
            const bad = schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum
            if (bad) {
                const rel = schema.exclusiveMinimum ? "greater than" : "greater than or equal to"
                errors.push({ type: "Invalid", field: path, value, detail: `${path} in body should be ${rel} ${schema.minimum}` })
            }
        }
        if (schema.maximum !== undefined) {
            const bad = schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum
            if (bad) {
                const rel = schema.exclusiveMaximum ? "less than" : "less than or equal to"
                errors.push({ type: "Invalid", field: path, value, detail: `${path} in body should be ${rel} ${schema.maximum}` })
            }
        }
    }
    if (Array.isArray(value)) {
        if (schema.maxItems !== undefined && value.length > schema.maxItems) {
            errors.push({ type: "TooMany", field: path, value: value.length, detail: `must have at most ${schema.maxItems} items` })
        }
        if (schema.minItems !== undefined && value.length < schema.minItems) {
            errors.push({
                type: "Invalid",
                field: path,
                value,
                detail: `${path} in body should have at least ${schema.minItems} items`,
            })
        }
        if (schema.items) value.forEach((item, i) => {
            validate(item, schema.items, `${path}[${i}]`, errors)
        })
    }
    if (isObject(value)) {
        for (const key of schema.required ?? []) {
            if (value[key] === undefined) errors.push({ type: "Required", field: join(path, key) })
        }
        const keys = Object.keys(value).sort()
        for (const key of keys) {
            const sub = schema.properties?.[key]
            if (sub) validate(value[key], sub, join(path, key), errors)
            else if (isObject(schema.additionalProperties)) validate(value[key], schema.additionalProperties, `${path}[${key}]`, errors)
        }
    }
    return errors
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const SUBDOMAIN_MSG =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
const LABEL_MSG =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"

/** Checks a name the way ValidateObjectMeta does (DNS-1123 subdomain, or label for namespaces). */
export function validateName(name: unknown, asLabel = false): FieldError[] {
    if (name === undefined || name === "") {
        return [{ type: "Required", field: "metadata.name", detail: "name or generateName is required" }]
    }
    if (typeof name !== "string") return [{ type: "Invalid", field: "metadata.name", value: name, detail: "must be a string" }]
    const errors: FieldError[] = []
    if (asLabel) {
        if (name.length > 63) errors.push({ type: "Invalid", field: "metadata.name", value: name, detail: "must be no more than 63 characters" })
        if (!DNS1123_LABEL.test(name)) errors.push({ type: "Invalid", field: "metadata.name", value: name, detail: LABEL_MSG })
    } else {
        if (name.length > 253) errors.push({ type: "Invalid", field: "metadata.name", value: name, detail: "must be no more than 253 characters" })
        if (!DNS1123_SUBDOMAIN.test(name)) errors.push({ type: "Invalid", field: "metadata.name", value: name, detail: SUBDOMAIN_MSG })
    }
    return errors
}

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

function validQualifiedName(key: string): boolean {
    const parts = key.split("/")
    if (parts.length > 2) return false
    const name = parts[parts.length - 1]
    if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) return false
    if (parts.length === 2) return parts[0].length > 0 && parts[0].length <= 253 && DNS1123_SUBDOMAIN.test(parts[0])
    return true
}

/** Labels and annotations checks (keys are qualified names, label values ≤ 63 chars). */
export function validateMetadataMaps(meta: Record<string, Json>): FieldError[] {
    const errors: FieldError[] = []
    for (const which of ["labels", "annotations"] as const) {
        const m = meta[which]
        if (m === undefined || m === null) continue
        if (!isObject(m)) {
            errors.push({ type: "Invalid", field: `metadata.${which}`, value: m, detail: "must be a map of strings" })
            continue
        }
        for (const [k, v] of Object.entries(m)) {
            if (!validQualifiedName(k)) {
                errors.push({
                    type: "Invalid",
                    field: `metadata.${which}`,
                    value: k,
                    detail:
                        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                })
            }
            if (typeof v !== "string") {
                errors.push({ type: "Invalid", field: `metadata.${which}[${k}]`, value: v, detail: "must be a string" })
            } else if (which === "labels" && (v.length > 63 || !LABEL_VALUE.test(v))) {
                errors.push({
                    type: "Invalid",
                    field: `metadata.labels`,
                    value: v,
                    detail:
                        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                })
            }
        }
    }
    return errors
}

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/

/** Secret / ConfigMap data keys. */
export function validateConfigKeys(map: unknown, field: string): FieldError[] {
    if (!isObject(map)) return []
    const errors: FieldError[] = []
    for (const key of Object.keys(map)) {
        if (key.length > 253 || !CONFIG_KEY.test(key) || key === "." || key === "..") {
            errors.push({
                type: "Invalid",
                field: `${field}[${key}]`,
                value: key,
                detail:
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            })
        }
    }
    return errors
}
