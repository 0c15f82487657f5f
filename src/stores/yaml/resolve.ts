/**
 * yaml.v3 (go.yaml.in/yaml/v3 v3.0.4) implicit typing of plain scalars, and the test its encoder uses to decide
 * whether a string must be quoted.
 */
import { parseYamlTimestamp } from "../../sops/time.js"
import type { SopsTime } from "../../sops/tree.js"

/** The kinds a plain scalar can resolve to. */
export type ResolvedKind = "str" | "null" | "bool" | "int" | "uint" | "float" | "timestamp" | "merge"

/** A resolved plain scalar. `uint` carries the value as a bigint above int64's range. */
export type Resolved =
    | { kind: "str"; value: string }
    | { kind: "null"; value: null }
    | { kind: "bool"; value: boolean }
    | { kind: "int"; value: bigint }
    | { kind: "uint"; value: bigint }
    | { kind: "float"; value: number }
    | { kind: "timestamp"; value: SopsTime }
    | { kind: "merge"; value: string }

const INT64_MIN = -(1n << 63n)
const INT64_MAX = (1n << 63n) - 1n
const UINT64_MAX = (1n << 64n) - 1n

const FIXED = new Map<string, Resolved>()
for (const s of ["true", "True", "TRUE"]) FIXED.set(s, { kind: "bool", value: true })
for (const s of ["false", "False", "FALSE"]) FIXED.set(s, { kind: "bool", value: false })
for (const s of ["", "~", "null", "Null", "NULL"]) FIXED.set(s, { kind: "null", value: null })
for (const s of [".nan", ".NaN", ".NAN"]) FIXED.set(s, { kind: "float", value: Number.NaN })
for (const s of [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"])
    FIXED.set(s, { kind: "float", value: Number.POSITIVE_INFINITY })
for (const s of ["-.inf", "-.Inf", "-.INF"]) FIXED.set(s, { kind: "float", value: Number.NEGATIVE_INFINITY })
FIXED.set("<<", { kind: "merge", value: "<<" })

const FIRST = new Set([..."tTfFnN~.+-<0123456789"].map((ch) => ch.charCodeAt(0)))
const FIRST_TABLE = new Uint8Array(128)
for (const c of FIRST) FIRST_TABLE[c] = 1

/**
 * False when `s` is certainly a string as a plain scalar: it is not empty and its first character starts no special
 * word, number, timestamp or merge key (so {@link resolvePlain} would return it unchanged).
 * @param s - the scalar text
 */
/**
 * YAML indicators that can never start a plain scalar: `, [ ] { } # & * ! | > ' " % @` and backquote. (`-`, `?` and
 * `:` can, unless a space or the end follows.)
 * @param c - a character code
 */
export function isIndicator(c: number): boolean {
    switch (c) {
        case 44:
        case 91:
        case 93:
        case 123:
        case 125:
        case 35:
        case 38:
        case 42:
        case 33:
        case 124:
        case 62:
        case 39:
        case 34:
        case 37:
        case 64:
        case 96:
            return true
        default:
            return false
    }
}

export function mayResolve(s: string): boolean {
    const c = s.charCodeAt(0)
    return c < 128 ? FIRST_TABLE[c] === 1 : Number.isNaN(c)
}

/** Go `strconv.ParseFloat` accepts these (after yaml.v3's own regex for the digit-led forms). */
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/

/** Go `strconv.ParseInt(s, 0, 64)`-style parse (sign, 0x/0o/0b/leading-0 octal), without range check. */
function parseGoInt(s: string): bigint | undefined {
    let i = 0
    let neg = false
    if (s[0] === "+" || s[0] === "-") {
        neg = s[0] === "-"
        i = 1
    }
    let body = s.slice(i)
    let re = /^[0-9]+$/
    let prefix = ""
    if (body.length >= 2 && body[0] === "0") {
        const p = body[1]
        if (p === "x" || p === "X") {
            prefix = "0x"
            re = /^[0-9a-fA-F]+$/
        } else if (p === "o" || p === "O") {
            prefix = "0o"
            re = /^[0-7]+$/
        } else if (p === "b" || p === "B") {
            prefix = "0b"
            re = /^[01]+$/
        } else {
            prefix = "0o"
            re = /^[0-7]+$/
            body = `00${body.slice(1)}`
        }
        body = body.slice(2)
    }
    if (!re.test(body)) return undefined
    const v = BigInt(prefix + body)
    return neg ? -v : v
}

function floatOf(s: string): number | undefined {
    const v = Number(s)
    // Go reports overflow (±Inf) as an error: the scalar then stays a string
    if (!Number.isFinite(v)) return undefined
    return v
}

/**
 * Resolve a plain (unquoted, untagged) scalar the way yaml.v3 does.
 * @param s - the scalar text
 */
export function resolvePlain(s: string): Resolved {
    const c = s.charCodeAt(0)
    // only these first characters can start a special word, a number or a timestamp
    if (s.length > 5 && !FIRST.has(c)) return { kind: "str", value: s }
    const fixed = FIXED.get(s)
    if (fixed !== undefined) return fixed
    if (c === 46 /* . */) {
        if (DOT_FLOAT.test(s)) {
            const f = floatOf(s)
            if (f !== undefined) return { kind: "float", value: f }
        }
        return { kind: "str", value: s }
    }
    const digit = c >= 48 && c <= 57
    if (!digit && c !== 43 && c !== 45) return { kind: "str", value: s }
    if (digit && s.length >= 5 && s.charCodeAt(4) === 45) {
        const t = parseYamlTimestamp(s)
        if (t !== undefined) return { kind: "timestamp", value: t }
    }
    const plain = s.includes("_") ? s.replaceAll("_", "") : s
    const n = parseGoInt(plain)
    if (n !== undefined) {
        if (n >= INT64_MIN && n <= INT64_MAX) return { kind: "int", value: n }
        if (n > 0n && n <= UINT64_MAX && plain[0] !== "-" && plain[0] !== "+") return { kind: "uint", value: n }
    }
    if (YAML_FLOAT.test(plain)) {
        const f = floatOf(plain)
        if (f !== undefined) return { kind: "float", value: f }
    }
    return { kind: "str", value: s }
}

const BASE60 = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/
const OLD_BOOLS = new Set(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"])

/**
 * True when yaml.v3's encoder would write this string plain-requested: it resolves to a string when unquoted and is
 * neither a YAML 1.1 boolean nor a base-60 number.
 * @param s - the string
 */
export function canUsePlain(s: string): boolean {
    if (s.length === 0) return false
    const c = s.charCodeAt(0)
    // fast path: a first character that no resolver rule or old-bool/base-60 form starts with
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    if (letter) {
        // y Y n N t T f F o O are the only letters that start special words
        if (!"yYnNtTfFoO".includes(s[0])) return true
        if (OLD_BOOLS.has(s)) return false
        return FIXED.get(s) === undefined
    }
    if (resolvePlain(s).kind !== "str") return false
    if ((c === 43 || c === 45 || (c >= 48 && c <= 57)) && s.includes(":") && BASE60.test(s)) return false
    return true
}
