/**
 * Running helper programs (gpg, SOPS_AGE_KEY_CMD, …) with an explicit environment.
 * `node:child_process` is imported on first use: it costs several milliseconds of start-up.
 */

/** What a finished helper program produced. */
export interface ExecResult {
    readonly code: number | null
    readonly stdout: Buffer
    readonly stderr: Buffer
}

/**
 * Run `file args…` (no shell) with the given environment, feeding `stdin`.
 * Resolves when the program exits; rejects only if it cannot be started (e.g. ENOENT).
 */
export async function execFile(
    file: string,
    args: readonly string[],
    options: { env: Readonly<Record<string, string | undefined>>; stdin?: Uint8Array | string },
): Promise<ExecResult> {
    const { spawn } = await import("node:child_process")
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { env: { ...options.env }, stdio: ["pipe", "pipe", "pipe"] })
        const out: Buffer[] = []
        const err: Buffer[] = []
        child.stdout.on("data", (d: Buffer) => out.push(d))
        child.stderr.on("data", (d: Buffer) => err.push(d))
        child.on("error", reject)
        child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }))
        child.stdin.on("error", () => {
            // the program may exit without reading its input; its exit status tells what happened
        })
        child.stdin.end(options.stdin ?? "")
    })
}

/**
 * Split a command line into words the way a POSIX shell would without expansions (what sops does with
 * google/shlex): whitespace separates words; '…' is literal; "…" and bare words honour backslash escapes;
 * `#` at the start of a word starts a comment.
 * @throws Error on an unterminated quote or escape.
 */
export function shellSplit(command: string): string[] {
    const words: string[] = []
    let word = ""
    let inWord = false
    let i = 0
    while (i < command.length) {
        const c = command[i]
        if (/\s/.test(c)) {
            if (inWord) words.push(word)
            word = ""
            inWord = false
            i++
        } else if (c === "#" && !inWord) {
            break
        } else if (c === "'") {
            const end = command.indexOf("'", i + 1)
            if (end < 0) throw new Error("unterminated single quote")
            word += command.slice(i + 1, end)
            inWord = true
            i = end + 1
        } else if (c === '"') {
            i++
            for (;;) {
                if (i >= command.length) throw new Error("unterminated double quote")
                const d = command[i]
                if (d === '"') break
                if (d === "\\" && i + 1 < command.length && '"\\$`\n'.includes(command[i + 1])) {
                    word += command[i + 1]
                    i += 2
                } else {
                    word += d
                    i++
                }
            }
            inWord = true
            i++
        } else if (c === "\\") {
            if (i + 1 >= command.length) throw new Error("unterminated escape")
            word += command[i + 1]
            inWord = true
            i += 2
        } else {
            word += c
            inWord = true
            i++
        }
    }
    if (inWord) words.push(word)
    return words
}
