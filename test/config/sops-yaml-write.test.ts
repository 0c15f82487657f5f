import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { creationRuleFrom, matchRule, parseConfig } from "../../src/config/sops-yaml.js"
import { mergeCreationRule, mergePublicKeyFile, publicKeyFileName, type RuleToAdd } from "../../src/config/sops-yaml-write.js"

const AGE1 = "age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u"
const AGE2 = "age16tl3fs6th8wdt02k9dkx37w6sz0fjctpz3dnq7wt2ea4c0rv9evqkhrnk3"
const FP = "EE1E8CF37CFC50776EF383589CC3EF7A23419576"
const FP2 = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
const VAULT = "https://vault.example.com:8200/v1/sops/keys/firstkey"
const GUIDE: RuleToAdd = { path_regex: ".*.yaml", encrypted_regex: "^(data|stringData)$" }

const parse = (text: string) => parseConfig("/repo/.sops.yaml", Buffer.from(text))

/** The keys (type → ids) of the rule the project's own reader picks for `file`. */
async function keysFor(text: string, file: string): Promise<{ keys: Record<string, string[]>; selection: unknown; groups: number }> {
    const cfg = parse(text)
    const rule = matchRule(cfg, file, "/repo")
    if (!rule) throw new Error("no rule")
    const r = await creationRuleFrom(rule)
    const keys: Record<string, string[]> = {}
    for (const e of r.keyGroups[0]) {
        const p = e.params as Record<string, string>
        const id = e.type === "age" ? p.recipient : e.type === "pgp" ? p.fp : JSON.stringify(p)
        keys[e.type] = [...(keys[e.type] ?? []), id]
    }
    return { keys, selection: r.selection, groups: r.keyGroups.length }
}

describe("mergeCreationRule: new file", () => {
    it("writes the Flux guide's .sops.yaml with a header (age and pgp)", async () => {
        const age = mergeCreationRule(undefined, { ...GUIDE, age: [AGE1] })
        expect(age.changed).toBe(true)
        expect(age.note).toBeUndefined()
        expect(age.text).toMatch(/^# Written by kubectl sops bootstrap/)
        expect(age.text.endsWith(`creation_rules:\n  - path_regex: .*.yaml\n    encrypted_regex: ^(data|stringData)$\n    age: ${AGE1}\n`)).toBe(true)
        const k = await keysFor(age.text, "clusters/prod/secret.yaml")
        expect(k.keys).toEqual({ age: [AGE1] })
        expect(k.selection).toEqual({ encryptedRegex: "^(data|stringData)$" })
        const pgp = mergeCreationRule("", { ...GUIDE, pgp: [FP] })
        expect(pgp.text).toContain(`    pgp: ${FP}\n`)
        expect((await keysFor(pgp.text, "a.yaml")).keys).toEqual({ pgp: [FP] })
    })

    it("comma-joins several keys as sops accepts", async () => {
        const r = mergeCreationRule(undefined, { ...GUIDE, age: [AGE1, AGE2, AGE1], pgp: [FP], hc_vault_transit_uri: [VAULT] })
        expect(r.text).toContain(`    age: ${AGE1},${AGE2}\n    pgp: ${FP}\n    hc_vault_transit_uri: ${VAULT}\n`)
        // hc_vault keys are not loadable yet: check the raw rule
        expect(matchRule(parse(r.text), "x.yaml", "/repo")).toEqual({
            path_regex: ".*.yaml",
            encrypted_regex: "^(data|stringData)$",
            age: `${AGE1},${AGE2}`,
            pgp: FP,
            hc_vault_transit_uri: VAULT,
        })
    })

    it("quotes values that would not read back as the same string", async () => {
        const r = mergeCreationRule(undefined, { path_regex: "[a-z]+/.*\\.yaml$", encrypted_regex: "# x", age: [AGE1] })
        expect(r.text).toContain("path_regex: '[a-z]+/.*\\.yaml$'")
        const rule = matchRule(parse(r.text), "ab/c.yaml", "/repo")
        expect(rule?.path_regex).toBe("[a-z]+/.*\\.yaml$")
        expect(rule?.encrypted_regex).toBe("# x")
    })

    it("keeps a file of comments and appends creation_rules", () => {
        const r = mergeCreationRule("# my config\n", { ...GUIDE, age: [AGE1] })
        expect(r.text.startsWith("# my config\ncreation_rules:\n  - path_regex: .*.yaml\n")).toBe(true)
        expect(r.text).not.toContain("Written by")
    })
})

describe("mergeCreationRule: existing file", () => {
    const commented = `# team config
stores:
    yaml:
        indent: 2 # two

creation_rules:
    # prod first
    - path_regex: prod/.*\\.yaml$
      encrypted_regex: ^(data|stringData)$
      pgp: ${FP2}   # ops key
    # everything else
    - path_regex: .*.yaml
      encrypted_regex: ^(data|stringData)$
      age: ${AGE2} # dev
# end
`

    it("adds a missing key to the rule with the same path_regex, keeping every comment and the style", async () => {
        const r = mergeCreationRule(commented, { ...GUIDE, age: [AGE1] })
        expect(r.changed).toBe(true)
        expect(r.note).toBeUndefined()
        expect(r.text).toBe(commented.replace(`age: ${AGE2} # dev`, `age: ${AGE2},${AGE1} # dev`))
        expect((await keysFor(r.text, "dev/s.yaml")).keys).toEqual({ age: [AGE2, AGE1] })
        expect((await keysFor(r.text, "prod/s.yaml")).keys).toEqual({ pgp: [FP2] })
        expect(parse(r.text).stores).toEqual({ yamlIndent: 2 })
    })

    it("adds a new key field under the rule at its indentation", async () => {
        const r = mergeCreationRule(commented, { ...GUIDE, pgp: [FP] })
        expect(r.text).toBe(commented.replace(`age: ${AGE2} # dev\n`, `age: ${AGE2} # dev\n      pgp: ${FP}\n`))
        expect((await keysFor(r.text, "dev/s.yaml")).keys).toEqual({ age: [AGE2], pgp: [FP] })
    })

    it("is idempotent: a second merge changes nothing and returns the same text", () => {
        const once = mergeCreationRule(commented, { ...GUIDE, age: [AGE1], pgp: [FP] })
        const twice = mergeCreationRule(once.text, { ...GUIDE, age: [AGE1], pgp: [FP.toLowerCase()] })
        expect(twice).toEqual({ text: once.text, changed: false })
        const fresh = mergeCreationRule(undefined, { ...GUIDE, age: [AGE1] })
        expect(mergeCreationRule(fresh.text, { ...GUIDE, age: [AGE1] })).toEqual({ text: fresh.text, changed: false })
    })

    it("inserts a new rule FIRST, before the comments of the current first rule, and says so", async () => {
        const r = mergeCreationRule(commented, { path_regex: "staging/.*", encrypted_regex: "^(data|stringData)$", age: [AGE1] })
        expect(r.text).toBe(
            commented.replace(
                "    # prod first\n",
                `    - path_regex: staging/.*\n      encrypted_regex: ^(data|stringData)$\n      age: ${AGE1}\n    # prod first\n`,
            ),
        )
        expect(r.note).toMatch(/comes first .* takes precedence over the 2 existing rules/)
        expect((await keysFor(r.text, "staging/a.yaml")).keys).toEqual({ age: [AGE1] })
        expect((await keysFor(r.text, "prod/a.yaml")).keys).toEqual({ pgp: [FP2] })
    })

    it("adds to block lists in their indentation, and to flow lists", async () => {
        const block = `creation_rules:\n- path_regex: .*.yaml\n  age:\n  - ${AGE2} # a\n  pgp:\n      - ${FP2}\n`
        const r = mergeCreationRule(block, { ...GUIDE, age: [AGE1], pgp: [FP] })
        expect(r.text).toBe(`creation_rules:\n- path_regex: .*.yaml\n  age:\n  - ${AGE2} # a\n  - ${AGE1}\n  pgp:\n      - ${FP2}\n      - ${FP}\n`)
        expect((await keysFor(r.text, "a.yaml")).keys).toEqual({ age: [AGE2, AGE1], pgp: [FP2, FP] })
        const flow = `creation_rules:\n  - path_regex: .*.yaml\n    age: [${AGE2}]\n    pgp: []\n`
        const f = mergeCreationRule(flow, { ...GUIDE, age: [AGE1], pgp: [FP] })
        expect(f.text).toBe(`creation_rules:\n  - path_regex: .*.yaml\n    age: [${AGE2}, "${AGE1}"]\n    pgp: ["${FP}"]\n`)
        expect((await keysFor(f.text, "a.yaml")).keys).toEqual({ age: [AGE2, AGE1], pgp: [FP] })
    })

    it("adds a new field as a list when the rule already uses lists", async () => {
        const text = `creation_rules:\n  - path_regex: .*.yaml\n    pgp:\n      - ${FP2}\n`
        const r = mergeCreationRule(text, { ...GUIDE, age: [AGE1] })
        expect(r.text).toBe(`${text}    age:\n      - ${AGE1}\n`)
        expect((await keysFor(r.text, "a.yaml")).keys).toEqual({ age: [AGE1], pgp: [FP2] })
    })

    it("appends to quoted comma strings inside the quotes", async () => {
        const text = `creation_rules:\n  - path_regex: .*.yaml\n    age: '${AGE2}'\n    pgp: "${FP2}"\n`
        const r = mergeCreationRule(text, { ...GUIDE, age: [AGE1], pgp: [FP] })
        expect(r.text).toBe(`creation_rules:\n  - path_regex: .*.yaml\n    age: '${AGE2},${AGE1}'\n    pgp: "${FP2},${FP}"\n`)
        expect((await keysFor(r.text, "a.yaml")).keys).toEqual({ age: [AGE2, AGE1], pgp: [FP2, FP] })
    })

    it("fills an empty key field", async () => {
        const text = `creation_rules:\n  - path_regex: .*.yaml\n    age:\n    pgp: ~\n`
        const r = mergeCreationRule(text, { ...GUIDE, age: [AGE1], pgp: [FP] })
        expect((await keysFor(r.text, "a.yaml")).keys).toEqual({ age: [AGE1], pgp: [FP] })
        expect(r.text).toBe(`creation_rules:\n  - path_regex: .*.yaml\n    age: ${AGE1}\n    pgp: ${FP}\n`)
    })

    it("adds the key to the first key group when the rule uses key_groups", async () => {
        const text = `creation_rules:\n  - path_regex: .*.yaml\n    key_groups:\n      - pgp:\n          - ${FP2}\n      - age:\n          - ${AGE2}\n    shamir_threshold: 2\n`
        const r = mergeCreationRule(text, { ...GUIDE, age: [AGE1], pgp: [FP2] })
        expect(r.text).toBe(
            `creation_rules:\n  - path_regex: .*.yaml\n    key_groups:\n      - pgp:\n          - ${FP2}\n        age:\n          - ${AGE1}\n      - age:\n          - ${AGE2}\n    shamir_threshold: 2\n`,
        )
        const rule = await creationRuleFrom(matchRule(parse(r.text), "a.yaml", "/repo")!)
        expect(rule.keyGroups.map((g) => g.map((e) => e.type))).toEqual([["age", "pgp"], ["age"]])
        expect(rule.shamirThreshold).toBe(2)
        expect(r.note).toMatch(/has no encrypted_regex/)
        expect(mergeCreationRule(r.text, { age: [AGE1], path_regex: ".*.yaml" }).changed).toBe(false)
    })

    it("keeps CRLF line endings and a missing final line break", async () => {
        const text = `# c\r\ncreation_rules:\r\n  - path_regex: .*.yaml\r\n    age: ${AGE2}`
        const r = mergeCreationRule(text, { ...GUIDE, pgp: [FP] })
        expect(r.text).toBe(`${text}\r\n    pgp: ${FP}`)
        expect((await keysFor(r.text, "a.yaml")).keys).toEqual({ age: [AGE2], pgp: [FP] })
        const first = mergeCreationRule(text, { path_regex: "x/.*", age: [AGE1] })
        expect(first.text).toBe(`# c\r\ncreation_rules:\r\n  - path_regex: x/.*\r\n    age: ${AGE1}\r\n  - path_regex: .*.yaml\r\n    age: ${AGE2}`)
        expect(first.text.replace(/\r\n/g, "")).not.toContain("\n")
    })

    it("adds creation_rules to a file without it, and fills `creation_rules:` / `[]`", async () => {
        const stores = "stores:\n  yaml:\n    indent: 4\n"
        const r = mergeCreationRule(stores, { ...GUIDE, age: [AGE1] })
        expect(r.text).toBe(`${stores}creation_rules:\n  - path_regex: .*.yaml\n    encrypted_regex: ^(data|stringData)$\n    age: ${AGE1}\n`)
        const empty = mergeCreationRule("creation_rules: # none yet\n", { ...GUIDE, age: [AGE1] })
        expect(empty.text).toBe(`creation_rules: # none yet\n  - path_regex: .*.yaml\n    encrypted_regex: ^(data|stringData)$\n    age: ${AGE1}\n`)
        const flow = mergeCreationRule("creation_rules: []\n", { ...GUIDE, age: [AGE1] })
        expect(flow.text).toBe(`creation_rules: [{path_regex: ".*.yaml", encrypted_regex: "^(data|stringData)$", age: "${AGE1}"}]\n`)
        for (const t of [r.text, empty.text, flow.text]) expect((await keysFor(t, "a.yaml")).keys).toEqual({ age: [AGE1] })
    })

    it("reports an existing rule's different selection option and an earlier catch-all rule", () => {
        const text = `creation_rules:\n  - age: ${AGE2}\n  - path_regex: .*.yaml\n    unencrypted_regex: ^x$\n    age: ${AGE2}\n`
        const r = mergeCreationRule(text, { ...GUIDE, age: [AGE1] })
        expect(r.changed).toBe(true)
        expect(r.note).toMatch(/without path_regex .* never used/)
        expect(r.note).toMatch(/unencrypted_regex: \^x\$ \(left as it is/)
    })

    it("rejects text it cannot edit with a ConfigError", () => {
        expect(() => mergeCreationRule("creation_rules: [\n", GUIDE)).toThrow(/cannot update \.sops\.yaml/)
        expect(() => mergeCreationRule("- a\n", GUIDE)).toThrow(/not a block mapping/)
        expect(() => mergeCreationRule("creation_rules: x\n", GUIDE)).toThrow(/creation_rules is not a list/)
    })
})

describe("mergeCreationRule: properties", () => {
    const ageKey = fc.constantFrom(AGE1, AGE2, "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
    const pgpKey = fc.constantFrom(FP, FP2)
    const style = fc.constantFrom("comma", "block", "flow", "absent")
    const render = (name: string, keys: string[], s: string, indent: string): string => {
        if (s === "absent" || keys.length === 0) return ""
        if (s === "comma") return `${indent}${name}: ${keys.join(",")}\n`
        if (s === "flow") return `${indent}${name}: [${keys.join(", ")}]\n`
        return `${indent}${name}:\n${keys.map((k) => `${indent}  - ${k}\n`).join("")}`
    }

    it("after a merge, the project's reader picks a rule with every old and new key, and other rules are unchanged", async () => {
        await fc.assert(
            fc.asyncProperty(
                fc.uniqueArray(ageKey, { maxLength: 2 }),
                fc.uniqueArray(pgpKey, { maxLength: 2 }),
                style,
                style,
                fc.uniqueArray(ageKey, { minLength: 1, maxLength: 2 }),
                fc.uniqueArray(pgpKey, { maxLength: 1 }),
                fc.boolean(),
                fc.boolean(),
                async (oldAge, oldPgp, ageStyle, pgpStyle, newAge, newPgp, sameRegex, crlf) => {
                    const rule = `  - path_regex: ${sameRegex ? ".*.yaml" : "apps/.*"}\n${render("age", oldAge, ageStyle, "    ")}${render("pgp", oldPgp, pgpStyle, "    ")}    encrypted_regex: ^(data|stringData)$\n`
                    let text = `# c\ncreation_rules:\n${rule}  - path_regex: other/.*\n    age: ${AGE2}\n`
                    if (crlf) text = text.replace(/\n/g, "\r\n")
                    const add: RuleToAdd = { ...GUIDE, age: newAge, pgp: newPgp }
                    const r = mergeCreationRule(text, add)
                    const got = await keysFor(r.text, "apps/x.yaml")
                    const expectAge = sameRegex ? [...new Set([...(ageStyle === "absent" ? [] : oldAge), ...newAge])] : newAge
                    const expectPgp = sameRegex ? [...new Set([...(pgpStyle === "absent" ? [] : oldPgp), ...newPgp])] : newPgp
                    expect([...(got.keys.age ?? [])].sort()).toEqual(expectAge.sort())
                    expect([...(got.keys.pgp ?? [])].sort()).toEqual(expectPgp.sort())
                    expect(got.selection).toEqual({ encryptedRegex: "^(data|stringData)$" })
                    // the .*.yaml rule (merged or new, first) takes other/x.yaml too; other/x.txt keeps its rule
                    expect(await keysFor(r.text, "other/x.yaml")).toEqual(got)
                    expect((await keysFor(r.text, "other/x.txt")).keys).toEqual({ age: [AGE2] })
                    expect(r.text.startsWith(crlf ? "# c\r\n" : "# c\n")).toBe(true)
                    if (crlf) expect(r.text.replace(/\r\n/g, "")).not.toContain("\n")
                    // idempotent
                    expect(mergeCreationRule(r.text, add)).toEqual({ text: r.text, changed: false })
                },
            ),
            { numRuns: 150 },
        )
    })
})

describe("mergeCreationRule: more shapes", () => {
    it("edits a flow-mapping rule, a quoted path_regex, and a file with --- and blank lines", async () => {
        const flow = `creation_rules:\n  - {path_regex: '.*.yaml', age: ${AGE2}}\n`
        const f = mergeCreationRule(flow, { ...GUIDE, age: [AGE1], pgp: [FP] })
        expect(f.text).toBe(`creation_rules:\n  - {path_regex: '.*.yaml', age: "${AGE2},${AGE1}", pgp: "${FP}"}\n`)
        expect((await keysFor(f.text, "a.yaml")).keys).toEqual({ age: [AGE2, AGE1], pgp: [FP] })
        const doc = `---\n# rules\n\ncreation_rules:\n\n  - path_regex: '\\.enc\\.yaml$'\n    age: ${AGE2}\n\n# tail comment\n`
        const d = mergeCreationRule(doc, { path_regex: "\\.enc\\.yaml$", age: [AGE1] })
        expect(d.text).toBe(doc.replace(`age: ${AGE2}\n`, `age: ${AGE2},${AGE1}\n`))
        const first = mergeCreationRule(doc, { ...GUIDE, age: [AGE1] })
        expect(first.text).toBe(doc.replace("\n  - path_regex", `\n  - path_regex: .*.yaml\n    encrypted_regex: ^(data|stringData)$\n    age: ${AGE1}\n  - path_regex`))
        expect((await keysFor(first.text, "x.enc.yaml")).keys).toEqual({ age: [AGE1] })
    })

    it("adds after a block scalar, not after the line that follows it", async () => {
        const text = `creation_rules:\n  - path_regex: .*.yaml\n    age: >-\n      ${AGE2}\n\n  - path_regex: y/\n    pgp: ${FP2}\n`
        const r = mergeCreationRule(text, { ...GUIDE, pgp: [FP] })
        expect(r.text).toBe(text.replace(`${AGE2}\n`, `${AGE2}\n    pgp: ${FP}\n`))
        expect((await keysFor(r.text, "a.yaml")).keys).toEqual({ age: [AGE2], pgp: [FP] })
        const age = mergeCreationRule(text, { ...GUIDE, age: [AGE1] })
        expect(age.text).toBe(text.replace(`>-\n      ${AGE2}\n`, `${AGE2},${AGE1}\n`))
        expect((await keysFor(age.text, "a.yaml")).keys).toEqual({ age: [AGE2, AGE1] })
    })

    it("keeps other key types and options of the rule", async () => {
        const text = `creation_rules:\n  - path_regex: .*.yaml\n    kms: arn:aws:kms:us-east-1:123456789012:key/abc\n    aws_profile: prod\n    mac_only_encrypted: true\n`
        const r = mergeCreationRule(text, { ...GUIDE, age: [AGE1] })
        expect(r.text).toBe(`${text}    age: ${AGE1}\n`)
        const rule = matchRule(parse(r.text), "a.yaml", "/repo")
        expect(rule).toMatchObject({ kms: "arn:aws:kms:us-east-1:123456789012:key/abc", aws_profile: "prod", mac_only_encrypted: true, age: AGE1 })
    })

    it("never changes or drops an existing line with a comment (random comments and blank lines)", async () => {
        const comment = fc.constantFrom("", "# a", "  # b: c", "    # - d", "\n")
        await fc.assert(
            fc.asyncProperty(fc.array(comment, { minLength: 6, maxLength: 6 }), fc.boolean(), fc.boolean(), async (c, same, lists) => {
                const keys = lists ? `    age:\n      - ${AGE2}\n${c[3]}\n` : `    age: ${AGE2} ${c[3].trim().startsWith("#") ? c[3].trim() : ""}\n`
                const text = `${c[0]}\ncreation_rules:\n${c[1]}\n  - path_regex: ${same ? ".*.yaml" : "x/"}\n${c[2]}\n${keys}${c[4]}\n  - path_regex: y/\n    pgp: ${FP2}\n${c[5]}\n`
                const r = mergeCreationRule(text, { ...GUIDE, age: [AGE1] })
                const after = r.text.split("\n")
                let at = 0
                // comment lines stay as they are; a comment after a value stays at the end of its line
                for (const line of text.split("\n").filter((l) => l.includes("#"))) {
                    const whole = line.trim().startsWith("#")
                    const tail = line.slice(line.indexOf(" #"))
                    const found = after.findIndex((l, i) => i >= at && (whole ? l === line : l.endsWith(tail)))
                    expect(found, line).toBeGreaterThanOrEqual(0)
                    at = found + 1
                }
                expect((await keysFor(r.text, "x/a.yaml")).keys.age).toContain(AGE1)
                expect((await keysFor(r.text, "y/a.txt")).keys).toEqual({ pgp: [FP2] })
            }),
            { numRuns: 100 },
        )
    })
})

describe("public key files", () => {
    const ARMOR = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGXXXX\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"
    const ARMOR2 = ARMOR.replace("XXXX", "YYYY")

    it("names them like the Flux guide", () => {
        expect(publicKeyFileName("pgp")).toBe(".sops.pub.asc")
        expect(publicKeyFileName("age")).toBe(".sops.pub.age")
    })

    it("appends an age recipient line once", () => {
        const a = mergePublicKeyFile(undefined, AGE1, "age")
        expect(a).toEqual({ text: `${AGE1}\n`, changed: true })
        expect(mergePublicKeyFile(a.text, ` ${AGE1}`, "age")).toEqual({ text: a.text, changed: false })
        expect(mergePublicKeyFile(`# keys\n${AGE1}`, AGE2, "age").text).toBe(`# keys\n${AGE1}\n${AGE2}\n`)
    })

    it("appends an armored block once, with a blank line between blocks", () => {
        const a = mergePublicKeyFile(undefined, ARMOR, "pgp")
        expect(a).toEqual({ text: ARMOR, changed: true })
        expect(mergePublicKeyFile(a.text.replace(/\n/g, "\r\n"), ARMOR, "pgp").changed).toBe(false)
        const b = mergePublicKeyFile(a.text, ARMOR2, "pgp")
        expect(b.text).toBe(`${ARMOR}\n${ARMOR2}`)
        expect(mergePublicKeyFile(b.text, ARMOR2, "pgp").changed).toBe(false)
    })
})
