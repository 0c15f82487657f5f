import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { FormatError } from "../../src/errors.js"
import { Branch } from "../../src/sops/tree.js"
import { allowedAliasRatio } from "../../src/stores/yaml/parser.js"
import { YamlStore } from "../../src/stores/yaml.js"

const store = new YamlStore()
const load = (text: string) => store.loadPlain(Buffer.from(text))

/** A billion-laughs file: `levels` anchors, each a list of `fan` aliases of the one before (fan^levels leaves). */
function aliasBomb(levels: number, fan = 10): string {
    const name = (i: number) => (i < 26 ? String.fromCharCode(97 + i) : `n${i}`)
    const lines = [`a: &a [${Array(fan).fill("x").join(",")}]`]
    for (let i = 1; i < levels; i++) lines.push(`${name(i)}: &${name(i)} [${Array(fan).fill(`*${name(i - 1)}`).join(",")}]`)
    return `${lines.join("\n")}\n`
}

function leaves(v: unknown): number {
    if (v instanceof Branch) return v.items.reduce((n, i) => n + leaves(i.value), 0)
    if (Array.isArray(v)) return v.reduce((n: number, e) => n + leaves(e), 0)
    return 1
}

describe("YAML aliases", () => {
    it("refuses a 400-byte alias bomb as go-yaml v3 does (finding: filestatus ran out of memory)", () => {
        const bomb = aliasBomb(9)
        expect(bomb.length).toBeLessThan(400)
        expect(() => load(bomb)).toThrow(FormatError)
        expect(() => load(bomb)).toThrow("Error unmarshaling input YAML: yaml: document contains excessive aliasing")
        // block style and mapping keys too
        const block = ["a: &a", ...Array(10).fill("  - x"), "b: &b", ...Array(10).fill("  - *a"), "c: &c", ...Array(10).fill("  - *b"), "d: &d", ...Array(10).fill("  - *c"), "e: &e", ...Array(10).fill("  - *d"), "f: &f", ...Array(10).fill("  - *e"), "g: &g", ...Array(10).fill("  - *f")]
        expect(() => load(`${block.join("\n")}\n`)).toThrow(/excessive aliasing/)
    }, 10_000)

    it("expands the aliases go-yaml allows", () => {
        // 100 alias-copied nodes are always allowed; so is a ratio up to 99% in small documents
        expect(leaves(load(aliasBomb(3))[0])).toBe(10 + 100 + 1000)
        expect(leaves(load(`x: &x ${JSON.stringify(Array(50).fill("v"))}\n${Array.from({ length: 100 }, (_, i) => `k${i}: *x`).join("\n")}\n`)[0])).toBe(50 * 101)
        // the count restarts with each document
        expect(load(`${aliasBomb(3)}---\n${aliasBomb(3)}`)).toHaveLength(2)
    })

    it("allows go-yaml's alias ratio: 99% up to 400,000 nodes, 10% from 4,000,000, linear in between", () => {
        expect(allowedAliasRatio(1000)).toBe(0.99)
        expect(allowedAliasRatio(400_000)).toBe(0.99)
        expect(allowedAliasRatio(2_200_000)).toBeCloseTo(0.545, 10)
        expect(allowedAliasRatio(4_000_000)).toBe(0.1)
        expect(allowedAliasRatio(9_000_000)).toBe(0.1)
    })

    it("bombs of any shape stop early with the same error", () => {
        fc.assert(
            fc.property(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 2, max: 64 }), (fan, levels) => {
                let text: string
                try {
                    text = aliasBomb(levels, fan)
                    const docs = load(text)
                    // accepted: then the expansion was small, as go-yaml would allow
                    expect(leaves(docs[0])).toBeLessThan(2_000_000)
                } catch (e) {
                    expect(e).toBeInstanceOf(FormatError)
                    expect((e as Error).message).toBe("Error unmarshaling input YAML: yaml: document contains excessive aliasing")
                }
            }),
            { numRuns: 200, interruptAfterTimeLimit: 8_000 },
        )
    }, 10_000)

    it("random and adversarial inputs of bounded size parse or fail with a FormatError", () => {
        const token = fc.constantFrom("a", "b: ", "- ", "&a ", "&b ", "*a", "*b", "[", "]", "{", "}", ", ", ": ", "\n", "  ", "#c", '"q', "'s'", "? ", "---\n", "!!str ", "|\n", ">-\n", "\\", "\t")
        fc.assert(
            fc.property(fc.array(token, { maxLength: 60 }), (parts) => {
                try {
                    load(parts.join(""))
                } catch (e) {
                    expect(e).toBeInstanceOf(FormatError)
                }
            }),
            { numRuns: 3000, interruptAfterTimeLimit: 8_000 },
        )
    }, 10_000)
})
