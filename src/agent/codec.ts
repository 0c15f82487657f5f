/**
 * JSON-RPC 2.0 envelopes for the agent protocol: parse and validate untrusted requests and responses, build
 * responses. Pure; never throws on junk input (it returns an error response instead). Batches are not supported.
 */
import { AgentErrorCode, MAX_REQUEST_BYTES, type WireError } from "./protocol.js"

/** A request id: a string or an integer (JSON-RPC also allows null, which we refuse). */
export type RequestId = string | number

/** A validated request. */
export interface RpcRequest {
    jsonrpc: "2.0"
    id: RequestId
    method: string
    /** Absent params are given as `undefined`; otherwise an object. */
    params: Record<string, unknown> | undefined
}

/** A response: a result or an error. `id` is null when the request's id could not be read. */
export type RpcResponse =
    | { jsonrpc: "2.0"; id: RequestId | null; result: unknown }
    | { jsonrpc: "2.0"; id: RequestId | null; error: WireError }

/** What parsing a request gives: the request, or the error response to send back. */
export type ParsedRequest = { ok: true; request: RpcRequest } | { ok: false; response: RpcResponse }

function errorResponse(id: RequestId | null, code: number, message: string): RpcResponse {
    return { jsonrpc: "2.0", id, error: { code, message } }
}

function validId(id: unknown): id is RequestId {
    return (typeof id === "string" && id.length <= 128) || (typeof id === "number" && Number.isSafeInteger(id))
}

/** Byte length of a message as received (string messages counted as UTF-8). */
function byteLength(data: string | Uint8Array): number {
    return typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.byteLength
}

/**
 * Parse one request message.
 * @param limit maximum size in bytes (default {@link MAX_REQUEST_BYTES})
 */
export function parseRequest(data: string | Uint8Array, limit = MAX_REQUEST_BYTES): ParsedRequest {
    if (byteLength(data) > limit) {
        return { ok: false, response: errorResponse(null, AgentErrorCode.TooLarge, `request larger than ${limit} bytes`) }
    }
    let value: unknown
    try {
        value = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"))
    } catch {
        return { ok: false, response: errorResponse(null, AgentErrorCode.ParseError, "parse error: not valid JSON") }
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        const what = Array.isArray(value) ? "batches are not supported" : "a request must be a JSON object"
        return { ok: false, response: errorResponse(null, AgentErrorCode.InvalidRequest, `invalid request: ${what}`) }
    }
    const o = value as Record<string, unknown>
    const id = validId(o.id) ? o.id : null
    const invalid = (why: string): ParsedRequest => ({
        ok: false,
        response: errorResponse(id, AgentErrorCode.InvalidRequest, `invalid request: ${why}`),
    })
    if (o.jsonrpc !== "2.0") return invalid('jsonrpc must be "2.0"')
    if (id === null) return invalid("id must be a string (at most 128 characters) or an integer")
    if (typeof o.method !== "string" || o.method.length === 0) return invalid("method must be a non-empty string")
    for (const k of Object.keys(o)) {
        if (k !== "jsonrpc" && k !== "id" && k !== "method" && k !== "params") return invalid(`unknown member ${k}`)
    }
    const params = o.params
    if (params !== undefined && (typeof params !== "object" || params === null || Array.isArray(params))) {
        return invalid("params must be an object")
    }
    return {
        ok: true,
        request: { jsonrpc: "2.0", id, method: o.method, params: params as Record<string, unknown> | undefined },
    }
}

/** Serialize a request. */
export function encodeRequest(id: RequestId, method: string, params: unknown): string {
    return JSON.stringify({ jsonrpc: "2.0", id, method, params })
}

/** Serialize a success response. */
export function encodeResult(id: RequestId, result: unknown): string {
    return JSON.stringify({ jsonrpc: "2.0", id, result })
}

/** Serialize an error response. */
export function encodeError(id: RequestId | null, error: WireError): string {
    return JSON.stringify({ jsonrpc: "2.0", id, error })
}

/**
 * Parse one response message (client side).
 * @returns the response, or null when the message is not a valid JSON-RPC 2.0 response
 */
export function parseResponse(data: string | Uint8Array): RpcResponse | null {
    let value: unknown
    try {
        value = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"))
    } catch {
        return null
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null
    const o = value as Record<string, unknown>
    if (o.jsonrpc !== "2.0") return null
    const id = o.id === null ? null : validId(o.id) ? o.id : undefined
    if (id === undefined) return null
    if ("error" in o) {
        const e = o.error as Record<string, unknown> | null
        if (typeof e !== "object" || e === null || typeof e.code !== "number" || typeof e.message !== "string") {
            return null
        }
        const error: WireError = { code: e.code, message: e.message }
        const data = e.data as Record<string, unknown> | undefined
        if (typeof data === "object" && data !== null && typeof data.hint === "string") error.data = { hint: data.hint }
        return { jsonrpc: "2.0", id, error }
    }
    if (!("result" in o)) return null
    return { jsonrpc: "2.0", id, result: o.result }
}
