import { expect, it } from "vitest"
import { metadataFromTree, metadataToTree } from "../../src/sops/metadata.js"
import { Branch, Comment } from "../../src/sops/tree.js"
import { BinaryStore } from "../../src/stores/binary.js"
import { DotenvStore } from "../../src/stores/dotenv.js"
import { IniStore } from "../../src/stores/ini.js"
import { JsonStore } from "../../src/stores/json.js"
import type { Store } from "../../src/stores/store.js"
import { describeShared, sharedData } from "../conformance-data.js"
import { encType, leaves, text, vector, vectorText } from "./helpers.js"

const stores: Record<string, () => Store> = {
    json: () => new JsonStore(),
    dotenv: () => new DotenvStore(),
    ini: () => new IniStore(),
    binary: () => new BinaryStore(),
}

describeShared("re-emitting files written by sops 3.13.x is byte-identical", () => {
    const cases: [string, string][] = [
        ["sops-3.13.2/json/out.stdout", "json"],
        ["sops-3.13.2/dotenv/out.stdout", "dotenv"],
        ["sops-3.13.2/ini/out.stdout", "ini"],
        ["sops-3.13.2/binary/out.stdout", "binary"],
        ["sops-3.13.2/creation-rules/apps/app.env", "dotenv"],
        ["sops-repo/functional-tests/res/format.enc.json", "json"],
        ["sops-repo/functional-tests/res/format.enc.env", "dotenv"],
        ["sops-repo/functional-tests/res/format.enc.ini", "ini"],
    ]
    for (const [path, format] of cases) {
        it(`${path} (${format})`, () => {
            const store = stores[format]()
            const input = vector(path)
            const file = store.loadEncrypted(input)
            expect(file.metadata.get("mac")).toMatch(/^ENC\[AES256_GCM,/)
            expect(text(store.emitEncrypted(file.branches, file.metadata))).toBe(text(input))
            // and through the engine's metadata model (parse, then rebuild the tree)
            const rebuilt = metadataToTree(metadataFromTree(file.metadata))
            expect(text(store.emitEncrypted(file.branches, rebuilt))).toBe(text(input))
        })
    }

    it("format-2.enc.ini (real newlines in \"\"\"…\"\"\") loads to the same metadata shape and re-emits escaped", () => {
        const store = new IniStore()
        const old = store.loadEncrypted(vector("sops-repo/functional-tests/res/format-2.enc.ini"))
        const pgp = old.metadata.get("pgp") as Branch[]
        const enc = pgp[0].get("enc") as string
        expect(enc.startsWith("-----BEGIN PGP MESSAGE-----\n\nwcBMAy")).toBe(true)
        expect(enc.endsWith("\n=j3Rn\n-----END PGP MESSAGE-----")).toBe(true)
        expect(enc).not.toContain("\\n")
        const current = store.loadEncrypted(vector("sops-repo/functional-tests/res/format.enc.ini"))
        const keysOf = (b: Branch) => b.items.map((item) => item.key)
        expect(keysOf(old.metadata)).toEqual(keysOf(current.metadata))
        expect(keysOf(pgp[0])).toEqual(keysOf((current.metadata.get("pgp") as Branch[])[0]))
        const out = text(store.emitEncrypted(old.branches, old.metadata))
        expect(out).toContain("pgp__list_0__map_enc        = -----BEGIN PGP MESSAGE-----\\n\\nwcBMAy")
        expect(out).not.toContain('"""')
    })
})

describeShared("plaintext inputs re-emit as sops decrypt prints them", () => {
    it("json: tab-indented, in key order, ints and floats kept", () => {
        const store = new JsonStore()
        const out = text(store.emitPlain(store.loadPlain(vector("sops-3.13.2/json/plain.json"))))
        expect(out).toBe(
            '{\n\t"name": "app",\n\t"port": 8080,\n\t"ratio": 0.25,\n\t"on": true,\n\t"none": null,\n\t"list": [\n\t\t1,\n\t\t"two",\n\t\t{\n\t\t\t"three": 3\n\t\t}\n\t],\n\t"nested": {\n\t\t"password": "s3cret"\n\t}\n}\n',
        )
    })
    it("dotenv: unchanged", () => {
        const store = new DotenvStore()
        const input = vector("sops-3.13.2/dotenv/plain.env")
        expect(text(store.emitPlain(store.loadPlain(input)))).toBe(text(input))
    })
    it("ini: keys padded to the longest key of their section", () => {
        const store = new IniStore()
        const input = vector("sops-3.13.2/ini/plain.ini")
        expect(text(store.emitPlain(store.loadPlain(input)))).toBe(
            "[database]\nuser     = admin\npassword = change-me\n\n[cache]\nhost = localhost\nport = 6379\n",
        )
    })
    it("binary: the exact bytes", () => {
        const store = new BinaryStore()
        const input = vector("sops-3.13.2/binary/plain.bin")
        expect(Buffer.from(store.emitPlain(store.loadPlain(input))).equals(Buffer.from(input))).toBe(true)
    })
    it("the encrypted files' trees print like sops decrypt once values are clear", () => {
        const json = new JsonStore().loadEncrypted(vector("sops-repo/functional-tests/res/format.enc.json"))
        json.branches[0].items[0].value = "bar"
        expect(text(new JsonStore().emitPlain(json.branches))).toBe('{\n\t"foo": "bar"\n}\n')
        const env = new DotenvStore().loadEncrypted(vector("sops-repo/functional-tests/res/format.enc.env"))
        expect(env.branches[0].items.map((item) => item.key)).toEqual(["foo "])
        env.branches[0].items[0].value = " bar"
        expect(text(new DotenvStore().emitPlain(env.branches))).toBe("foo = bar\n")
        const ini = new IniStore().loadEncrypted(vector("sops-repo/functional-tests/res/format.enc.ini"))
        const foo = ini.branches[0].get("foo") as Branch
        foo.items[0].value = "baz"
        expect(text(new IniStore().emitPlain(ini.branches))).toBe("[foo]\nbar = baz\n")
    })
})

interface ExpectedLeaf {
    aad: string
    type: string
    value: unknown
}
interface Expected {
    leaves_in_mac_order: ExpectedLeaf[]
    comments: { aad: string; plaintext: string }[]
}
const EXPECTED = (sharedData ? JSON.parse(vectorText("sops-repo/EXPECTED.json")) : {}) as Record<string, Expected>

describeShared("older files load with the expected tree (EXPECTED.json)", () => {
    const cases: [string, Store][] = [
        ["example.json", new JsonStore()],
        ["example.ini", new IniStore()],
        ["example.txt", new BinaryStore()],
        ["functional-tests/res/format.enc.json", new JsonStore()],
        ["functional-tests/res/format.enc.env", new DotenvStore()],
        ["functional-tests/res/format.enc.ini", new IniStore()],
        ["functional-tests/res/format-2.enc.ini", new IniStore()],
    ]
    for (const [path, store] of cases) {
        it(path, () => {
            const expected = EXPECTED[path]
            const file = store.loadEncrypted(vector(`sops-repo/${path}`))
            expect(file.branches).toHaveLength(1)
            const all = leaves(file.branches[0])
            const values = all.filter((leaf) => !leaf.comment)
            expect(values.map((leaf) => leaf.aad)).toEqual(expected.leaves_in_mac_order.map((leaf) => leaf.aad))
            values.forEach((leaf, i) => {
                const want = expected.leaves_in_mac_order[i]
                const type = encType(leaf.value)
                if (type === undefined) expect(leaf.value).toBe(want.value)
                else expect(type).toBe(want.type)
            })
            const comments = all.filter((leaf) => leaf.comment)
            expect(comments.map((leaf) => leaf.aad)).toEqual(expected.comments.map((c) => c.aad))
            for (const comment of comments) expect(encType(comment.value)).toBe("comment")
            const metadata = file.metadata
            expect(typeof metadata.get("lastmodified")).toBe("string")
            expect(encType(metadata.get("mac"))).toBe("str")
            expect(typeof metadata.get("version")).toBe("string")
            const pgp = metadata.get("pgp")
            expect(Array.isArray(pgp)).toBe(true)
            for (const entry of pgp as Branch[]) {
                expect(entry).toBeInstanceOf(Branch)
                expect(entry.get("fp")).toMatch(/^[0-9A-F]{40}$/)
                expect(entry.get("enc")).toMatch(/^-----BEGIN PGP MESSAGE-----\n/)
                expect(entry.get("created_at")).toMatch(/^\d{4}-\d\d-\d\dT/)
            }
        })
    }

    it("example.json keeps the legacy null key lists", () => {
        const file = new JsonStore().loadEncrypted(vector("sops-repo/example.json"))
        expect(file.metadata.get("kms")).toBeNull()
        expect((file.metadata.get("pgp") as Branch[]).length).toBe(2)
    })

    it("example.ini: the DEFAULT section comes first, the section comment is the first item of [name]", () => {
        const file = new IniStore().loadEncrypted(vector("sops-repo/example.ini"))
        const keys = file.branches[0].items.map((item) => item.key)
        expect(keys).toEqual(["DEFAULT", "name", "address", "phoneNumbers", "not private"])
        const name = file.branches[0].get("name") as Branch
        expect(name.items[0].key).toBeInstanceOf(Comment)
        expect((name.items[0].key as Comment).value).toMatch(/^ENC\[AES256_GCM,.*type:comment\]$/)
        // flattened keys in random order come back sorted
        expect(file.metadata.items.map((item) => item.key)).toEqual([
            "lastmodified",
            "mac",
            "pgp",
            "unencrypted_suffix",
            "version",
        ])
    })

    it("stores/ini/test_resources/example.json (1.13, Python-era) loads", () => {
        const file = new JsonStore().loadEncrypted(vector("sops-repo/stores/ini/test_resources/example.json"))
        expect(file.branches[0].items.map((item) => item.key)).toEqual([
            "example_key",
            "example_array",
            "example_number",
            "example_booleans",
        ])
        expect(file.metadata.get("version")).toBe("1.13")
        expect(file.metadata.get("attention")).toMatch(/^This section/)
        expect((file.metadata.get("kms") as Branch[])[0].get("arn")).toMatch(/^arn:aws:kms:/)
        expect(encType((file.branches[0].get("example_booleans") as string[])[1])).toBe("bool")
    })
})
