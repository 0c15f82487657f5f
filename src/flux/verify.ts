/**
 * `check --verify`: the authoritative check (§8.7). The data key is unwrapped with exactly the key material the
 * controller would hold (age identities and unprotected PGP keys of the Secret), then every value is decrypted
 * with AES-GCM. Nothing is written or printed; plaintexts are dropped at once.
 */
import { KsopsError, ErrorKind } from "../errors.js"
import type { UnlockedKey } from "../keys/keystore.js"
import { recoverDataKey } from "../sops/document.js"
import type { KeyEntry, KeyService } from "../sops/keys.js"
import type { Metadata } from "../sops/metadata.js"
import { Branch, type Branches, Comment, type TreeValue } from "../sops/tree.js"
import { decryptBranches } from "../sops/walk.js"
import type { ImportedKeys } from "./keys.js"
import { keyLabel } from "./predict.js"

/** Real decryption with the imported keys. */
export interface Verifier {
    /**
     * Decrypt documents in place (comments dropped first, as the controller's JSON round trip does for resources).
     * @returns undefined on success, else the controller-style error (`cannot get sops data key: …`, `error decrypting sops tree: …`)
     */
    verify(docs: Branches, md: Metadata, options?: { raw?: boolean; dropComments?: boolean }): Promise<string | undefined>
    /** Wipe the unlocked keys. */
    close(): void
}

function dropComments(v: TreeValue): TreeValue {
    if (v instanceof Branch) {
        v.items = v.items.filter((i) => !(i.key instanceof Comment))
        for (const i of v.items) i.value = dropComments(i.value)
        return v
    }
    if (Array.isArray(v)) return v.filter((e) => !(e instanceof Comment)).map(dropComments)
    return v
}

/** Unlock the imported keys (age identities, unprotected PGP secret keys) for {@link Verifier}. */
export async function createVerifier(keys: ImportedKeys): Promise<Verifier> {
    const { unlockKey } = await import("../keys/keystore.js")
    const { unwrapWith } = await import("../keys/unwrap.js")
    const unlocked: UnlockedKey[] = []
    const created = "2000-01-01T00:00:00Z"
    const ids = keys.secretMaterial.ageIdentities
    const recipients = keys.age.filter((a) => a.type !== "plugin")
    for (let i = 0; i < ids.length && i < recipients.length; i++) {
        const type = recipients[i].type === "hybrid" ? "age-pq" : "age"
        try {
            unlocked.push(await unlockKey({ id: recipients[i].recipient, type, name: "", created, recipient: recipients[i].recipient, secret: ids[i], protected: false }))
        } catch {
            // a key the controller could not use either
        }
    }
    for (const p of keys.secretMaterial.pgpKeys) {
        try {
            unlocked.push(await unlockKey({ id: p.fingerprint, type: "pgp", name: "", created, recipient: p.fingerprint, secret: p.armored, protected: false }))
        } catch {
            // not usable
        }
    }
    const service: KeyService = {
        keyId: keyLabel,
        async encrypt(): Promise<string> {
            throw new KsopsError(ErrorKind.Generic, "not used")
        },
        async decrypt(entry: KeyEntry): Promise<Uint8Array> {
            for (const k of unlocked) {
                const part = await unwrapWith(entry, k)
                if (part !== null) return part
            }
            throw new KsopsError(ErrorKind.Generic, `no imported key decrypts this ${entry.type} entry`)
        },
    }
    return {
        async verify(docs, md, options = {}) {
            let dataKey: Uint8Array
            try {
                dataKey = await recoverDataKey(md, service, ["age", "pgp"])
            } catch (e) {
                return `cannot get sops data key: ${(e as Error).message}`
            }
            try {
                const target = options.dropComments ? docs.map((d) => dropComments(d) as Branch) : docs
                decryptBranches(target, dataKey, { selection: md.selection, macOnlyEncrypted: md.macOnlyEncrypted }, undefined, options.raw ?? false)
                return undefined
            } catch (e) {
                // the tree walk's messages name the value's path and never quote the value (plaintext or ENC string)
                const msg = (e as Error).message.replace(/^Error decrypting tree: /, "")
                return `error decrypting sops tree: ${msg}`
            } finally {
                dataKey.fill(0)
            }
        },
        close() {
            for (const k of unlocked) k.wipe()
        },
    }
}
