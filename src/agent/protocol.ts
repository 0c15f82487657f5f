/**
 * The kubectl-sops agent protocol: JSON-RPC 2.0 over one WebSocket per client, on a Unix socket.
 *
 * This module is shared by the client and the server and does no I/O: the protocol version, one typed
 * descriptor per method (name, params validator, phantom result type), the error codes, and the wire types.
 * `docs/agent-protocol.md` is the prose description of the same thing.
 */

/** Version of this protocol. A client sends it in `agent/hello`; the agent refuses versions it does not speak. */
export const PROTOCOL_VERSION = 1

/** Protocol versions this build of the agent accepts. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1]

/** Largest request (one WebSocket message) the agent accepts, in bytes. Larger frames close the connection. */
export const MAX_REQUEST_BYTES = 256 * 1024

/** Most key entries in one `datakey/unwrap` request. */
export const MAX_UNWRAP_ENTRIES = 1024

/**
 * Error codes. The JSON-RPC 2.0 standard codes, then the agent's own range (-32000 down to -32099, the range the
 * JSON-RPC specification reserves for implementation-defined server errors).
 */
export const AgentErrorCode = {
    /** The message is not valid JSON. */
    ParseError: -32700,
    /** The JSON is not a valid request object. */
    InvalidRequest: -32600,
    /** No such method. */
    MethodNotFound: -32601,
    /** The params do not fit the method. */
    InvalidParams: -32602,
    /** The agent failed unexpectedly. */
    InternalError: -32603,
    /** No `agent/hello` yet, or a wrong token. */
    Unauthorized: -32001,
    /** The client's protocol version is not supported. */
    UnsupportedVersion: -32002,
    /** The key needed is passphrase-protected and locked (`kubectl sops agent unlock`). */
    Locked: -32003,
    /** No key with that id. */
    NotFound: -32004,
    /** The agent holds no key for this data-key entry (the client should try its other key services). */
    NoMatchingKey: -32005,
    /** The OS keychain (or the file keychain) cannot be reached. */
    KeychainUnavailable: -32006,
    /** The passphrase does not unlock the key. */
    BadPassphrase: -32007,
    /** A key with that id already exists. */
    AlreadyExists: -32008,
    /** A key matched but could not decrypt the entry (corrupt `enc`, wrong key material). */
    UnwrapFailed: -32009,
    /** The request is larger than {@link MAX_REQUEST_BYTES} or holds too many entries. */
    TooLarge: -32010,
    /** The agent is shutting down. */
    ShuttingDown: -32011,
    /** The key text or type is not usable (import of a malformed key, unsupported type). */
    BadKey: -32012,
} as const

/** One of {@link AgentErrorCode}'s values. */
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode]

/** The `error` member of a JSON-RPC response. */
export interface WireError {
    code: number
    message: string
    /** `hint`: one line telling the user what to do. */
    data?: { hint?: string }
}

/** An error carrying a JSON-RPC code; thrown by the agent logic and by params validators, rebuilt by the client. */
export class AgentProtocolError extends Error {
    readonly code: number
    readonly hint: string | undefined

    constructor(code: number, message: string, hint?: string) {
        super(message)
        this.name = "AgentProtocolError"
        this.code = code
        this.hint = hint
    }

    /** The wire form. */
    toWire(): WireError {
        return this.hint === undefined
            ? { code: this.code, message: this.message }
            : { code: this.code, message: this.message, data: { hint: this.hint } }
    }
}

/** The hint attached to every "locked" error. */
export const UNLOCK_HINT = "run `kubectl sops agent unlock` to unlock it"

// ---------------------------------------------------------------------------------------------------------
// wire types

/** Key types the agent stores. */
export type AgentKeyType = "age" | "age-pq" | "pgp"

/** What `keys/list` and friends report about a key. Never private material. */
export interface KeyInfo {
    /** Stable id: the age recipient, or the PGP primary fingerprint (40 hex, upper case). */
    id: string
    type: AgentKeyType
    name: string
    comment?: string
    /** RFC 3339. */
    created: string
    /** age recipient or PGP fingerprint. */
    recipient: string
    /** The secret needs a passphrase. */
    protected: boolean
    /** Usable now (unprotected keys count as unlocked: they unlock on first use). */
    unlocked: boolean
}

/** A sops master-key entry as sent over the wire (same fields as `KeyEntry` in `src/sops/keys.ts`). */
export interface WireKeyEntry {
    type: string
    params: Record<string, string | Record<string, string>>
    enc: string
    createdAt?: string
}

/** One result of `datakey/unwrap`: the part (base64), or why not. */
export type UnwrapResult = { part: string } | { error: WireError }

/** `agent/hello` params. */
export interface HelloParams {
    version: number
    /** Hex contents of the agent's token file. */
    token: string
    /** Free-form client name for the log. */
    client?: string
}

/** `agent/hello` result. */
export interface HelloResult {
    protocol: number
    agentVersion: string
    pid: number
}

/** `agent/status` result. */
export interface StatusResult {
    pid: number
    protocol: number
    agentVersion: string
    socket: string
    keychain: string
    /** RFC 3339. */
    startedAt: string
    uptimeSeconds: number
    keysLoaded: number
    keysUnlocked: number
    cacheEntries: number
    idleTtlSeconds: number
    maxTtlSeconds: number
    clients: number
}

/** `agent/lock` result. */
export interface LockResult {
    lockedKeys: number
    wipedCacheEntries: number
}

/** `agent/unlock` params: one key (by id) or every locked key the passphrase opens. */
export interface UnlockParams {
    id?: string
    passphrase: string
}

/** `agent/unlock` result: the ids now unlocked. */
export interface UnlockResult {
    unlocked: string[]
}

/** `keys/generate` params. */
export interface GenerateParams {
    type: AgentKeyType
    name?: string
    comment?: string
    passphrase?: string
}

/** `keys/import` params. */
export interface ImportParams {
    /** Armored PGP secret key(s) and/or age identity file text. */
    text: string
    /** For passphrase-protected keys (kept protected in the keychain). */
    passphrase?: string
    name?: string
}

/** `keys/export` params. */
export interface ExportParams {
    id: string
    /** Export the private key (as stored: still passphrase-protected if it was). */
    secret?: boolean
}

/** `keys/export` result. */
export interface ExportResult {
    id: string
    type: AgentKeyType
    secret: boolean
    /** Armored PGP public/secret key, age recipient line, or age identity (file) text. */
    text: string
}

/** `datakey/unwrap` params. */
export interface UnwrapParams {
    entries: WireKeyEntry[]
}

/** `datakey/unwrap` result: one result per entry, same order. */
export interface UnwrapResponse {
    results: UnwrapResult[]
}

// ---------------------------------------------------------------------------------------------------------
// method descriptors

/** A method: its name, a params validator, and (phantom) params/result types shared by client and server. */
export interface Method<P, R> {
    readonly name: string
    /** Validate untrusted params. @throws AgentProtocolError InvalidParams */
    readonly parse: (params: unknown) => P
    /** Phantom: never set, carries the result type. */
    readonly _result?: R
}

function method<P, R>(name: string, parse: (params: unknown) => P): Method<P, R> {
    return { name, parse }
}

/** Params type of a method descriptor. */
export type ParamsOf<M> = M extends Method<infer P, unknown> ? P : never
/** Result type of a method descriptor. */
export type ResultOf<M> = M extends Method<unknown, infer R> ? R : never

function bad(message: string): AgentProtocolError {
    return new AgentProtocolError(AgentErrorCode.InvalidParams, `invalid params: ${message}`)
}

function obj(p: unknown, allowed: readonly string[]): Record<string, unknown> {
    if (p === undefined) return {}
    if (typeof p !== "object" || p === null || Array.isArray(p)) throw bad("params must be an object")
    for (const k of Object.keys(p)) if (!allowed.includes(k)) throw bad(`unknown field ${JSON.stringify(k)}`)
    return p as Record<string, unknown>
}

function str(o: Record<string, unknown>, k: string, opt: true): string | undefined
function str(o: Record<string, unknown>, k: string, opt?: false): string
function str(o: Record<string, unknown>, k: string, opt = false): string | undefined {
    const v = o[k]
    if (v === undefined && opt) return undefined
    if (typeof v !== "string") throw bad(`${k} must be a string`)
    return v
}

function bool(o: Record<string, unknown>, k: string): boolean | undefined {
    const v = o[k]
    if (v === undefined) return undefined
    if (typeof v !== "boolean") throw bad(`${k} must be a boolean`)
    return v
}

const KEY_TYPES: readonly string[] = ["age", "age-pq", "pgp"]

function empty(p: unknown): Record<string, never> {
    obj(p, [])
    return {}
}

function parseEntry(e: unknown, i: number): WireKeyEntry {
    if (typeof e !== "object" || e === null || Array.isArray(e)) throw bad(`entries[${i}] must be an object`)
    const o = e as Record<string, unknown>
    for (const k of Object.keys(o)) {
        if (!["type", "params", "enc", "createdAt"].includes(k)) throw bad(`entries[${i}]: unknown field ${k}`)
    }
    if (typeof o.type !== "string") throw bad(`entries[${i}].type must be a string`)
    if (typeof o.enc !== "string") throw bad(`entries[${i}].enc must be a string`)
    if (o.createdAt !== undefined && typeof o.createdAt !== "string") throw bad(`entries[${i}].createdAt must be a string`)
    const params: Record<string, string | Record<string, string>> = {}
    const p = o.params ?? {}
    if (typeof p !== "object" || p === null || Array.isArray(p)) throw bad(`entries[${i}].params must be an object`)
    for (const [k, v] of Object.entries(p)) {
        if (typeof v === "string") params[k] = v
        else if (typeof v === "object" && v !== null && !Array.isArray(v)) {
            const inner: Record<string, string> = {}
            for (const [ik, iv] of Object.entries(v)) {
                if (typeof iv !== "string") throw bad(`entries[${i}].params.${k}.${ik} must be a string`)
                inner[ik] = iv
            }
            params[k] = inner
        } else throw bad(`entries[${i}].params.${k} must be a string or an object of strings`)
    }
    const entry: WireKeyEntry = { type: o.type, params, enc: o.enc }
    if (o.createdAt !== undefined) entry.createdAt = o.createdAt as string
    return entry
}

/** Every method of the protocol. */
export const Methods = {
    hello: method<HelloParams, HelloResult>("agent/hello", (p) => {
        const o = obj(p, ["version", "token", "client"])
        if (typeof o.version !== "number" || !Number.isInteger(o.version)) throw bad("version must be an integer")
        return { version: o.version, token: str(o, "token"), client: str(o, "client", true) }
    }),
    status: method<Record<string, never>, StatusResult>("agent/status", empty),
    lock: method<Record<string, never>, LockResult>("agent/lock", empty),
    unlock: method<UnlockParams, UnlockResult>("agent/unlock", (p) => {
        const o = obj(p, ["id", "passphrase"])
        return { id: str(o, "id", true), passphrase: str(o, "passphrase") }
    }),
    stop: method<Record<string, never>, { stopping: true }>("agent/stop", empty),
    list: method<Record<string, never>, { keys: KeyInfo[] }>("keys/list", empty),
    generate: method<GenerateParams, { key: KeyInfo }>("keys/generate", (p) => {
        const o = obj(p, ["type", "name", "comment", "passphrase"])
        const type = str(o, "type")
        if (!KEY_TYPES.includes(type)) throw bad(`type must be one of ${KEY_TYPES.join(", ")}`)
        return {
            type: type as AgentKeyType,
            name: str(o, "name", true),
            comment: str(o, "comment", true),
            passphrase: str(o, "passphrase", true),
        }
    }),
    import: method<ImportParams, { keys: KeyInfo[] }>("keys/import", (p) => {
        const o = obj(p, ["text", "passphrase", "name"])
        return { text: str(o, "text"), passphrase: str(o, "passphrase", true), name: str(o, "name", true) }
    }),
    export: method<ExportParams, ExportResult>("keys/export", (p) => {
        const o = obj(p, ["id", "secret"])
        return { id: str(o, "id"), secret: bool(o, "secret") }
    }),
    remove: method<{ id: string }, { removed: true }>("keys/remove", (p) => {
        const o = obj(p, ["id"])
        return { id: str(o, "id") }
    }),
    unwrap: method<UnwrapParams, UnwrapResponse>("datakey/unwrap", (p) => {
        const o = obj(p, ["entries"])
        if (!Array.isArray(o.entries)) throw bad("entries must be an array")
        if (o.entries.length > MAX_UNWRAP_ENTRIES) {
            throw new AgentProtocolError(AgentErrorCode.TooLarge, `too many entries (at most ${MAX_UNWRAP_ENTRIES})`)
        }
        return { entries: o.entries.map(parseEntry) }
    }),
} as const

/** Any method descriptor. */
export type AnyMethod = (typeof Methods)[keyof typeof Methods]

/** Descriptors by wire name. */
export const METHODS_BY_NAME: ReadonlyMap<string, Method<unknown, unknown>> = new Map(
    Object.values(Methods).map((m) => [m.name, m as Method<unknown, unknown>]),
)
