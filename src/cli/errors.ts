/**
 * Turning any thrown value into what the user sees: one clear message on stderr (sops' exact text where the error
 * carries it), an optional `hint: …` line, and an exit status from `exit-codes.ts`. Stack traces only with
 * `KUBECTL_SOPS_DEBUG=1`.
 */
import { KsopsError, NoKeyMatchedError } from "../errors.js"
import { EXIT_INTERNAL, exitCodeFor } from "./exit-codes.js"

/** What to print and how to exit. */
export interface RenderedError {
    /** Text for stderr, ending in a newline. */
    text: string
    exitCode: number
}

/**
 * Render an error for stderr.
 * @param debug - include the stack trace (and causes).
 */
export function renderError(error: unknown, debug = false): RenderedError {
    let text: string
    let exitCode: number
    if (error instanceof NoKeyMatchedError) {
        text = renderNoKeyMatched(error)
        exitCode = exitCodeFor(error.kind)
    } else if (error instanceof KsopsError) {
        text = `${error.message}\n`
        if (error.hint !== undefined) text += `hint: ${error.hint}\n`
        exitCode = exitCodeFor(error.kind)
    } else {
        const message = error instanceof Error ? error.message : String(error)
        text = `kubectl-sops: internal error: ${message}\n`
        exitCode = EXIT_INTERNAL
    }
    if (debug) text += `${debugDetail(error)}\n`
    return { text, exitCode }
}

/**
 * sops' report when no master key could recover the data key (`getDataKeyWithKeyServices`): a header, one block per
 * group with each failed key and its error wrapped at 60 columns behind `| `, and a closing paragraph.
 */
export function renderNoKeyMatched(error: NoKeyMatchedError): string {
    const lines = ["Failed to get the data key required to decrypt the SOPS file.", ""]
    for (const group of error.groups) {
        lines.push(`Group ${group.group}: ${group.ok ? "SUCCESS" : "FAILED"}`)
        for (const attempt of group.attempts) {
            lines.push(`  ${attempt.key}: FAILED`)
            const wrapped = wrap(attempt.error, 60)
            wrapped.forEach((line, i) => {
                lines.push(`    ${i === 0 ? "- " : "  "}| ${line}`)
            })
        }
        lines.push("")
    }
    lines.push(
        "Recovery failed because no master key was able to decrypt the file. In",
        "order for SOPS to recover the file, at least one key has to be successful,",
        "but none were.",
    )
    let text = `${lines.join("\n")}\n`
    if (error.hint !== undefined) text += `hint: ${error.hint}\n`
    return text
}

/** Greedy word wrap: lines of at most `width` characters unless one word is longer. */
function wrap(text: string, width: number): string[] {
    const out: string[] = []
    let line = ""
    for (const word of text.split(/\s+/).filter((w) => w !== "")) {
        if (line === "") line = word
        else if (line.length + 1 + word.length <= width) line += ` ${word}`
        else {
            out.push(line)
            line = word
        }
    }
    if (line !== "" || out.length === 0) out.push(line)
    return out
}

function debugDetail(error: unknown): string {
    const parts: string[] = []
    let current: unknown = error
    for (let depth = 0; current !== undefined && depth < 5; depth++) {
        parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current))
        current = current instanceof Error ? current.cause : undefined
        if (current !== undefined) parts.push("caused by:")
    }
    return parts.join("\n")
}
