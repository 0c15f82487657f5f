/**
 * Go `strconv.FormatFloat(v, fmt, -1, 64)` for the formats sops relies on. JavaScript's shortest round-trip digits
 * (`Number#toExponential()` without an argument) are the same digits Go's shortest formatting picks.
 */

/** Go float verbs: `f` positional, `e`/`E` exponent, `g`/`G` whichever is shorter by Go's rule. */
export type GoFloatFormat = "f" | "e" | "E" | "g" | "G"

/** Shortest decimal digits and the position of the decimal point: value = 0.d1d2… × 10^point. */
function shortestDigits(abs: number): { digits: string; point: number } {
    if (abs === 0) return { digits: "0", point: 1 }
    const [mantissa, exp] = abs.toExponential().split("e")
    return { digits: mantissa.replace(".", ""), point: Number(exp) + 1 }
}

function positional(digits: string, point: number): string {
    if (point <= 0) return `0.${"0".repeat(-point)}${digits}`
    if (point >= digits.length) return digits + "0".repeat(point - digits.length)
    return `${digits.slice(0, point)}.${digits.slice(point)}`
}

function exponential(digits: string, point: number, e: string): string {
    const exp = digits === "0" ? 0 : point - 1
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    const sign = exp < 0 ? "-" : "+"
    const abs = Math.abs(exp)
    return `${mantissa}${e}${sign}${abs < 10 ? "0" : ""}${abs}`
}

/**
 * Format a float64 exactly like Go's `strconv.FormatFloat(v, fmt, -1, 64)`.
 * @param v - the value
 * @param fmt - the Go verb
 * @returns e.g. `formatFloat(1e21, "f")` → `"1000000000000000000000"`, `formatFloat(1e6, "g")` → `"1e+06"`
 */
export function formatFloat(v: number, fmt: GoFloatFormat): string {
    if (Number.isNaN(v)) return "NaN"
    if (v === Number.POSITIVE_INFINITY) return "+Inf"
    if (v === Number.NEGATIVE_INFINITY) return "-Inf"
    const neg = v < 0 || Object.is(v, -0)
    const { digits, point } = shortestDigits(Math.abs(v))
    let body: string
    switch (fmt) {
        case "f":
            body = positional(digits, point)
            break
        case "e":
        case "E":
            body = exponential(digits, point, fmt)
            break
        default: {
            // Go: with the shortest precision, %e is used when the exponent is < -4 or >= 6
            const exp = digits === "0" ? 0 : point - 1
            body = exp < -4 || exp >= 6 ? exponential(digits, point, fmt === "g" ? "e" : "E") : positional(digits, point)
        }
    }
    return neg ? `-${body}` : body
}
