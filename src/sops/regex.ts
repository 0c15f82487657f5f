/**
 * Regexes that come from files and flags (`encrypted_regex` & co., `path_regex`), with Go's semantics: RE2 syntax,
 * linear-time matching, and `MatchString` = unanchored search, as sops and Flux run them.
 *
 * Matching is done by re2js (a port of Go's regexp), loaded on first use only. A pattern of the small subset below
 * (the Flux idioms `^(data|stringData)$` and `.*.yaml` are in it) is run by a JavaScript RegExp instead, which
 * is equivalent and bounded for that subset, so that commands with such a rule never load re2js:
 * - literal characters, `\` + ASCII punctuation, `.` (any character but `\n`, as Go without `(?s)`), `^` and `$`
 *   (start and end of text, as Go without `(?m)`), groups `(…)` / `(?:…)` with `|`;
 * - no quantifiers, except `.*` at the very start or end of the pattern: an unanchored search for `.*R` or `R.*`
 *   finds a match exactly when one for `R` does (`.*` may match the empty string), so they are dropped;
 * - at most {@link FAST_MAX_PATHS} ways through the alternatives and {@link FAST_MAX_LENGTH} characters: without
 *   quantifiers, a backtracking engine then tries at most that many paths of at most the pattern's length from each
 *   start position; subjects longer than {@link FAST_MAX_SUBJECT} go to re2js, so a match costs at most
 *   16 × 256 × 4096 steps.
 */
import { createRequire } from "node:module"

/** A compiled Go regex. */
export interface GoRegex {
    readonly source: string
    /** Go's `MatchString`: is there a match anywhere in `s`? */
    test(s: string): boolean
}

/** A pattern Go's `regexp.Compile` refuses; the message is Go's (`error parsing regexp: …`). */
export class GoRegexSyntaxError extends Error {
    override readonly name = "GoRegexSyntaxError"
}

const FAST_MAX_PATHS = 16
const FAST_MAX_LENGTH = 256
const FAST_MAX_SUBJECT = 4096
const CACHE_MAX = 512

type Re2Module = typeof import("re2js")
let re2: Re2Module | undefined

/** re2js, loaded synchronously on first use (from node_modules: the fast-path bundle passes its own `require`). */
function loadRe2(): Re2Module {
    if (re2 === undefined) {
        const req = typeof require === "function" ? require : createRequire(import.meta.url)
        re2 = req("re2js") as Re2Module
    }
    return re2
}

/** Whether re2js has been loaded in this process (for tests of the fast path). */
export function re2Loaded(): boolean {
    return re2 !== undefined
}

const cache = new Map<string, GoRegex | GoRegexSyntaxError>()

/**
 * Compile a pattern with Go's syntax and semantics (cached).
 * @throws GoRegexSyntaxError with Go's message for a pattern Go refuses
 */
export function compileGoRegex(pattern: string): GoRegex {
    let hit = cache.get(pattern)
    if (hit === undefined) {
        hit = build(pattern)
        if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string)
        cache.set(pattern, hit)
    }
    if (hit instanceof GoRegexSyntaxError) throw hit
    return hit
}

/** Go's error text for a pattern it refuses, or undefined when it compiles. */
export function goRegexError(pattern: string): string | undefined {
    try {
        compileGoRegex(pattern)
        return undefined
    } catch (e) {
        if (e instanceof GoRegexSyntaxError) return e.message
        throw e
    }
}

/**
 * Go's package-level `regexp.MatchString(pattern, s)` as sops calls it in its tree walk: an invalid pattern
 * reports no match (sops ignores the error).
 */
export function goMatchOrFalse(pattern: string): (s: string) => boolean {
    let re: GoRegex
    try {
        re = compileGoRegex(pattern)
    } catch (e) {
        if (e instanceof GoRegexSyntaxError) return () => false
        throw e
    }
    return (s) => re.test(s)
}

function build(pattern: string): GoRegex | GoRegexSyntaxError {
    const fast = fastSource(pattern)
    if (fast !== undefined) {
        const js = new RegExp(fast, "u")
        let slow: GoRegex | GoRegexSyntaxError | undefined
        return {
            source: pattern,
            test(s) {
                if (s.length <= FAST_MAX_SUBJECT) return js.test(s)
                slow ??= viaRe2(pattern)
                return (slow as GoRegex).test(s)
            },
        }
    }
    return viaRe2(pattern)
}

function viaRe2(pattern: string): GoRegex | GoRegexSyntaxError {
    const { RE2JS, RE2JSSyntaxException } = loadRe2()
    try {
        const compiled = RE2JS.compile(pattern)
        return { source: pattern, test: (s) => compiled.matcher(s).find() }
    } catch (e) {
        if (e instanceof RE2JSSyntaxException) return new GoRegexSyntaxError(e.message)
        throw e
    }
}

const PUNCT = /^[!-/:-@[-`{-~]$/
/** What a JavaScript RegExp with the `u` flag needs escaped (and allows to be escaped) outside a class. */
const JS_SYNTAX = /[\\^$.*+?()[\]{}|/]/

/** A JavaScript RegExp source equivalent to `pattern` when it is in the fast subset (see the top), else undefined. */
export function fastSource(pattern: string): string | undefined {
    // a lone surrogate (possible through a JSON escape) is not UTF-8: left to re2js
    if (pattern.length > FAST_MAX_LENGTH || /\p{Cs}/u.test(pattern)) return undefined
    let p = pattern
    while (p.startsWith(".*") && !/^\.\*[*+?{]/.test(p)) p = p.slice(2)
    while (p.endsWith(".*") && trailingDotStar(p)) p = p.slice(0, -2)
    let out = ""
    // per open group: [paths of the finished alternatives, paths of the current alternative]
    const stack: [number, number][] = [[0, 1]]
    for (let i = 0; i < p.length; ) {
        const c = p[i]
        const top = stack[stack.length - 1]
        if (c === "\\") {
            const next = p[i + 1]
            if (next === undefined || !PUNCT.test(next)) return undefined
            out += JS_SYNTAX.test(next) ? `\\${next}` : next
            i += 2
        } else if (c === ".") {
            out += "[^\\n]"
            i++
        } else if (c === "^" || c === "$") {
            out += c
            i++
        } else if (c === "(") {
            if (p.startsWith("(?:", i)) i += 3
            else if (p[i + 1] === "?") return undefined
            else i++
            out += "(?:"
            stack.push([0, 1])
        } else if (c === "|") {
            top[0] += top[1]
            top[1] = 1
            out += "|"
            i++
        } else if (c === ")") {
            if (stack.length === 1) return undefined
            stack.pop()
            const paths = top[0] + top[1]
            const outer = stack[stack.length - 1]
            outer[1] *= paths
            if (outer[1] > FAST_MAX_PATHS) return undefined
            out += ")"
            i++
        } else if ("*+?{[]}".includes(c)) {
            return undefined
        } else {
            const cp = p.codePointAt(i) as number
            const ch = String.fromCodePoint(cp)
            out += JS_SYNTAX.test(ch) ? `\\${ch}` : ch
            i += ch.length
        }
    }
    if (stack.length !== 1) return undefined
    if (stack[0][0] + stack[0][1] > FAST_MAX_PATHS) return undefined
    return out
}

/** Is the `.*` at the end of `p` a real `.*` (not `\.*`, whose `*` repeats an escaped dot)? */
function trailingDotStar(p: string): boolean {
    let backslashes = 0
    for (let i = p.length - 3; i >= 0 && p[i] === "\\"; i--) backslashes++
    return backslashes % 2 === 0
}
