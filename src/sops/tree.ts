/**
 * The SOPS tree: an ordered model of a document that every store reads into and writes from.
 *
 * A file is a list of {@link Branch}es (one per YAML document, exactly one for the other formats). A branch is an
 * ordered list of items; comments are items too (key = {@link Comment}, value = null in a map; a {@link Comment}
 * element in a list). Scalars keep the type sops gives them: `string` (str), `bigint` (int, 64-bit signed),
 * `number` (float64), `boolean` (bool), {@link SopsTime} (time), `Uint8Array` (raw bytes: the binary store's
 * payload, hashed and encrypted as `str`), and `null` (never encrypted).
 */

/** A comment line, text without the leading `#` (so `# hi` is `" hi"`). */
export class Comment {
    readonly value: string
    /** YAML only: the comment stood on the same line as a value. */
    readonly inline: boolean

    constructor(value: string, inline = false) {
        this.value = value
        this.inline = inline
    }
}

/** A timestamp, kept as its canonical Go `time.MarshalText` (RFC 3339 with nanoseconds, trailing zeros cut). */
export class SopsTime {
    readonly text: string

    constructor(text: string) {
        this.text = text
    }
}

/** An ordered mapping. */
export class Branch {
    items: TreeItem[]

    constructor(items: TreeItem[] = []) {
        this.items = items
    }

    /** The value of the first item with this key, or undefined. */
    get(key: string): TreeValue | undefined {
        for (const item of this.items) if (item.key === key) return item.value
        return undefined
    }
}

/** A key/value pair in a {@link Branch}. A comment item has a {@link Comment} key and a null value. */
export interface TreeItem {
    key: string | Comment
    value: TreeValue
}

/** Any value in a tree. Arrays are lists; {@link Branch} is a map. */
export type TreeValue =
    | string
    | bigint
    | number
    | boolean
    | null
    | SopsTime
    | Comment
    | Uint8Array
    | Branch
    | TreeValue[]

/** The documents of a file. */
export type Branches = Branch[]

/** The top-level key that holds the metadata. */
export const METADATA_KEY = "sops"

/** Build a branch from [key, value] pairs (test and metadata helper). */
export function branchOf(entries: Iterable<readonly [string | Comment, TreeValue]>): Branch {
    const items: TreeItem[] = []
    for (const [key, value] of entries) items.push({ key, value })
    return new Branch(items)
}
