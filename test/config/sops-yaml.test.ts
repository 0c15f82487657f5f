import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { creationRuleFor, findConfig, findConfigPath, keyGroupFromSpecs, keySpecsFrom, loadConfig, matchRule } from "../../src/config/sops-yaml.js"
import { itShared, vectorsDir } from "../conformance-data.js"

const VECTORS = vectorsDir
const AGE1 = "age1nk4cruyky3f4gnmey70r5n36nwqwgd9m2k6vp6qpp4aymv386u4qzccp8u"
const AGE2 = "age16tl3fs6th8wdt02k9dkx37w6sz0fjctpz3dnq7wt2ea4c0rv9evqkhrnk3"
const FP = "EE1E8CF37CFC50776EF383589CC3EF7A23419576"

function tree(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), "ksops-config-"))
    for (const [p, text] of Object.entries(files)) {
        mkdirSync(join(root, p, ".."), { recursive: true })
        writeFileSync(join(root, p), text)
    }
    return root
}

describe(".sops.yaml discovery", () => {
    it("uses the nearest config at or above the file's folder, then the cwd search", () => {
        const root = tree({
            ".sops.yaml": `creation_rules:\n  - age: ${AGE1}\n`,
            "clusters/prod/.sops.yaml": `creation_rules:\n  - age: ${AGE2}\n`,
            "clusters/prod/secret.yaml": "a: b\n",
            "clusters/dev/secret.yaml": "a: b\n",
        })
        expect(findConfigPath("clusters/prod/secret.yaml", { cwd: root })).toBe(join(root, "clusters/prod/.sops.yaml"))
        expect(findConfigPath("clusters/dev/secret.yaml", { cwd: root })).toBe(join(root, ".sops.yaml"))
        expect(findConfigPath(undefined, { cwd: join(root, "clusters/prod") })).toBe(join(root, "clusters/prod/.sops.yaml"))
        expect(findConfigPath("clusters/dev/secret.yaml", { cwd: root, explicit: "x.yaml" })).toBe(join(root, "x.yaml"))
    })

    itShared("matches path_regex against the path relative to the config's folder; first match wins", async () => {
        const dir = join(VECTORS, "sops-3.13.2/creation-rules")
        const cfg = findConfig(join(dir, "clusters/cluster0/secret.yaml"), { cwd: dir })!
        const r0 = await creationRuleFor(cfg, "clusters/cluster0/secret.yaml", dir)
        expect(r0?.keyGroups).toEqual([[{ type: "age", params: { recipient: AGE1 }, enc: "" }]])
        expect(r0?.selection).toEqual({ encryptedRegex: "^(data|stringData)$" })
        const r1 = await creationRuleFor(cfg, join(dir, "clusters/cluster1/secret.yaml"), "/")
        expect(r1?.keyGroups[0].map((k) => k.params)).toEqual([{ fp: FP }])
        const r2 = await creationRuleFor(cfg, "apps/app.env", dir)
        expect(r2?.keyGroups[0].map((k) => k.params)).toEqual([{ recipient: AGE2 }])
        await expect(creationRuleFor(cfg, "other/file.yaml", dir)).rejects.toThrow("error loading config: no matching creation rules found")
    })

    itShared("reads key groups, shamir_threshold and comma/folded key lists", async () => {
        const kg = loadConfig(join(VECTORS, "sops-3.13.2/key-groups/.sops.yaml"))
        const rule = await creationRuleFor(kg, "plain.yaml", kg.dir)
        expect(rule?.shamirThreshold).toBe(2)
        expect(rule?.keyGroups.map((g) => g.map((k) => k.type))).toEqual([["age"], ["age", "pgp"], ["age"]])
        const folded = loadConfig(join(VECTORS, "sops-repo/repo-root.sops.yaml"))
        const r = await creationRuleFor(folded, "x.yaml", folded.dir)
        expect(r?.keyGroups[0].map((k) => k.params.fp)).toEqual(["FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4", "D7229043384BCC60326C6FB9D8720D957C3D3074"])
        const both = loadConfig(join(VECTORS, "sops-3.13.2/secret-age-pgp/.sops.yaml"))
        const rb = await creationRuleFor(both, "plain.yaml", both.dir)
        expect(rb?.keyGroups[0].map((k) => k.type)).toEqual(["age", "age", "pgp"])
    })

    itShared("gives sops' functional-test rules the groups sops makes (empty groups refuse later)", async () => {
        const cfg = loadConfig(join(VECTORS, "sops-repo/functional-tests/.sops.yaml"))
        const groups = async (f: string) => (await creationRuleFor(cfg, f, cfg.dir))?.keyGroups
        expect((await groups("test_roundtrip_keygroups.yaml"))?.length).toBe(2)
        expect(await groups("test_no_keygroups.yaml")).toEqual([[]])
        expect(await groups("test_zero_keygroups.yaml")).toEqual([[]])
        expect(await groups("test_empty_keygroup.yaml")).toEqual([[]])
        expect((await groups("anything.yaml"))?.[0][0].params).toEqual({ fp: "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4" })
    })

    it("supports merge in key groups (merged keys first, deduplicated)", async () => {
        const root = tree({
            ".sops.yaml": `creation_rules:\n  - key_groups:\n      - age: [${AGE2}]\n        merge:\n          - age: [${AGE1}, ${AGE2}]\n`,
        })
        const cfg = loadConfig(join(root, ".sops.yaml"))
        const rule = await creationRuleFor(cfg, "a.yaml", root)
        expect(rule?.keyGroups[0].map((k) => k.params.recipient)).toEqual([AGE1, AGE2])
    })

    it("refuses two selection options in one rule, bad YAML and bad regexes with the file named", async () => {
        const root = tree({
            "two.yaml": `creation_rules:\n  - age: ${AGE1}\n    encrypted_regex: a\n    unencrypted_suffix: b\n`,
            "bad.yaml": "creation_rules:\n  - age: [\n",
            "re.yaml": "creation_rules:\n  - path_regex: '('\n    age: x\n",
        })
        await expect(creationRuleFor(loadConfig(join(root, "two.yaml")), "a.yaml", root)).rejects.toThrow(/cannot use more than one of encrypted_suffix/)
        expect(() => loadConfig(join(root, "bad.yaml"))).toThrow(/bad\.yaml/)
        expect(() => matchRule(loadConfig(join(root, "re.yaml")), "a.yaml", root)).toThrow("can not compile regexp: error parsing regexp: missing closing ): `(`")
        try {
            matchRule(loadConfig(join(root, "re.yaml")), "a.yaml", root)
        } catch (e) {
            expect((e as { hint?: string }).hint).toContain("re.yaml")
        }
    })

    it("matches path_regex with Go's RE2 in linear time (finding: ^(a+)+$ hung on a long file name)", () => {
        const root = tree({ ".sops.yaml": `creation_rules:\n  - path_regex: ^(a+)+$\n    age: ${AGE1}\n  - age: ${AGE2}\n` })
        const config = loadConfig(join(root, ".sops.yaml"))
        // 5,000 characters: a backtracking engine would need about 2^5000 steps
        expect(matchRule(config, join(root, `${"a".repeat(5_000)}.yaml`), root)?.age).toBe(AGE2)
        expect(matchRule(config, join(root, "a".repeat(5_000)), root)?.age).toBe(AGE1)
        // Go-only syntax works as in sops
        const go = tree({ ".sops.yaml": `creation_rules:\n  - path_regex: (?i)^(?P<env>PROD)/.*\\z\n    age: ${AGE1}\n` })
        expect(matchRule(loadConfig(join(go, ".sops.yaml")), join(go, "prod/s.yaml"), go)?.age).toBe(AGE1)
        rmSync(root, { recursive: true, force: true })
        rmSync(go, { recursive: true, force: true })
    }, 10_000)

    it("refuses a selection regex Go refuses, with Go's message", async () => {
        const root = tree({ ".sops.yaml": `creation_rules:\n  - encrypted_regex: (?=data)\n    age: ${AGE1}\n` })
        await expect(creationRuleFor(loadConfig(join(root, ".sops.yaml")), "a.yaml", root)).rejects.toThrow(
            "error loading config: invalid encrypted_regex: error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
        )
        rmSync(root, { recursive: true, force: true })
    })

    it("takes keys from flags, then the environment, in sops' flag order", async () => {
        const specs = keySpecsFrom({ age: [`${AGE1},${AGE2}`] }, { SOPS_PGP_FP: FP, SOPS_AGE_RECIPIENTS: "ignored" })
        expect(specs).toEqual({ age: [AGE1, AGE2], pgp: [FP] })
        const group = await keyGroupFromSpecs(specs)
        expect(group?.map((k) => k.type)).toEqual(["pgp", "age", "age"])
        expect(await keyGroupFromSpecs({})).toBeUndefined()
        await expect(keyGroupFromSpecs({ age: ["not-a-recipient"] })).rejects.toThrow(/age/)
    })
})
