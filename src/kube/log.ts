/**
 * Flux-style progress lines on stderr (`flux` prints them with these glyphs): ✚ generate, ► action, ◎ waiting,
 * ✔ success, ⚠️ warning, ✗ failure.
 */

/** Something to write progress to (`process.stderr` in the CLI). */
export interface LogSink {
    write(text: string): unknown
}

/** The flux logger. */
export interface FluxLogger {
    generate(message: string): void
    action(message: string): void
    waiting(message: string): void
    success(message: string): void
    warning(message: string): void
    failure(message: string): void
}

/** A logger writing `<glyph> <message>\n` lines to `sink`; `quiet` drops everything but warnings and failures. */
export function fluxLogger(sink: LogSink, options: { quiet?: boolean } = {}): FluxLogger {
    const line = (glyph: string, always: boolean) => (message: string) => {
        if (always || !options.quiet) sink.write(`${glyph} ${message}\n`)
    }
    return {
        generate: line("✚", false),
        action: line("►", false),
        waiting: line("◎", false),
        success: line("✔", false),
        warning: line("⚠️", true),
        failure: line("✗", true),
    }
}
