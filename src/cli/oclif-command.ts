/**
 * Turns a {@link CommandSpec} into an oclif command class. The classes exist for oclif's help, manifest and
 * command discovery; running a command goes through the same {@link CommandSpec.run} as the fast path.
 */
import { pathToFileURL } from "node:url"
import { Args, Command, Flags, type Interfaces } from "@oclif/core"
import { KsopsError, UsageError } from "../errors.js"
import { renderError } from "./errors.js"
import type { CommandIo, CommandSpec, FlagSpec, ParsedFlags } from "./spec.js"

type Char = NonNullable<Parameters<typeof Flags.string>[0]>["char"]

/** The oclif flag definitions for a flag table (same names, chars, env, defaults, options). */
export function toOclifFlags(flags: Readonly<Record<string, FlagSpec>>): Interfaces.FlagInput {
    const out: Interfaces.FlagInput = {}
    for (const [name, f] of Object.entries(flags)) {
        const common = {
            summary: f.summary,
            ...(f.char === undefined ? {} : { char: f.char as Char }),
            ...(f.env === undefined ? {} : { env: f.env }),
            ...(f.hidden ? { hidden: true } : {}),
            ...(f.helpGroup === undefined ? {} : { helpGroup: f.helpGroup }),
        }
        if (f.type === "boolean") {
            out[name] = Flags.boolean({ ...common, ...(f.default === undefined ? {} : { default: Boolean(f.default) }) })
        } else if (f.type === "integer") {
            out[name] = Flags.integer({ ...common, ...(f.default === undefined ? {} : { default: Number(f.default) }) })
        } else if (f.multiple) {
            out[name] = Flags.string({
                ...common,
                multiple: true,
                multipleNonGreedy: true,
                ...(f.options === undefined ? {} : { options: [...f.options] }),
            })
        } else {
            out[name] = Flags.string({
                ...common,
                ...(f.options === undefined ? {} : { options: [...f.options] }),
                ...(f.default === undefined ? {} : { default: String(f.default) }),
            })
        }
    }
    return out
}

/** The process's standard streams and environment. */
export function processIo(root: URL): CommandIo {
    return {
        root,
        env: process.env,
        cwd: process.cwd(),
        get stdin() {
            return process.stdin
        },
        stdout: process.stdout,
        stderr: process.stderr,
    }
}

/**
 * Build the oclif class for a command spec. Parse errors become {@link UsageError}s (exit 1, like sops); every
 * error is printed by `renderError` and sets `process.exitCode`.
 */
export function defineCommand(spec: CommandSpec): typeof Command {
    const args: Record<string, ReturnType<typeof Args.string>> = {}
    for (const a of spec.args) args[a.name] = Args.string({
            description: a.summary,
            required: a.required ?? false,
            ...(a.options === undefined ? {} : { options: [...a.options] }),
        })

    class SpecCommand extends Command {
        static override summary = spec.summary
        static override description = spec.description
        static override examples = spec.examples.map((e) => ({ description: e.description, command: e.command }))
        static override flags = toOclifFlags(spec.flags)
        static override args = args
        static override strict = !spec.variadic
        static override aliases = [...(spec.aliases ?? [])]

        async run(): Promise<void> {
            let parsed: { flags: Record<string, unknown>; argv: unknown[] }
            try {
                parsed = await this.parse(SpecCommand)
            } catch (error) {
                if (error instanceof KsopsError) throw error
                const message = error instanceof Error ? error.message.split("\n")[0] : String(error)
                throw new UsageError(lowerFirst(message ?? ""), { hint: `see \`kubectl sops ${spec.id} --help\`` })
            }
            const code = await spec.run(
                { flags: parsed.flags as ParsedFlags, argv: parsed.argv.map(String) },
                processIo(pathToFileURL(`${this.config.root}/`)),
            )
            process.exitCode = code
        }

        override async catch(error: Error & { exitCode?: number }): Promise<void> {
            const rendered = renderError(error, process.env.KUBECTL_SOPS_DEBUG === "1")
            process.stderr.write(rendered.text)
            process.exitCode = rendered.exitCode
        }
    }
    return SpecCommand
}

function lowerFirst(s: string): string {
    return s.charAt(0).toLowerCase() + s.slice(1)
}
