import { parse as oclifParse } from "@oclif/core/parser"
import { Args } from "@oclif/core"
import { afterEach, describe, expect, it } from "vitest"
import { FAST_COMMANDS } from "../../src/cli/main.js"
import { toOclifFlags } from "../../src/cli/oclif-command.js"
import { parseCommandLine } from "../../src/cli/parse.js"
import type { CommandSpec, Parsed, ParsedFlags } from "../../src/cli/spec.js"
import { UsageError } from "../../src/errors.js"

async function specs(): Promise<CommandSpec[]> {
    return Promise.all(Object.values(FAST_COMMANDS).map((load) => load()))
}

function clean(flags: Record<string, unknown>): ParsedFlags {
    return Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) as ParsedFlags
}

async function viaOclif(spec: CommandSpec, argv: string[]): Promise<Parsed> {
    const args: Record<string, ReturnType<typeof Args.string>> = {}
    for (const a of spec.args) args[a.name] = Args.string({ required: false })
    const out = await oclifParse(argv, { flags: toOclifFlags(spec.flags), args, strict: !spec.variadic })
    return { flags: clean(out.flags), argv: out.argv.map(String) }
}

function viaFast(spec: CommandSpec, argv: string[]): Parsed {
    const out = parseCommandLine(spec, argv, process.env)
    return { flags: clean(out.flags), argv: out.argv }
}

/** Command lines that use every flag of a spec, in several spellings. */
function samples(spec: CommandSpec): string[][] {
    const lines: string[][] = []
    const files = spec.args.map((a, i) => (a.options ? a.options[0] : `file${i}.yaml`))
    const every: string[] = []
    const alt: string[] = []
    for (const [name, f] of Object.entries(spec.flags)) {
        const value = f.options ? f.options[1] ?? f.options[0] : f.type === "integer" ? "3" : `v-${name}`
        if (f.type === "boolean") {
            every.push(`--${name}`)
            if (f.char) alt.push(`-${f.char}`)
        } else {
            every.push(`--${name}`, value)
            alt.push(f.char ? `-${f.char}` : `--${name}=${value}`, ...(f.char ? [value] : []))
            if (f.multiple) every.push(`--${name}=${value}-2`)
        }
    }
    lines.push([...every, ...files], [...files, ...alt], [...alt, ...files], files)
    return lines
}

describe("fast-path parser", () => {
    afterEach(() => {
        delete process.env.SOPS_CONFIG
        delete process.env.SOPS_DECRYPTION_ORDER
    })

    it("gives the same flags and arguments as oclif's parser for every command", async () => {
        for (const spec of await specs()) {
            for (const argv of samples(spec)) {
                expect(viaFast(spec, argv), `${spec.id} ${argv.join(" ")}`).toEqual(await viaOclif(spec, argv))
            }
        }
    })

    it("reads env fallbacks like oclif", async () => {
        process.env.SOPS_CONFIG = "/tmp/config.yaml"
        process.env.SOPS_DECRYPTION_ORDER = "pgp,age"
        const spec = await FAST_COMMANDS.decrypt()
        const fast = viaFast(spec, ["x.yaml"])
        expect(fast.flags.config).toBe("/tmp/config.yaml")
        expect(fast.flags["decryption-order"]).toBe("pgp,age")
        expect(fast).toEqual(await viaOclif(spec, ["x.yaml"]))
        expect(viaFast(spec, ["--config", "c.yaml", "x.yaml"]).flags.config).toBe("c.yaml")
    })

    it("rejects unknown flags, bad options and extra arguments as usage errors", async () => {
        const decrypt = await FAST_COMMANDS.decrypt()
        const set = await FAST_COMMANDS.set()
        expect(() => viaFast(decrypt, ["--nope", "x.yaml"])).toThrow(UsageError)
        expect(() => viaFast(decrypt, ["--input-type", "xml", "x.yaml"])).toThrow(/one of/)
        expect(() => viaFast(set, ["a", "b", "c", "d"])).toThrow(/unexpected argument/)
        expect(() => viaFast(set, ["a"])).toThrow(/missing required argument path/)
        expect(() => viaFast(decrypt, ["--output"])).toThrow(UsageError)
    })
})
