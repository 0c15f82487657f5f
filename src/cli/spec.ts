/**
 * Command specifications: the single source of truth for a command's flags, arguments, help text and behaviour.
 *
 * Both entry points use the same {@link CommandSpec}: the oclif command classes in `src/commands/` (help,
 * manifest, completion) and the fast path in `src/cli/main.ts`, which parses with `node:util` `parseArgs` and
 * never loads oclif. This module has no runtime dependencies.
 */

/** One flag. Mirrors the subset of oclif's flag options kubectl-sops uses. */
export interface FlagSpec {
    /** `boolean` (no value), `string`, or `integer` (a base-10 number). */
    readonly type: "boolean" | "string" | "integer"
    /** One-letter alias (`-i`). */
    readonly char?: string
    /** One line for `--help`. */
    readonly summary: string
    /** May be given several times; the values are collected in order. */
    readonly multiple?: boolean
    /** Environment variable that supplies the value when the flag is absent. */
    readonly env?: string
    /** Allowed values. */
    readonly options?: readonly string[]
    /** Default value when neither the flag nor its environment variable is given. */
    readonly default?: string | number | boolean
    /** Not shown in help. */
    readonly hidden?: boolean
    /** Section of the help output. */
    readonly helpGroup?: string
}

/** One positional argument. */
export interface ArgSpec {
    readonly name: string
    readonly summary: string
    readonly required?: boolean
    /** Allowed values. */
    readonly options?: readonly string[]
}

/** A help example: the command line is written as the user types it (`kubectl sops …`). */
export interface ExampleSpec {
    readonly description: string
    readonly command: string
}

/** Flag values after parsing: strings, numbers, booleans or lists of strings, absent when not given. */
export type ParsedFlags = Record<string, string | number | boolean | string[] | undefined>

/** The result of parsing a command line. */
export interface Parsed {
    readonly flags: ParsedFlags
    /** All positional arguments, in order. */
    readonly argv: readonly string[]
}

/** What a command may use from the outside world. */
export interface CommandIo {
    /** The package root (folder of package.json and oclif.manifest.json). */
    readonly root: URL
    readonly env: Readonly<Record<string, string | undefined>>
    readonly cwd: string
    /** A getter in practice: `process.stdin` is created on first access, which costs startup time. */
    readonly stdin: NodeJS.ReadStream
    readonly stdout: NodeJS.WriteStream
    /**
     * When set, results go straight to this file descriptor with blocking writes instead of through
     * {@link stdout}: creating `process.stdout` costs about 5 ms of startup. The bin sets 1.
     */
    readonly stdoutFd?: number
    readonly stderr: NodeJS.WriteStream
}

/** A command: help metadata, flags, arguments and its run function. */
export interface CommandSpec {
    /** Command id (`encrypt`, `completion`). */
    readonly id: string
    readonly summary: string
    readonly description?: string
    readonly examples: readonly ExampleSpec[]
    readonly flags: Readonly<Record<string, FlagSpec>>
    readonly args: readonly ArgSpec[]
    /** Other ids for the same command (`create ks` for `create kustomization`). */
    readonly aliases?: readonly string[]
    /** More positional arguments than {@link args} are allowed (several files). */
    readonly variadic?: boolean
    /**
     * Run the command.
     * @returns the process exit status (0 on success).
     * @throws KsopsError, mapped to an exit status by `src/cli/exit-codes.ts`.
     */
    run(parsed: Parsed, io: CommandIo): Promise<number>
}
