import { describe, expect, test } from "vitest"
import { parse } from "yaml"
import { FormatError } from "../../src/errors.js"
import { exportManifests, goKeyCompare, parseManifests, toKubeYaml } from "../../src/kube/yaml.js"

describe("toKubeYaml (sigs.k8s.io/yaml.Marshal)", () => {
    test("keys sorted at every level, 2-space indent, sequences not indented under their key", () => {
        expect(toKubeYaml({ spec: { sparseCheckout: [".cosign", "deploy"], interval: "1m0s" }, apiVersion: "v1", kind: "X" })).toBe(
            "apiVersion: v1\nkind: X\nspec:\n  interval: 1m0s\n  sparseCheckout:\n  - .cosign\n  - deploy\n",
        )
    })

    test("sequences of mappings and of sequences", () => {
        expect(toKubeYaml({ a: [{ name: "x", namespace: "y" }, [1, 2]] })).toBe("a:\n- name: x\n  namespace: \"y\"\n- - 1\n  - 2\n")
    })

    test("empty collections, null, booleans, numbers; undefined dropped like JSON", () => {
        expect(toKubeYaml({ a: {}, b: [], c: null, d: true, e: 1.5, f: 10, g: undefined, h: 1234567.5, i: 0.00001 })).toBe(
            "a: {}\nb: []\nc: null\nd: true\ne: 1.5\nf: 10\nh: 1.2345675e+06\ni: 1e-05\n",
        )
    })

    test.each([
        ["", '""'],
        ["true", '"true"'],
        ["yes", '"yes"'],
        ["on", '"on"'],
        ["n", '"n"'],
        ["Off", '"Off"'],
        ["1", '"1"'],
        ["1.5", '"1.5"'],
        ["0777", '"0777"'],
        ["0x1F", '"0x1F"'],
        ["1_000", '"1_000"'],
        ["1e3", '"1e3"'],
        [".5", '".5"'],
        ["null", '"null"'],
        ["~", '"~"'],
        ["2024-01-02", '"2024-01-02"'],
        ["1:30", '"1:30"'],
        ["a: b", "'a: b'"],
        ["- x", "'- x'"],
        ["it's #x", "'it''s #x'"],
        [" lead", "' lead'"],
        ["trail ", "'trail '"],
        ["#c", "'#c'"],
        ["*a", "'*a'"],
        ["%x", "'%x'"],
        ["@x", "'@x'"],
        ["`x", "'`x'"],
        ["{x", "'{x'"],
        ["---", "'---'"],
        ["a\tb", '"a\\tb"'],
        ["\u{1F600}", '"\\U0001F600"'],
        ["é", "é"],
        ["a:b", "a:b"],
        ["-x", "-x"],
        ["x#y", "x#y"],
        ["<<", "<<"],
        ["+", "+"],
        ["1m0s", "1m0s"],
        ["https://github.com/my-org/my-secrets", "https://github.com/my-org/my-secrets"],
        ["main@sha1:abc", "main@sha1:abc"],
    ])("scalar %j → %s", (input, expected) => {
        expect(toKubeYaml({ k: input })).toBe(`k: ${expected}\n`)
        // and it reads back as the same string (YAML 1.1 rules for the go-yaml specials are stricter than 1.2)
        expect(parse(toKubeYaml({ k: input }), { version: "1.1" }).k).toBe(input)
    })

    test("multi-line strings: |- without a final newline, | with one, deeper indent", () => {
        expect(toKubeYaml({ spec: { ignore: "/*\n!/deploy" } })).toBe("spec:\n  ignore: |-\n    /*\n    !/deploy\n")
        expect(toKubeYaml({ a: "x\n\ny\n" })).toBe("a: |\n  x\n\n  y\n")
        expect(toKubeYaml({ a: ["x\ny"] })).toBe("a:\n- |-\n  x\n  y\n")
        expect(toKubeYaml({ a: " x\ny" })).toBe("a: |2-\n   x\n  y\n")
        // a space before a line break is not allowed in a block scalar
        expect(toKubeYaml({ a: "x \ny" })).toBe('a: "x \\ny"\n')
    })

    test("long plain scalars fold after column 80 like go-yaml v2", () => {
        const long = Array.from({ length: 30 }, () => "word").join(" ")
        const out = toKubeYaml({ msg: long })
        expect(out).toBe(
            `msg: ${Array.from({ length: 16 }, () => "word").join(" ")}\n  ${Array.from({ length: 14 }, () => "word").join(" ")}\n`,
        )
        expect(parse(out).msg).toBe(long)
    })

    test("double-quoted escapes and folding", () => {
        expect(toKubeYaml({ k: '\t"\\' })).toBe('k: "\\t\\"\\\\"\n')
        // NEL is folded to a space by the JSON → YAML round trip (as kubectl prints it)
        expect(toKubeYaml({ k: "a\u0000b\u0085c\ufeff" })).toBe('k: "a\\0b c\\uFEFF"\n')
        expect(toKubeYaml({ k: "a \u0085\u0085 b" })).toBe("k: |-\n  a\n  b\n")
        const long = `\t${Array.from({ length: 20 }, () => "word").join(" ")}`
        const out = toKubeYaml({ k: long })
        expect(out).toBe(`k: "\\t${Array.from({ length: 16 }, () => "word").join(" ")}\n  ${Array.from({ length: 4 }, () => "word").join(" ")}"\n`)
        expect(parse(out).k).toBe(long)
    })

    test("long single-quoted scalars fold too", () => {
        const long = `- ${Array.from({ length: 20 }, () => "word").join(" ")}`
        const out = toKubeYaml({ k: long })
        expect(out.split("\n")[1]).toMatch(/^ {2}word/)
        expect(parse(out).k).toBe(long)
    })

    test("key order is go-yaml's: letters after other characters, digit runs numerically", () => {
        expect(["b", "a_b", "aB", "k10", "k9", "a.b", "A"].sort(goKeyCompare)).toEqual(["A", "a.b", "a_b", "aB", "b", "k9", "k10"])
        expect(toKubeYaml({ k10: 1, k9: 2 })).toBe("k9: 2\nk10: 1\n")
    })

    test("keys that resolve to other types are quoted", () => {
        expect(toKubeYaml({ y: 1, n: 2, "1": 3 })).toBe('"1": 3\n"n": 2\n"y": 1\n')
    })
})

describe("exportManifests (flux printExport)", () => {
    test("only apiVersion, kind, metadata name/namespace/labels/annotations and spec", () => {
        const out = exportManifests([
            {
                apiVersion: "source.toolkit.fluxcd.io/v1",
                kind: "GitRepository",
                metadata: { name: "a", namespace: "flux-system", uid: "u", resourceVersion: "3", labels: {}, annotations: { x: "1" } },
                spec: { url: "https://x" },
                status: { conditions: [] },
            },
        ])
        expect(out).toBe(
            "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  annotations:\n    x: \"1\"\n  name: a\n  namespace: flux-system\nspec:\n  url: https://x\n",
        )
    })

    test("Secrets keep data, stringData and type; several objects each start with ---", () => {
        const out = exportManifests([
            { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "n" }, type: "Opaque", data: { "age.agekey": "QQ==" } },
            { apiVersion: "v1", kind: "Secret", metadata: { name: "t" }, stringData: { a: "b" } },
        ])
        expect(out).toBe(
            "---\napiVersion: v1\ndata:\n  age.agekey: QQ==\nkind: Secret\nmetadata:\n  name: s\n  namespace: \"n\"\ntype: Opaque\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: t\nstringData:\n  a: b\n",
        )
    })
})

describe("parseManifests", () => {
    test("multi-document YAML, empty documents skipped; round trip of exportManifests", () => {
        const objs = [
            { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "n" }, type: "Opaque", data: { k: "QQ==" } },
            { apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "k", namespace: "n" }, spec: { prune: false, path: "./" } },
        ]
        expect(parseManifests(`---\n${exportManifests(objs)}---\n`)).toEqual(objs)
    })

    test("a syntax error names the file and line", () => {
        expect(() => parseManifests("a: [\n", "x.yaml")).toThrow(FormatError)
        expect(() => parseManifests("a: [\n", "x.yaml")).toThrow(/^x\.yaml:\d+:\d+: /)
    })

    test("a document that is not an object is rejected", () => {
        expect(() => parseManifests("apiVersion: v1\nkind: Secret\n", "x.yaml")).toThrow(
            "x.yaml:1: not a Kubernetes object (apiVersion, kind and metadata.name are required)",
        )
    })
})
