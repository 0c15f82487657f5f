/** Kubernetes `Status` errors (metav1.Status) as the real API server writes them. */

/** One `details.causes` entry. */
export interface StatusCause {
    reason?: string
    message?: string
    field?: string
}

/** An error that the server turns into a `Status` response. */
export class StatusError extends Error {
    readonly code: number
    readonly reason: string
    readonly details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number }

    constructor(
        code: number,
        reason: string,
        message: string,
        details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number },
    ) {
        super(message)
        this.code = code
        this.reason = reason
        this.details = details
    }

    /** The JSON body. */
    toStatus(): Record<string, unknown> {
        const body: Record<string, unknown> = {
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Failure",
            message: this.message,
        }
        if (this.reason) body.reason = this.reason
        if (this.details) body.details = this.details
        body.code = this.code
        return body
    }
}

/** Group-qualified resource for messages: `secrets`, `kustomizations.kustomize.toolkit.fluxcd.io`. */
export function qualifiedResource(group: string, resource: string): string {
    return group ? `${resource}.${group}` : resource
}

/** Group-qualified kind: `Secret`, `Kustomization.kustomize.toolkit.fluxcd.io`. */
export function qualifiedKind(group: string, kind: string): string {
    return group ? `${kind}.${group}` : kind
}

/** 404 `secrets "x" not found`. */
export function notFound(group: string, resource: string, name: string): StatusError {
    return new StatusError(404, "NotFound", `${qualifiedResource(group, resource)} "${name}" not found`, {
        name,
        ...(group ? { group } : {}),
        kind: resource,
    })
}

/** 409 `secrets "x" already exists`. */
export function alreadyExists(group: string, resource: string, name: string): StatusError {
    return new StatusError(409, "AlreadyExists", `${qualifiedResource(group, resource)} "${name}" already exists`, {
        name,
        ...(group ? { group } : {}),
        kind: resource,
    })
}

/** 409 optimistic-concurrency conflict. */
export function conflict(group: string, resource: string, name: string, detail: string): StatusError {
    return new StatusError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${qualifiedResource(group, resource)} "${name}": ${detail}`,
        { name, ...(group ? { group } : {}), kind: resource },
    )
}

/** 400 BadRequest. */
export function badRequest(message: string): StatusError {
    return new StatusError(400, "BadRequest", message)
}

/** One field error (k8s.io/apimachinery/pkg/util/validation/field.Error). */
export interface FieldError {
    type: "Required" | "Invalid" | "NotSupported" | "TooLong" | "TooMany" | "TypeInvalid" | "Forbidden" | "Duplicate"
    field: string
    value?: unknown
    detail?: string
    /** for NotSupported */
    supported?: unknown[]
    /** the value as Go's %#v prints it, when that is not what JSON-like quoting gives (e.g. `0x0` for a uint64) */
    goValue?: string
}

const TYPE_TEXT: Record<FieldError["type"], string> = {
    Required: "Required value",
    Invalid: "Invalid value",
    NotSupported: "Unsupported value",
    TooLong: "Too long",
    TooMany: "Too many",
    TypeInvalid: "Invalid value",
    Forbidden: "Forbidden",
    Duplicate: "Duplicate value",
}

const CAUSE_REASON: Record<FieldError["type"], string> = {
    Required: "FieldValueRequired",
    Invalid: "FieldValueInvalid",
    NotSupported: "FieldValueNotSupported",
    TooLong: "FieldValueTooLong",
    TooMany: "FieldValueTooMany",
    TypeInvalid: "FieldValueTypeInvalid",
    Forbidden: "FieldValueForbidden",
    Duplicate: "FieldValueDuplicate",
}

function goValue(v: unknown): string {
    if (typeof v === "string") return JSON.stringify(v)
    if (typeof v === "number" || typeof v === "boolean") return String(v)
    if (v === null || v === undefined) return "null"
    return JSON.stringify(v)
}

/** `ErrorBody()`: the message without the field path. */
export function fieldErrorBody(e: FieldError): string {
    let s = TYPE_TEXT[e.type]
    switch (e.type) {
        case "Required":
        case "Forbidden":
        case "TooLong":
            break
        case "NotSupported":
            s += `: ${goValue(e.value)}`
            if (e.supported && e.supported.length > 0) s += `: supported values: ${e.supported.map(goValue).join(", ")}`
            return s
        default:
            s += `: ${e.goValue ?? goValue(e.value)}`
    }
    if (e.detail) s += `: ${e.detail}`
    return s
}

/** 422 `Kind.group "name" is invalid: a` or `…: [a, b]`. */
export function invalid(group: string, kind: string, name: string, errors: FieldError[]): StatusError {
    const texts = errors.map((e) => `${e.field}: ${fieldErrorBody(e)}`)
    const joined = texts.length === 1 ? texts[0] : `[${texts.join(", ")}]`
    return new StatusError(422, "Invalid", `${qualifiedKind(group, kind)} "${name}" is invalid: ${joined}`, {
        name,
        ...(group ? { group } : {}),
        kind,
        causes: errors.map((e) => ({ reason: CAUSE_REASON[e.type], message: fieldErrorBody(e), field: e.field })),
    })
}
