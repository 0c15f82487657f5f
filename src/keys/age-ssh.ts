/**
 * age's SSH recipient types (`ssh-ed25519`, `ssh-rsa`) on `node:crypto`: parsing of OpenSSH public keys and
 * private keys (OpenSSH container, PKCS#1 and PKCS#8 PEM), the ed25519 → X25519 conversion, and the wrap/unwrap
 * rules of age-encryption.org/v1/ssh-ed25519 and …/ssh-rsa.
 */
import {
    type KeyObject,
    constants,
    createHash,
    createPrivateKey,
    createPublicKey,
    privateDecrypt,
    publicEncrypt,
} from "node:crypto"
import {
    type AgeIdentity,
    type AgeRecipient,
    type Stanza,
    b64Decode,
    b64Encode,
    hkdf,
    unwrapFileKey,
    wrapFileKey,
    x25519,
    x25519Ephemeral,
    x25519PrivateKey,
} from "./age-format.js"

const ED25519_LABEL = "age-encryption.org/v1/ssh-ed25519"
const RSA_LABEL = "age-encryption.org/v1/ssh-rsa"

// ---------------------------------------------------------------------------------------------------------
// SSH wire format

class WireReader {
    readonly #buf: Uint8Array
    #pos = 0

    constructor(buf: Uint8Array) {
        this.#buf = buf
    }

    get done(): boolean {
        return this.#pos >= this.#buf.length
    }

    uint32(): number {
        if (this.#pos + 4 > this.#buf.length) throw new Error("truncated SSH key data")
        const b = this.#buf
        const v = ((b[this.#pos] << 24) | (b[this.#pos + 1] << 16) | (b[this.#pos + 2] << 8) | b[this.#pos + 3]) >>> 0
        this.#pos += 4
        return v
    }

    bytes(): Uint8Array {
        const n = this.uint32()
        if (this.#pos + n > this.#buf.length) throw new Error("truncated SSH key data")
        const out = this.#buf.subarray(this.#pos, this.#pos + n)
        this.#pos += n
        return out
    }

    string(): string {
        return Buffer.from(this.bytes()).toString("latin1")
    }
}

function wireString(data: Uint8Array | string): Buffer {
    const b = typeof data === "string" ? Buffer.from(data, "latin1") : Buffer.from(data)
    const len = Buffer.alloc(4)
    len.writeUInt32BE(b.length)
    return Buffer.concat([len, b])
}

function wireMpint(unsigned: Uint8Array): Buffer {
    let i = 0
    while (i < unsigned.length && unsigned[i] === 0) i++
    let b = Buffer.from(unsigned.subarray(i))
    if (b.length > 0 && b[0] & 0x80) b = Buffer.concat([Buffer.alloc(1), b])
    return wireString(b)
}

function stripMpint(b: Uint8Array): Uint8Array {
    let i = 0
    while (i < b.length - 1 && b[i] === 0) i++
    return b.subarray(i)
}

function b64url(b: Uint8Array): string {
    return Buffer.from(stripMpint(b)).toString("base64url")
}

function toBig(b: Uint8Array): bigint {
    return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString("hex")}`)
}

function fromBig(n: bigint): Uint8Array {
    let hex = n.toString(16)
    if (hex.length % 2) hex = `0${hex}`
    return new Uint8Array(Buffer.from(hex, "hex"))
}

/** age's key tag: the first 4 bytes of SHA-256 of the SSH public key wire bytes, unpadded base64. */
function sshTag(wire: Uint8Array): string {
    return b64Encode(createHash("sha256").update(wire).digest().subarray(0, 4))
}

// ---------------------------------------------------------------------------------------------------------
// ed25519 → X25519

const P = 2n ** 255n - 19n

function modPow(base: bigint, exp: bigint): bigint {
    let result = 1n
    let b = base % P
    let e = exp
    while (e > 0n) {
        if (e & 1n) result = (result * b) % P
        b = (b * b) % P
        e >>= 1n
    }
    return result
}

/** Birational map from an Ed25519 public key (Edwards y) to the X25519 u-coordinate: u = (1+y)/(1-y). */
function ed25519PublicToX25519(pub: Uint8Array): Uint8Array {
    if (pub.length !== 32) throw new Error("invalid ed25519 public key")
    const le = Buffer.from(pub).reverse()
    const y = toBig(le) & ((1n << 255n) - 1n)
    if (y >= P) throw new Error("invalid ed25519 public key")
    const den = (1n - y + P) % P
    if (den === 0n) throw new Error("invalid ed25519 public key")
    const u = ((1n + y) * modPow(den, P - 2n)) % P
    const out = Buffer.alloc(32)
    const be = fromBig(u)
    Buffer.from(be).reverse().copy(out)
    return new Uint8Array(out)
}

// ---------------------------------------------------------------------------------------------------------
// public keys (recipients)

/** A parsed SSH public key. */
export interface SshPublicKey {
    readonly type: "ssh-ed25519" | "ssh-rsa"
    readonly wire: Uint8Array
}

/** Parse an authorized_keys style line (`ssh-ed25519 AAAA… comment`). Throws with the reason. */
export function parseSshPublicKey(line: string): SshPublicKey {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 2) throw new Error("expected `<type> <base64 key> [comment]`")
    const type = fields[0]
    if (type !== "ssh-ed25519" && type !== "ssh-rsa") throw new Error(`SSH public key type ${type} is not supported`)
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(fields[1])) throw new Error("malformed base64 key data")
    const wire = Buffer.from(fields[1], "base64")
    const r = new WireReader(wire)
    if (r.string() !== type) throw new Error("key type does not match key data")
    if (type === "ssh-ed25519") {
        if (r.bytes().length !== 32 || !r.done) throw new Error("malformed ed25519 key")
    } else {
        r.bytes()
        const n = stripMpint(r.bytes())
        if (!r.done) throw new Error("malformed RSA key")
        if (n.length < 256) throw new Error("RSA key size is too small")
    }
    return { type, wire: new Uint8Array(wire) }
}

class SshEd25519Recipient implements AgeRecipient {
    readonly #wire: Uint8Array
    readonly #mont: Uint8Array

    constructor(wire: Uint8Array) {
        const r = new WireReader(wire)
        r.string()
        this.#wire = wire
        this.#mont = ed25519PublicToX25519(r.bytes())
    }

    wrap(fileKey: Uint8Array): Stanza[] {
        const eph = x25519Ephemeral()
        const tweak = hkdf(new Uint8Array(0), this.#wire, ED25519_LABEL)
        const shared = x25519(x25519PrivateKey(tweak), x25519(eph.priv, this.#mont))
        const key = hkdf(shared, Buffer.concat([eph.share, this.#mont]), ED25519_LABEL)
        return [{ args: ["ssh-ed25519", sshTag(this.#wire), b64Encode(eph.share)], body: wrapFileKey(key, fileKey) }]
    }
}

function rsaPublicFromWire(wire: Uint8Array): KeyObject {
    const r = new WireReader(wire)
    r.string()
    const e = r.bytes()
    const n = r.bytes()
    return createPublicKey({ key: { kty: "RSA", n: b64url(n), e: b64url(e) }, format: "jwk" })
}

class SshRsaRecipient implements AgeRecipient {
    readonly #wire: Uint8Array
    readonly #key: KeyObject

    constructor(wire: Uint8Array) {
        this.#wire = wire
        this.#key = rsaPublicFromWire(wire)
    }

    wrap(fileKey: Uint8Array): Stanza[] {
        const body = publicEncrypt(
            {
                key: this.#key,
                padding: constants.RSA_PKCS1_OAEP_PADDING,
                oaepHash: "sha256",
                oaepLabel: Buffer.from(RSA_LABEL),
            },
            fileKey,
        )
        return [{ args: ["ssh-rsa", sshTag(this.#wire)], body: new Uint8Array(body) }]
    }
}

/** An age recipient for an SSH public key line. Throws with the reason if it cannot be used. */
export function sshRecipient(line: string): AgeRecipient {
    const key = parseSshPublicKey(line)
    return key.type === "ssh-ed25519" ? new SshEd25519Recipient(key.wire) : new SshRsaRecipient(key.wire)
}

// ---------------------------------------------------------------------------------------------------------
// private keys (identities)

class SshEd25519Identity implements AgeIdentity {
    readonly #wire: Uint8Array
    readonly #tag: string
    readonly #priv: KeyObject
    readonly #mont: Uint8Array

    constructor(seed: Uint8Array, pub: Uint8Array) {
        this.#wire = Buffer.concat([wireString("ssh-ed25519"), wireString(pub)])
        this.#tag = sshTag(this.#wire)
        const scalar = createHash("sha512").update(seed).digest().subarray(0, 32)
        this.#priv = x25519PrivateKey(scalar)
        this.#mont = ed25519PublicToX25519(pub)
    }

    unwrap(stanzas: readonly Stanza[]): Uint8Array | null {
        for (const s of stanzas) {
            if (s.args[0] !== "ssh-ed25519" || s.args[1] !== this.#tag) continue
            const share = s.args.length === 3 ? b64Decode(s.args[2]) : null
            if (share === null || share.length !== 32 || s.body.length !== 32) {
                throw new Error("invalid ssh-ed25519 recipient stanza")
            }
            const tweak = hkdf(new Uint8Array(0), this.#wire, ED25519_LABEL)
            const shared = x25519(x25519PrivateKey(tweak), x25519(this.#priv, share))
            const key = hkdf(shared, Buffer.concat([share, this.#mont]), ED25519_LABEL)
            const fileKey = unwrapFileKey(key, s.body)
            if (fileKey === null) throw new Error("failed to decrypt file key with ssh-ed25519 identity")
            return fileKey
        }
        return null
    }
}

class SshRsaIdentity implements AgeIdentity {
    readonly #tag: string
    readonly #key: KeyObject

    constructor(key: KeyObject, wire: Uint8Array) {
        this.#key = key
        this.#tag = sshTag(wire)
    }

    unwrap(stanzas: readonly Stanza[]): Uint8Array | null {
        for (const s of stanzas) {
            if (s.args[0] !== "ssh-rsa" || s.args[1] !== this.#tag) continue
            if (s.args.length !== 2) throw new Error("invalid ssh-rsa recipient stanza")
            try {
                return new Uint8Array(
                    privateDecrypt(
                        {
                            key: this.#key,
                            padding: constants.RSA_PKCS1_OAEP_PADDING,
                            oaepHash: "sha256",
                            oaepLabel: Buffer.from(RSA_LABEL),
                        },
                        s.body,
                    ),
                )
            } catch {
                throw new Error("failed to decrypt file key with ssh-rsa identity")
            }
        }
        return null
    }
}

/** A passphrase-protected SSH key: recognised by its public key, unusable (no prompt in kubectl-sops). */
class EncryptedSshIdentity implements AgeIdentity {
    readonly #tag: string
    readonly #type: string
    readonly #where: string

    constructor(wire: Uint8Array, where: string) {
        this.#tag = sshTag(wire)
        this.#type = new WireReader(wire).string()
        this.#where = where
    }

    unwrap(stanzas: readonly Stanza[]): Uint8Array | null {
        if (stanzas.some((s) => s.args[0] === this.#type && s.args[1] === this.#tag)) {
            throw new Error(`the SSH key ${this.#where} is passphrase-protected, which is not supported`)
        }
        return null
    }
}

function pemBody(text: string, label: string): Buffer | null {
    const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(text)
    return m === null ? null : Buffer.from(m[1].replace(/\s+/g, ""), "base64")
}

function rsaIdentityFromKeyObject(key: KeyObject): AgeIdentity {
    const jwk = key.export({ format: "jwk" })
    if (jwk.n === undefined || jwk.e === undefined) throw new Error("malformed RSA key")
    const n = Buffer.from(jwk.n, "base64url")
    if (n.length < 256) throw new Error("RSA key size is too small")
    const wire = Buffer.concat([wireString("ssh-rsa"), wireMpint(Buffer.from(jwk.e, "base64url")), wireMpint(n)])
    return new SshRsaIdentity(key, wire)
}

/**
 * Parse an SSH private key (OpenSSH container, or PEM PKCS#1/PKCS#8) into an age identity.
 * @param where how to name the key in errors (a path or an env var).
 * @throws Error with the reason (unsupported type, malformed data).
 */
export function parseSshIdentity(text: string, where: string): AgeIdentity {
    const openssh = pemBody(text, "OPENSSH PRIVATE KEY")
    if (openssh !== null) return parseOpenSshContainer(openssh, where)
    if (/-----BEGIN (RSA |)PRIVATE KEY-----/.test(text)) {
        let key: KeyObject
        try {
            key = createPrivateKey({ key: text, format: "pem" })
        } catch (e) {
            throw new Error(`malformed SSH identity: ${(e as Error).message}`)
        }
        if (key.asymmetricKeyType === "rsa") return rsaIdentityFromKeyObject(key)
        if (key.asymmetricKeyType === "ed25519") {
            const jwk = key.export({ format: "jwk" })
            return new SshEd25519Identity(Buffer.from(jwk.d!, "base64url"), Buffer.from(jwk.x!, "base64url"))
        }
        throw new Error(`SSH key type ${key.asymmetricKeyType} is not supported`)
    }
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
        throw new Error(`the SSH key ${where} is passphrase-protected, which is not supported`)
    }
    throw new Error("no SSH private key found")
}

const OPENSSH_MAGIC = "openssh-key-v1\0"

function parseOpenSshContainer(data: Buffer, where: string): AgeIdentity {
    if (data.subarray(0, OPENSSH_MAGIC.length).toString("latin1") !== OPENSSH_MAGIC) {
        throw new Error("malformed OpenSSH private key")
    }
    const r = new WireReader(data.subarray(OPENSSH_MAGIC.length))
    const cipher = r.string()
    r.string() // kdf name
    r.bytes() // kdf options
    if (r.uint32() !== 1) throw new Error("OpenSSH private keys with several keys are not supported")
    const pubWire = r.bytes()
    const pubType = new WireReader(pubWire).string()
    if (pubType !== "ssh-ed25519" && pubType !== "ssh-rsa") throw new Error(`SSH key type ${pubType} is not supported`)
    if (cipher !== "none") return new EncryptedSshIdentity(pubWire, where)
    const p = new WireReader(r.bytes())
    const check1 = p.uint32()
    const check2 = p.uint32()
    if (check1 !== check2) throw new Error("malformed OpenSSH private key: check bytes differ")
    const type = p.string()
    if (type === "ssh-ed25519") {
        const pub = p.bytes()
        const priv = p.bytes()
        if (pub.length !== 32 || priv.length !== 64) throw new Error("malformed ed25519 private key")
        return new SshEd25519Identity(priv.subarray(0, 32), pub)
    }
    if (type === "ssh-rsa") {
        const n = p.bytes()
        const e = p.bytes()
        const d = p.bytes()
        const iqmp = p.bytes()
        const pp = p.bytes()
        const q = p.bytes()
        const dBig = toBig(d)
        const jwk = {
            kty: "RSA",
            n: b64url(n),
            e: b64url(e),
            d: b64url(d),
            p: b64url(pp),
            q: b64url(q),
            dp: b64url(fromBig(dBig % (toBig(pp) - 1n))),
            dq: b64url(fromBig(dBig % (toBig(q) - 1n))),
            qi: b64url(iqmp),
        }
        const key = createPrivateKey({ key: jwk, format: "jwk" })
        if (stripMpint(n).length < 256) throw new Error("RSA key size is too small")
        return new SshRsaIdentity(key, pubWire)
    }
    throw new Error(`SSH key type ${type} is not supported`)
}
