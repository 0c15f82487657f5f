/** Shared helpers for the store tests: vector paths and a tree walker that mirrors the sops walk order. */
import { readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { expect } from "vitest"
import { FormatError } from "../../src/errors.js"
import { Branch, Comment, type TreeValue } from "../../src/sops/tree.js"
import { vectorsDir } from "../conformance-data.js"

/** The shared vectors directory (read-only, outside the repository). */
export const VECTORS = pathToFileURL(`${vectorsDir}/`)

/** Read a vector file as bytes. */
export function vector(path: string): Uint8Array {
    return new Uint8Array(readFileSync(new URL(path, VECTORS)))
}

/** Read a vector file as text. */
export function vectorText(path: string): string {
    return readFileSync(new URL(path, VECTORS), "utf8")
}

/** A leaf as the sops walk sees it: its AAD path and value. */
export interface Leaf {
    aad: string
    value: TreeValue
    comment: boolean
}

/** Leaves in walk order (map keys joined by ":" plus ":", list indexes omitted, comments use the enclosing path). */
export function leaves(branch: Branch): Leaf[] {
    const out: Leaf[] = []
    const walk = (value: TreeValue, path: string[]): void => {
        if (value instanceof Branch) {
            for (const item of value.items) {
                if (item.key instanceof Comment) out.push({ aad: `${path.join(":")}:`, value: item.key.value, comment: true })
                else walk(item.value, [...path, item.key])
            }
        } else if (Array.isArray(value)) {
            for (const element of value) walk(element, path)
        } else if (value instanceof Comment) {
            out.push({ aad: `${path.join(":")}:`, value: value.value, comment: true })
        } else if (value !== null) {
            out.push({ aad: `${path.join(":")}:`, value, comment: false })
        }
    }
    walk(branch, [])
    return out
}

/** The `type:` tag of an ENC string, or undefined. */
export function encType(value: TreeValue | undefined): string | undefined {
    if (typeof value !== "string") return undefined
    return /^ENC\[AES256_GCM,data:.*,type:(.+)\]$/.exec(value)?.[1]
}

/** Text of bytes. */
export function text(bytes: Uint8Array): string {
    return new TextDecoder().decode(bytes)
}

/** Bytes of text. */
export function bytes(s: string): Uint8Array {
    return new TextEncoder().encode(s)
}

/** The FormatError that `f` throws (the test fails when it throws something else or nothing). */
export function formatErrorOf(f: () => unknown): FormatError {
    try {
        f()
    } catch (e) {
        expect(e).toBeInstanceOf(FormatError)
        return e as FormatError
    }
    throw new Error("expected a FormatError")
}
