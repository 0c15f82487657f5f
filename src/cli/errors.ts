/**
 * Turning any thrown value into what the user sees: one clear message on stderr (sops' exact text where the error
 * carries it), an optional `hint: …` line, and an exit status from `exit-codes.ts`. Stack traces only with
 * `KUBECTL_SOPS_DEBUG=1`.
 */
import { KsopsError } from "../errors.js"
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
    if (error instanceof KsopsError) {
        // The message is sops' exact text where sops has one (MAC mismatch, the multi-line no-key report, …).
        text = error.message.endsWith("\n") ? error.message : `${error.message}\n`
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
