/**
 * Timestamps as Go reads and writes them: RFC 3339 parsing (`time.Parse(time.RFC3339, s)`), yaml.v3's timestamp
 * resolution, and the canonical text `time.MarshalText` produces (RFC 3339 with nanoseconds, trailing zeros cut,
 * `Z` for a zero offset).
 */
import { SopsTime } from "./tree.js"

interface Parts {
    year: number
    month: number
    day: number
    hour: number
    minute: number
    second: number
    /** Fraction digits, at most 9, as written (may have trailing zeros). */
    fraction: string
    /** Offset in minutes east of UTC. */
    offset: number
}

function daysIn(month: number, year: number): number {
    if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
    return [4, 6, 9, 11].includes(month) ? 30 : 31
}

function valid(p: Parts): boolean {
    return (
        p.month >= 1 &&
        p.month <= 12 &&
        p.day >= 1 &&
        p.day <= daysIn(p.month, p.year) &&
        p.hour < 24 &&
        p.minute < 60 &&
        p.second < 60
    )
}

function pad(n: number, width: number): string {
    return String(n).padStart(width, "0")
}

/** Go `time.MarshalText` of the parts. */
function canonical(p: Parts): string {
    const frac = p.fraction.slice(0, 9).replace(/0+$/, "")
    let zone = "Z"
    if (p.offset !== 0) {
        const abs = Math.abs(p.offset)
        zone = `${p.offset < 0 ? "-" : "+"}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`
    }
    return (
        `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}T${pad(p.hour, 2)}:${pad(p.minute, 2)}:${pad(p.second, 2)}` +
        `${frac ? `.${frac}` : ""}${zone}`
    )
}

function parseZone(zone: string | undefined): number | undefined {
    if (zone === undefined || zone === "") return undefined
    if (zone === "Z") return 0
    const m = /^([+-])(\d\d):(\d\d)$/.exec(zone)
    if (!m) return undefined
    const minutes = Number(m[2]) * 60 + Number(m[3])
    return m[1] === "-" ? -minutes : minutes
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/

/**
 * Parse an RFC 3339 timestamp the way Go's `time.Parse(time.RFC3339, s)` does (fraction optional, numeric offset
 * or `Z`, upper-case `T`/`Z`).
 * @returns the canonical {@link SopsTime}
 * @throws Error `parsing time "<s>" as RFC 3339` when it is not one
 */
export function parseRfc3339(s: string): SopsTime {
    const m = RFC3339.exec(s)
    const offset = m ? parseZone(m[8]) : undefined
    if (m && offset !== undefined) {
        const parts: Parts = {
            year: Number(m[1]),
            month: Number(m[2]),
            day: Number(m[3]),
            hour: Number(m[4]),
            minute: Number(m[5]),
            second: Number(m[6]),
            fraction: m[7] ?? "",
            offset,
        }
        if (valid(parts)) return new SopsTime(canonical(parts))
    }
    throw new Error(`parsing time ${JSON.stringify(s)} as RFC 3339: not a valid timestamp`)
}

/**
 * RFC 3339 with second precision (`lastmodified`'s form, and the MAC's AAD): fraction dropped, zero offset `Z`.
 * @param t - a canonical time
 */
export function formatRfc3339Seconds(t: SopsTime): string {
    return t.text.replace(/\.\d+(?=Z|[+-]\d\d:\d\d$)/, "")
}

/** Format a JS Date as `YYYY-MM-DDTHH:MM:SSZ` (UTC, seconds). */
export function formatDateSeconds(d: Date): string {
    return d.toISOString().replace(/\.\d{3}Z$/, "Z")
}

const YAML_TS =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:([Tt])|( ))(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})?)?$/

/**
 * yaml.v3's timestamp resolution for plain scalars: `YYYY-M-D`, `YYYY-M-DTh:m:s[.frac](Z|±hh:mm)` (also `t`), or
 * `YYYY-M-D h:m:s[.frac]` (no zone, UTC).
 * @returns the canonical time, or undefined when the scalar is not a timestamp
 */
export function parseYamlTimestamp(s: string): SopsTime | undefined {
    // quick check shared with yaml.v3: exactly four digits then '-'
    if (s.length < 5 || s.charCodeAt(4) !== 45) return undefined
    const m = YAML_TS.exec(s)
    if (!m) return undefined
    const hasTime = m[6] !== undefined
    const zoneText = m[10]
    // the T form requires a zone; the space form forbids one
    if (hasTime && m[4] !== undefined && zoneText === undefined) return undefined
    if (hasTime && m[5] !== undefined && zoneText !== undefined) return undefined
    const offset = zoneText === undefined ? 0 : parseZone(zoneText)
    if (offset === undefined) return undefined
    const parts: Parts = {
        year: Number(m[1]),
        month: Number(m[2]),
        day: Number(m[3]),
        hour: hasTime ? Number(m[6]) : 0,
        minute: hasTime ? Number(m[7]) : 0,
        second: hasTime ? Number(m[8]) : 0,
        fraction: m[9] ?? "",
        offset,
    }
    return valid(parts) ? new SopsTime(canonical(parts)) : undefined
}
