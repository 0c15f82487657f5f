/**
 * A local AWS KMS (and STS AssumeRole) for tests: real HTTP on 127.0.0.1, a random port.
 *
 * Protocol rules it enforces:
 * - KMS: AWS JSON 1.1 — `POST /`, `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: TrentService.Encrypt`
 *   or `TrentService.Decrypt` (anything else: 400 `UnknownOperationException`). Bodies and answers as KMS:
 *   `{KeyId, Plaintext, EncryptionContext}` → `{CiphertextBlob, KeyId, EncryptionAlgorithm}`,
 *   `{CiphertextBlob, KeyId, EncryptionContext}` → `{Plaintext, KeyId, EncryptionAlgorithm}` (blobs base64).
 * - Every request is signed with SigV4 (`Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
 *   Signature=…`): the canonical request is rebuilt here and the signature VERIFIED (HMAC-SHA256 with node:crypto)
 *   against the secret of the access key id; `host` and `x-amz-date` must be signed; the credential scope's service
 *   must be `kms` (or `sts`) and its date match `X-Amz-Date`; credentials issued by AssumeRole must come with their
 *   `X-Amz-Security-Token`, signed. Unknown access key → 400 `UnrecognizedClientException`; a bad signature → 400
 *   `InvalidSignatureException` (its message carries the canonical request, as AWS' does); missing authentication → 400 `MissingAuthenticationTokenException`.
 * - Errors are KMS error bodies `{"__type": "<Type>", "message": "…"}` with KMS' status: 400 for
 *   `NotFoundException` (unknown key), `AccessDeniedException` (the principal may not use the key),
 *   `InvalidCiphertextException` (a foreign, tampered or context-mismatched blob), `IncorrectKeyException`
 *   (KeyId is not the key the blob was made with), `ThrottlingException`; 500 `KMSInternalException`.
 * - Encryption really happens: AES-256-GCM under a per-key random secret; the blob is
 *   `0x01 | u16 key-ARN length | key ARN | 12-byte IV | ciphertext | 16-byte tag`, with the canonical encryption
 *   context (sorted JSON) as additional data, so a different context fails as in KMS.
 * - STS: query protocol `Action=AssumeRole&Version=2011-06-15&RoleArn=…&RoleSessionName=…` (form body), signed for
 *   service `sts`; the role must exist and trust the caller; the session name must match `[\w+=,.@-]{2,64}`.
 *   The answer is the STS XML with temporary credentials that may use the role's keys.
 * - STS `AssumeRoleWithWebIdentity` (what IRSA does): unsigned, the `WebIdentityToken` must be the one registered for
 *   the role (`webIdentityTokens`); else 403 `AccessDenied` / 400 `InvalidIdentityToken`.
 * Faults for tests: `throttleNext` (answer that many requests with ThrottlingException, or `status` 429),
 * `hang` (never answer; the client must give up), `internalNext`.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** A principal: an access key pair, optionally a session token (assumed role). */
interface Principal {
    secret: string
    token?: string
    /** The user or role ARN the key pair belongs to. */
    arn: string
}

/** One KMS key. */
interface Key {
    secret: Buffer
    /** Principal ARNs allowed to use it (undefined: everybody). */
    allowed?: Set<string>
}

/** A request as the server saw it (for assertions). */
export interface SeenRequest {
    target: string
    accessKeyId: string
    body: Record<string, unknown>
}

export class FakeKms {
    readonly region: string
    readonly account = "111122223333"
    readonly principals = new Map<string, Principal>()
    readonly keys = new Map<string, Key>()
    readonly aliases = new Map<string, string>()
    /** Role ARN → principal ARNs that may assume it. */
    readonly roles = new Map<string, Set<string>>()
    /** Role ARN → the web identity token (a projected service-account token) STS accepts for it. */
    readonly webIdentityTokens = new Map<string, string>()
    readonly seen: SeenRequest[] = []
    throttleNext = 0
    throttleStatus: 400 | 429 = 400
    internalNext = 0
    hang = false
    #server: Server | undefined
    url = ""

    constructor(region = "eu-west-1") {
        this.region = region
    }

    /** A new key; returns its ARN. */
    addKey(name: string, allowed?: string[]): string {
        const arn = `arn:aws:kms:${this.region}:${this.account}:key/${name}`
        this.keys.set(arn, { secret: randomBytes(32), ...(allowed ? { allowed: new Set(allowed) } : {}) })
        return arn
    }

    /** An alias ARN for a key. */
    addAlias(name: string, keyArn: string): string {
        const arn = `arn:aws:kms:${this.region}:${this.account}:alias/${name}`
        this.aliases.set(arn, keyArn)
        return arn
    }

    /** A user with an access key; returns its ARN. */
    addUser(name: string, accessKeyId: string, secret: string): string {
        const arn = `arn:aws:iam::${this.account}:user/${name}`
        this.principals.set(accessKeyId, { secret, arn })
        return arn
    }

    /** A role that the given principals may assume; returns its ARN. */
    addRole(name: string, trusted: string[]): string {
        const arn = `arn:aws:iam::${this.account}:role/${name}`
        this.roles.set(arn, new Set(trusted))
        return arn
    }

    async start(): Promise<string> {
        const server = createServer((req, res) => {
            const chunks: Buffer[] = []
            req.on("data", (c: Buffer) => chunks.push(c))
            req.on("end", () => this.#handle(req, Buffer.concat(chunks), res))
        })
        this.#server = server
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
        this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        return this.url
    }

    async stop(): Promise<void> {
        const server = this.#server
        if (server === undefined) return
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
        this.#server = undefined
    }

    #handle(req: IncomingMessage, body: Buffer, res: ServerResponse) {
        if (this.hang) {
            // the client's timeout must end this; stop() closes the socket
            const action = new URLSearchParams(body.toString("utf8")).get("Action")
            this.seen.push({ target: String(req.headers["x-amz-target"] ?? `STS.${action}`), accessKeyId: "", body: {} })
            return
        }
        const send = (status: number, type: string, message: string) => {
            res.writeHead(status, { "content-type": "application/x-amz-json-1.1" })
            res.end(JSON.stringify({ __type: type, message }))
        }
        if (req.headers.authorization === undefined && req.headers["x-amz-target"] === undefined) {
            const form = new URLSearchParams(body.toString("utf8"))
            if (form.get("Action") === "AssumeRoleWithWebIdentity") return this.#webIdentity(form, res)
        }
        const auth = this.#verify(req, body)
        if (typeof auth === "string") {
            const bar = auth.indexOf("|")
            return send(400, auth.slice(0, bar), auth.slice(bar + 1))
        }
        const target = String(req.headers["x-amz-target"] ?? "")
        if (target === "" && auth.service === "sts") return this.#sts(body, auth.principal, res)
        if (auth.service !== "kms") return send(400, "InvalidSignatureException", "Credential should be scoped to correct service: 'kms'.")
        if (req.method !== "POST" || req.url !== "/") return send(404, "UnknownOperationException", "")
        if (req.headers["content-type"] !== "application/x-amz-json-1.1") return send(400, "SerializationException", "bad content type")
        let json: Record<string, unknown>
        try {
            json = JSON.parse(body.toString("utf8")) as Record<string, unknown>
        } catch {
            return send(400, "SerializationException", "body is not JSON")
        }
        this.seen.push({ target, accessKeyId: auth.accessKeyId, body: json })
        if (this.throttleNext > 0) {
            this.throttleNext--
            return send(this.throttleStatus, "ThrottlingException", "Rate exceeded")
        }
        if (this.internalNext > 0) {
            this.internalNext--
            return send(500, "KMSInternalException", "internal error")
        }
        const ctx = json.EncryptionContext
        const aad = Buffer.from(canonicalContext(ctx === undefined ? {} : (ctx as Record<string, string>)))
        const ok = (out: Record<string, unknown>) => {
            res.writeHead(200, { "content-type": "application/x-amz-json-1.1" })
            res.end(JSON.stringify(out))
        }
        const resolveKey = (id: unknown): [string, Key] | string => {
            if (typeof id !== "string") return "ValidationException|KeyId is required"
            const arn = this.aliases.get(id) ?? id
            const key = this.keys.get(arn)
            if (key === undefined) return `NotFoundException|Key '${id}' does not exist`
            if (key.allowed !== undefined && !key.allowed.has(auth.principal.arn)) {
                return `AccessDeniedException|User: ${auth.principal.arn} is not authorized to perform: kms:${target.split(".")[1]} on resource: ${arn} because no resource-based policy allows the kms:${target.split(".")[1]} action`
            }
            return [arn, key]
        }
        const fail = (r: string) => {
            const [type, message] = r.split("|")
            send(400, type, message)
        }
        if (target === "TrentService.Encrypt") {
            const k = resolveKey(json.KeyId)
            if (typeof k === "string") return fail(k)
            const plain = Buffer.from(String(json.Plaintext ?? ""), "base64")
            if (plain.length === 0 || plain.length > 4096) return fail("ValidationException|Plaintext must be 1 to 4096 bytes")
            const iv = randomBytes(12)
            const c = createCipheriv("aes-256-gcm", k[1].secret, iv)
            c.setAAD(aad)
            const sealed = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
            const arnBytes = Buffer.from(k[0])
            const head = Buffer.alloc(3)
            head[0] = 1
            head.writeUInt16BE(arnBytes.length, 1)
            return ok({ CiphertextBlob: Buffer.concat([head, arnBytes, iv, sealed]).toString("base64"), KeyId: k[0], EncryptionAlgorithm: "SYMMETRIC_DEFAULT" })
        }
        if (target === "TrentService.Decrypt") {
            const blob = Buffer.from(String(json.CiphertextBlob ?? ""), "base64")
            const invalid = () => fail("InvalidCiphertextException|")
            if (blob.length < 3 || blob[0] !== 1) return invalid()
            const n = blob.readUInt16BE(1)
            if (blob.length < 3 + n + 12 + 16) return invalid()
            const arn = blob.subarray(3, 3 + n).toString("utf8")
            if (json.KeyId === undefined && !this.keys.has(arn)) return invalid()
            const k = resolveKey(json.KeyId ?? arn)
            if (typeof k === "string") return fail(k)
            if (k[0] !== arn) return fail("IncorrectKeyException|The key ID in the request does not identify a CMK that can perform this operation.")
            const iv = blob.subarray(3 + n, 3 + n + 12)
            const rest = blob.subarray(3 + n + 12)
            try {
                const d = createDecipheriv("aes-256-gcm", k[1].secret, iv)
                d.setAAD(aad)
                d.setAuthTag(rest.subarray(rest.length - 16))
                const plain = Buffer.concat([d.update(rest.subarray(0, rest.length - 16)), d.final()])
                return ok({ Plaintext: plain.toString("base64"), KeyId: arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" })
            } catch {
                return invalid()
            }
        }
        return send(400, "UnknownOperationException", "")
    }

    /** SigV4 check; returns the caller, or "Type|message" for the error answer. */
    #verify(req: IncomingMessage, body: Buffer): { accessKeyId: string; principal: Principal; service: string } | string {
        const header = String(req.headers.authorization ?? "")
        const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(header)
        if (m === null) return "MissingAuthenticationTokenException|Missing Authentication Token"
        const [, accessKeyId, date, scopeRegion, service, signedHeaders, signature] = m
        const principal = this.principals.get(accessKeyId)
        if (principal === undefined) return "UnrecognizedClientException|The security token included in the request is invalid."
        const amzDate = String(req.headers["x-amz-date"] ?? "")
        const names = signedHeaders.split(";")
        if (!names.includes("host") || !names.includes("x-amz-date") || !amzDate.startsWith(date)) {
            return "IncompleteSignatureException|host and x-amz-date must be signed"
        }
        if (principal.token !== undefined && (req.headers["x-amz-security-token"] !== principal.token || !names.includes("x-amz-security-token"))) {
            return "UnrecognizedClientException|The security token included in the request is invalid."
        }
        const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? "").trim().replace(/\s+/g, " ")}\n`).join("")
        const [pathPart, query = ""] = (req.url ?? "/").split("?")
        const canonicalQuery = query
            .split("&")
            .filter(Boolean)
            .sort()
            .join("&")
        const canonicalRequest = [req.method, pathPart, canonicalQuery, canonicalHeaders, signedHeaders, sha256(body)].join("\n")
        const scope = `${date}/${scopeRegion}/${service}/aws4_request`
        const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(Buffer.from(canonicalRequest))].join("\n")
        let k = hmac(`AWS4${principal.secret}`, date)
        for (const part of [scopeRegion, service, "aws4_request"]) k = hmac(k, part)
        const expected = hmac(k, toSign)
        if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) {
            // as AWS does: the message goes on with the canonical request, whose headers include the session token
            return `InvalidSignatureException|The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'${canonicalRequest}'\n\nThe String-to-Sign should have been\n'${toSign}'\n`
        }
        return { accessKeyId, principal, service }
    }

    /** Web identity (IRSA): unsigned; the token must be one registered for the role. */
    #webIdentity(form: URLSearchParams, res: ServerResponse) {
        const roleArn = form.get("RoleArn") ?? ""
        const session = form.get("RoleSessionName") ?? ""
        const token = form.get("WebIdentityToken") ?? ""
        this.seen.push({ target: "STS.AssumeRoleWithWebIdentity", accessKeyId: "", body: { RoleArn: roleArn, RoleSessionName: session } })
        const expected = this.webIdentityTokens.get(roleArn)
        if (form.get("Version") !== "2011-06-15" || expected === undefined || !/^[\w+=,.@-]{2,64}$/.test(session)) {
            return stsError(res, 400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
        }
        if (token.length !== expected.length || !timingSafeEqual(Buffer.from(token), Buffer.from(expected))) {
            return stsError(res, 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        }
        const c = this.#issue(roleArn)
        res.writeHead(200, { "content-type": "text/xml" })
        res.end(
            `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>${c.id}</AccessKeyId><SecretAccessKey>${c.secret}</SecretAccessKey><SessionToken>${c.token}</SessionToken><Expiration>${c.expiration}</Expiration></Credentials><SubjectFromWebIdentityToken>system:serviceaccount:flux-system:kustomize-controller</SubjectFromWebIdentityToken><AssumedRoleUser><AssumedRoleId>AROA:${session}</AssumedRoleId><Arn>arn:aws:sts::${this.account}:assumed-role/r/${session}</Arn></AssumedRoleUser></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
        )
    }

    /** Temporary credentials acting as `roleArn`. */
    #issue(roleArn: string): { id: string; secret: string; token: string; expiration: string } {
        const id = `ASIA${randomBytes(8).toString("hex").toUpperCase()}`
        const secret = randomBytes(20).toString("base64")
        const token = randomBytes(24).toString("base64")
        this.principals.set(id, { secret, token, arn: roleArn })
        return { id, secret, token, expiration: new Date(Date.now() + 3600_000).toISOString() }
    }

    #sts(body: Buffer, caller: Principal, res: ServerResponse) {
        const form = new URLSearchParams(body.toString("utf8"))
        const error = (status: number, code: string, message: string) => {
            res.writeHead(status, { "content-type": "text/xml" })
            res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
        }
        if (form.get("Action") !== "AssumeRole" || form.get("Version") !== "2011-06-15") return error(400, "InvalidAction", "unsupported action")
        const roleArn = form.get("RoleArn") ?? ""
        const session = form.get("RoleSessionName") ?? ""
        this.seen.push({ target: "STS.AssumeRole", accessKeyId: "", body: { RoleArn: roleArn, RoleSessionName: session } })
        if (!/^[\w+=,.@-]{2,64}$/.test(session)) return error(400, "ValidationError", "invalid RoleSessionName")
        const trusted = this.roles.get(roleArn)
        if (trusted === undefined || !trusted.has(caller.arn)) {
            return error(403, "AccessDenied", `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`)
        }
        const id = `ASIA${randomBytes(8).toString("hex").toUpperCase()}`
        const secret = randomBytes(20).toString("base64")
        const token = randomBytes(24).toString("base64")
        const assumed = `arn:aws:sts::${this.account}:assumed-role/${roleArn.split("/").pop()}/${session}`
        // the role's permissions: the assumed-role session acts as the role
        this.principals.set(id, { secret, token, arn: roleArn })
        const expiration = new Date(Date.now() + 3600_000).toISOString()
        res.writeHead(200, { "content-type": "text/xml" })
        res.end(
            `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>${id}</AccessKeyId><SecretAccessKey>${secret}</SecretAccessKey><SessionToken>${token}</SessionToken><Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA:${session}</AssumedRoleId><Arn>${assumed}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
        )
    }
}

function stsError(res: ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { "content-type": "text/xml" })
    res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
}

function canonicalContext(ctx: Record<string, string>): string {
    return JSON.stringify(Object.keys(ctx).sort().map((k) => [k, ctx[k]]))
}

function sha256(data: Buffer): string {
    return createHash("sha256").update(data).digest("hex")
}

function hmac(key: string | Buffer, data: string): Buffer {
    return createHmac("sha256", key).update(data).digest()
}
