/**
 * go-yaml v3's reader checks (readerc.go): the input must be UTF-8 made of characters YAML allows. Its problems,
 * in the order go-yaml tests them for each character: "invalid leading UTF-8 octet", "incomplete UTF-8 octet
 * sequence" (the input ends inside a character), "invalid trailing UTF-8 octet", "invalid length of a UTF-8
 * sequence" (an overlong form), "invalid Unicode character" (a surrogate or above U+10FFFF) and "control characters
 * are not allowed" (outside tab, LF, CR, U+0085, U+0020–U+007E, U+00A0–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF).
 * The problem names no byte of the input (they may be a secret's).
 */

/** Characters go-yaml refuses, in a string that is valid UTF-16 (surrogates cannot come from valid UTF-8). */
const DISALLOWED = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufffe\uffff]/

/** Whether `text` (decoded from valid UTF-8) has a character go-yaml refuses: a cheap test before {@link readerProblem}. */
export function hasDisallowedCharacter(text: string): boolean {
    return DISALLOWED.test(text)
}

/** The first reader problem of `bytes` and the byte offset where go-yaml finds it, or undefined when it has none. */
export function readerProblem(bytes: Uint8Array): { problem: string; offset: number } | undefined {
    const n = bytes.length
    let i = 0
    while (i < n) {
        const lead = bytes[i]
        let width: number
        let value: number
        if (lead < 0x80) {
            width = 1
            value = lead
        } else if ((lead & 0xe0) === 0xc0) {
            width = 2
            value = lead & 0x1f
        } else if ((lead & 0xf0) === 0xe0) {
            width = 3
            value = lead & 0x0f
        } else if ((lead & 0xf8) === 0xf0) {
            width = 4
            value = lead & 0x07
        } else return { problem: "invalid leading UTF-8 octet", offset: i }
        if (i + width > n) return { problem: "incomplete UTF-8 octet sequence", offset: i }
        for (let k = 1; k < width; k++) {
            const octet = bytes[i + k]
            if ((octet & 0xc0) !== 0x80) return { problem: "invalid trailing UTF-8 octet", offset: i + k }
            value = (value << 6) + (octet & 0x3f)
        }
        if ((width === 2 && value < 0x80) || (width === 3 && value < 0x800) || (width === 4 && value < 0x10000)) {
            return { problem: "invalid length of a UTF-8 sequence", offset: i }
        }
        if ((value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff) return { problem: "invalid Unicode character", offset: i }
        const allowed =
            value === 0x09 ||
            value === 0x0a ||
            value === 0x0d ||
            (value >= 0x20 && value <= 0x7e) ||
            value === 0x85 ||
            (value >= 0xa0 && value <= 0xd7ff) ||
            (value >= 0xe000 && value <= 0xfffd) ||
            (value >= 0x10000 && value <= 0x10ffff)
        if (!allowed) return { problem: "control characters are not allowed", offset: i }
        i += width
    }
    return undefined
}

/** The 1-based line and column (in characters) of a byte offset, lines ending at LF, CRLF or a lone CR. */
export function positionOfOffset(bytes: Uint8Array, offset: number): { line: number; column: number } {
    let line = 1
    let column = 1
    for (let i = 0; i < offset; i++) {
        const b = bytes[i]
        if (b === 0x0a || (b === 0x0d && bytes[i + 1] !== 0x0a)) {
            line++
            column = 1
        } else if (b === 0x0d) {
            // the CR of a CRLF: the LF ends the line
        } else if ((b & 0xc0) !== 0x80) column++
    }
    return { line, column }
}
