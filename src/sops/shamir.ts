/**
 * Shamir secret sharing over GF(2^8) (the AES field, x^8+x^4+x^3+x+1), with sops' share encoding: each share is
 * the evaluated bytes followed by one byte holding its x coordinate (i+1 for share i).
 */

const EXP = new Uint8Array(512)
const LOG = new Uint8Array(256)
{
    let x = 1
    for (let i = 0; i < 255; i++) {
        EXP[i] = x
        LOG[x] = i
        // multiply by the generator 3: x*2 ^ x, reduced by 0x11B
        const doubled = (x << 1) ^ (x & 0x80 ? 0x11b : 0)
        x = (doubled ^ x) & 0xff
    }
    for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]
}

/** Multiply in GF(2^8). */
export function gfMul(a: number, b: number): number {
    if (a === 0 || b === 0) return 0
    return EXP[LOG[a] + LOG[b]]
}

/** Divide in GF(2^8). @throws on division by zero */
export function gfDiv(a: number, b: number): number {
    if (b === 0) throw new Error("divide by zero")
    if (a === 0) return 0
    return EXP[LOG[a] + 255 - LOG[b]]
}

/**
 * Split a secret into `parts` shares, any `threshold` of which recover it.
 * @param random - a CSPRNG (n → n random bytes)
 * @throws when the parameters are out of range (sops' messages)
 */
export function shamirSplit(secret: Uint8Array, parts: number, threshold: number, random: (n: number) => Uint8Array): Uint8Array[] {
    if (parts < threshold) throw new Error("parts cannot be less than threshold")
    if (parts > 255) throw new Error("parts cannot exceed 255")
    if (threshold < 2) throw new Error("threshold must be at least 2")
    if (threshold > 255) throw new Error("threshold cannot exceed 255")
    if (secret.length === 0) throw new Error("cannot split an empty secret")
    const shares = Array.from({ length: parts }, (_, i) => {
        const s = new Uint8Array(secret.length + 1)
        s[secret.length] = i + 1
        return s
    })
    const coeffs = new Uint8Array(threshold)
    for (let j = 0; j < secret.length; j++) {
        coeffs[0] = secret[j]
        coeffs.set(random(threshold - 1), 1)
        for (let i = 0; i < parts; i++) {
            const x = i + 1
            let y = 0
            for (let k = threshold - 1; k >= 0; k--) y = gfMul(y, x) ^ coeffs[k]
            shares[i][j] = y
        }
    }
    coeffs.fill(0)
    return shares
}

/**
 * Recover a secret from shares (at least two, same length, distinct x bytes).
 * @throws when the shares are inconsistent
 */
export function shamirCombine(shares: readonly Uint8Array[]): Uint8Array {
    if (shares.length < 2) throw new Error("less than two parts cannot be used to reconstruct the secret")
    const len = shares[0].length
    if (len < 2) throw new Error("parts must be at least two bytes")
    for (const s of shares) if (s.length !== len) throw new Error("all parts must be the same length")
    const xs = shares.map((s) => s[len - 1])
    if (new Set(xs).size !== xs.length) throw new Error("duplicate part detected")
    const out = new Uint8Array(len - 1)
    for (let j = 0; j < len - 1; j++) {
        let acc = 0
        for (let i = 0; i < shares.length; i++) {
            let basis = 1
            for (let k = 0; k < shares.length; k++) {
                if (k === i) continue
                basis = gfMul(basis, gfDiv(xs[k], xs[i] ^ xs[k]))
            }
            acc ^= gfMul(shares[i][j], basis)
        }
        out[j] = acc
    }
    return out
}
