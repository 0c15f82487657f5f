import { randomBytes } from "node:crypto"
import { describe, expect, it } from "vitest"
import { ErrorKind, KsopsError } from "../../src/errors.js"
import { decryptBranches, encryptBranches } from "../../src/sops/walk.js"
import { type Branch, branchOf, type Branches } from "../../src/sops/tree.js"

const KEY = randomBytes(32)
const OPTS = { selection: {}, macOnlyEncrypted: false }
const iv = () => randomBytes(32)

function secretDoc(password: string): Branch {
    return branchOf([
        ["kind", "Secret"],
        ["data", branchOf([["user", "admin"], ["password", password]])],
        ["list", ["a", branchOf([["deep", 5n]])]],
    ])
}

function decryptError(branches: Branches): KsopsError {
    try {
        decryptBranches(branches, KEY, OPTS)
    } catch (e) {
        expect(e).toBeInstanceOf(KsopsError)
        return e as KsopsError
    }
    throw new Error("decrypted")
}

function flip(doc: Branch, path: (string | number)[], from: string, to: string): void {
    let holder: unknown = doc
    for (const p of path.slice(0, -1)) holder = typeof p === "number" ? (holder as unknown[])[p] : (holder as Branch).get(p)
    const last = path[path.length - 1]
    if (typeof last === "number") (holder as string[])[last] = (holder as string[])[last].replace(from, to)
    else {
        const item = (holder as Branch).items.find((i) => i.key === last)!
        item.value = (item.value as string).replace(from, to)
    }
}

describe("walk errors name the value's path, never its bytes (finding 1)", () => {
    it.each(["int", "bool", "float", "time"])("a str value re-tagged %s: the path and the type, exit kind 25", (type) => {
        const doc = secretDoc("hunter2")
        encryptBranches([doc], KEY, OPTS, iv)
        flip(doc, ["data", "password"], "type:str]", `type:${type}]`)
        const e = decryptError([doc])
        expect(e.kind).toBe(ErrorKind.DecryptingTree)
        expect(e.message).toContain(`Could not decrypt value at ["data"]["password"]: the decrypted value is not`)
        expect(e.message).toContain(`type:${type}`)
        expect(e.message).not.toContain("hunter2")
    })

    it("names list indices and the document of several", () => {
        const docs = [secretDoc("one"), secretDoc("two")]
        encryptBranches(docs, KEY, OPTS, iv)
        flip(docs[1], ["list", 0], "type:str]", "type:bool]")
        expect(decryptError(docs).message).toContain('Could not decrypt value at document 2: ["list"][0]: ')
    })

    it("does not quote a value that is not an ENC[…] string", () => {
        const doc = secretDoc("hunter2")
        encryptBranches([doc], KEY, OPTS, iv)
        const item = (doc.get("data") as Branch).items[1]
        item.value = "plaintext-hunter2"
        const e = decryptError([doc])
        expect(e.message).toBe(`Error decrypting tree: Error walking tree: Could not decrypt value at ["data"]["password"]: Input string does not match sops' data format`)
    })
})
