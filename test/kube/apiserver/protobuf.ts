/**
 * Just enough Kubernetes protobuf decoding for the typed clients of `kubectl create secret|configmap|namespace|
 * serviceaccount`, which send `application/vnd.kubernetes.protobuf` bodies (`k8s\0` + runtime.Unknown).
 */
import { StatusError } from "./errors.js"

// biome-ignore lint/suspicious/noExplicitAny: JSON values
type Json = any

interface Field {
    tag: number
    wire: number
    value: number | bigint | Buffer
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
    let result = 0n
    let shift = 0n
    for (;;) {
        if (pos >= buf.length) throw new Error("truncated varint")
        const b = buf[pos++]
        result |= BigInt(b & 0x7f) << shift
        if ((b & 0x80) === 0) return [result, pos]
        shift += 7n
    }
}

function fields(buf: Buffer): Field[] {
    const out: Field[] = []
    let pos = 0
    while (pos < buf.length) {
        const [key, p1] = readVarint(buf, pos)
        pos = p1
        const tag = Number(key >> 3n)
        const wire = Number(key & 7n)
        if (wire === 0) {
            const [v, p2] = readVarint(buf, pos)
            pos = p2
            out.push({ tag, wire, value: v })
        } else if (wire === 2) {
            const [len, p2] = readVarint(buf, pos)
            const end = p2 + Number(len)
            out.push({ tag, wire, value: buf.subarray(p2, end) })
            pos = end
        } else if (wire === 1) {
            out.push({ tag, wire, value: buf.subarray(pos, pos + 8) })
            pos += 8
        } else if (wire === 5) {
            out.push({ tag, wire, value: buf.subarray(pos, pos + 4) })
            pos += 4
        } else throw new Error(`unsupported wire type ${wire}`)
    }
    return out
}

type Kind = "string" | "bytes" | "bool" | "int" | "map" | "bytesMap" | "strings" | Message | { repeated: Message }
interface Message {
    [tag: number]: [string, Kind]
}

const str = (b: Field) => (b.value as Buffer).toString("utf8")

function decodeMessage(buf: Buffer, desc: Message): Json {
    const out: Json = {}
    for (const f of fields(buf)) {
        const d = desc[f.tag]
        if (!d) continue
        const [name, kind] = d
        if (kind === "string") {
            if (str(f) !== "") out[name] = str(f)
        }
        else if (kind === "bytes") out[name] = (f.value as Buffer).toString("base64")
        else if (kind === "bool") {
            if (f.value !== 0n) out[name] = true
        }
        else if (kind === "int") {
            if (f.value !== 0n) out[name] = Number(f.value)
        }
        else if (kind === "strings") (out[name] ??= []).push(str(f))
        else if (kind === "map" || kind === "bytesMap") {
            let k = ""
            let v: string = ""
            for (const e of fields(f.value as Buffer)) {
                if (e.tag === 1) k = str(e)
                if (e.tag === 2) v = kind === "map" ? str(e) : (e.value as Buffer).toString("base64")
            }
            out[name] ??= {}
            out[name][k] = v
        } else if ("repeated" in kind) (out[name] ??= []).push(decodeMessage(f.value as Buffer, kind.repeated as Message))
        else out[name] = decodeMessage(f.value as Buffer, kind as Message)
    }
    return out
}

const objectReference: Message = { 1: ["kind", "string"], 2: ["namespace", "string"], 3: ["name", "string"], 4: ["uid", "string"], 5: ["apiVersion", "string"] }
const ownerReference: Message = {
    1: ["kind", "string"],
    3: ["name", "string"],
    4: ["uid", "string"],
    5: ["apiVersion", "string"],
    6: ["controller", "bool"],
    7: ["blockOwnerDeletion", "bool"],
}
const objectMeta: Message = {
    1: ["name", "string"],
    2: ["generateName", "string"],
    3: ["namespace", "string"],
    5: ["uid", "string"],
    6: ["resourceVersion", "string"],
    7: ["generation", "int"],
    11: ["labels", "map"],
    12: ["annotations", "map"],
    13: ["ownerReferences", { repeated: ownerReference }],
    14: ["finalizers", "strings"],
}

const MESSAGES: Record<string, Message> = {
    "v1/Secret": { 1: ["metadata", objectMeta], 2: ["data", "bytesMap"], 3: ["type", "string"], 4: ["stringData", "map"], 5: ["immutable", "bool"] },
    "v1/ConfigMap": { 1: ["metadata", objectMeta], 2: ["data", "map"], 3: ["binaryData", "bytesMap"], 4: ["immutable", "bool"] },
    "v1/Namespace": { 1: ["metadata", objectMeta], 2: ["spec", { 1: ["finalizers", "strings"] }] },
    "v1/ServiceAccount": {
        1: ["metadata", objectMeta],
        2: ["secrets", { repeated: objectReference }],
        3: ["imagePullSecrets", { repeated: { 1: ["name", "string"] } }],
        4: ["automountServiceAccountToken", "bool"],
    },
}

/** Decodes a `k8s\0`-prefixed protobuf body into the JSON object, for the kinds above. */
export function decodeKubeProtobuf(body: Buffer): Json {
    if (body.length < 4 || body.subarray(0, 4).toString("latin1") !== "k8s\0") {
        throw new StatusError(400, "BadRequest", "provided protobuf body does not start with the k8s magic prefix")
    }
    let apiVersion = ""
    let kind = ""
    let raw: Buffer = Buffer.alloc(0)
    for (const f of fields(body.subarray(4))) {
        if (f.tag === 1) {
            for (const t of fields(f.value as Buffer)) {
                if (t.tag === 1) apiVersion = str(t)
                if (t.tag === 2) kind = str(t)
            }
        } else if (f.tag === 2) raw = f.value as Buffer
    }
    const desc = MESSAGES[`${apiVersion}/${kind}`]
    if (!desc) {
        throw new StatusError(
            415,
            "UnsupportedMediaType",
            `the test API server cannot decode protobuf ${apiVersion} ${kind} - accepted media types include: application/json, application/yaml`,
        )
    }
    return { apiVersion, kind, ...decodeMessage(raw, desc) }
}
