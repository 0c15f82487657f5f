/**
 * The fast-path command-line parser: `node:util` `parseArgs` driven by a {@link CommandSpec}'s flag table, so
 * `kubectl sops encrypt …` never loads oclif. The oclif classes parse the same table with oclif's parser; a test
 * checks both give the same result.
 */
import { parseArgs } from "node:util"
import { UsageError } from "../errors.js"
import type { CommandSpec, FlagSpec, Parsed, ParsedFlags } from "./spec.js"

type ParseArgsOptions = NonNullable<Parameters<typeof parseArgs>[0]>["options"]

/**
 * Parse `argv` (the arguments after the command id) against a command's spec.
 * @param env - environment for flags with an `env` fallback.
 * @throws UsageError for an unknown flag, a missing or invalid value, or a wrong number of arguments.
 */
export function parseCommandLine(spec: CommandSpec, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Parsed {
    const options: ParseArgsOptions = {}
    for (const [name, flag] of Object.entries(spec.flags)) {
        options[name] = {
            type: flag.type === "boolean" ? "boolean" : "string",
            ...(flag.char === undefined ? {} : { short: flag.char }),
            ...(flag.multiple ? { multiple: true } : {}),
        }
    }
    let result: ReturnType<typeof parseArgs>
    try {
        result = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true })
    } catch (error) {
        throw new UsageError(usageMessage(error), { hint: `see \`kubectl sops ${spec.id} --help\`` })
    }
    const flags: ParsedFlags = {}
    for (const [name, flag] of Object.entries(spec.flags)) {
        const raw = (result.values as Record<string, string | boolean | (string | boolean)[] | undefined>)[name]
        flags[name] = finish(name, flag, raw, env)
    }
    checkArgCount(spec, result.positionals)
    return { flags, argv: result.positionals }
}

/** Check the number of positional arguments against the spec. */
export function checkArgCount(spec: CommandSpec, positionals: readonly string[]): void {
    const required = spec.args.filter((a) => a.required).length
    if (positionals.length < required) {
        const missing = spec.args.slice(positionals.length).filter((a) => a.required)
        throw new UsageError(`missing required argument ${missing.map((a) => a.name).join(", ")}`, {
            hint: `see \`kubectl sops ${spec.id} --help\``,
        })
    }
    spec.args.forEach((a, i) => {
        const value = positionals[i]
        if (a.options !== undefined && value !== undefined && !a.options.includes(value)) {
            throw new UsageError(`expected ${a.name} to be one of: ${a.options.join(", ")}`, {
                hint: `see \`kubectl sops ${spec.id} --help\``,
            })
        }
    })
    if (!spec.variadic && positionals.length > spec.args.length) {
        throw new UsageError(`unexpected argument: ${positionals.slice(spec.args.length).join(" ")}`, {
            hint: `see \`kubectl sops ${spec.id} --help\``,
        })
    }
}

function finish(
    name: string,
    flag: FlagSpec,
    raw: string | boolean | (string | boolean)[] | undefined,
    env: Readonly<Record<string, string | undefined>>,
): ParsedFlags[string] {
    let value: string | boolean | string[] | undefined
    if (Array.isArray(raw)) value = raw.map(String)
    else value = raw
    if (value === undefined && flag.env !== undefined) {
        const fromEnv = env[flag.env]
        if (fromEnv !== undefined && fromEnv !== "") {
            if (flag.type === "boolean") value = ["1", "true", "yes"].includes(fromEnv.toLowerCase())
            else value = flag.multiple ? [fromEnv] : fromEnv
        }
    }
    if (value === undefined) return flag.default
    if (flag.options !== undefined) {
        for (const v of Array.isArray(value) ? value : [value]) {
            if (typeof v === "string" && !flag.options.includes(v)) {
                throw new UsageError(`expected --${name}=${v} to be one of: ${flag.options.join(", ")}`)
            }
        }
    }
    if (flag.type === "integer" && typeof value === "string") {
        if (!/^-?\d+$/.test(value)) throw new UsageError(`expected an integer for --${name} but received: ${value}`)
        return Number.parseInt(value, 10)
    }
    return value
}

function usageMessage(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error)
    const code = (error as { code?: string }).code
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
        const m = /Unknown option '([^']+)'/.exec(message)
        if (m) return `nonexistent flag: ${m[1]}`
    }
    // parseArgs messages are sentences; keep the first one, lowercase first letter.
    const first = message.split(". ")[0] ?? message
    return first.charAt(0).toLowerCase() + first.slice(1)
}
