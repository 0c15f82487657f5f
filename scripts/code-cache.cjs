// Build step: run the fast-path bundle through a typical workload (encrypt, filestatus, a failing decrypt, help
// text parsing) in a temp folder, then write V8's code cache for everything it compiled to dist/fast/main.cjs.cache.
"use strict"
const fs = require("node:fs")
const os = require("node:os")
const path = require("node:path")
const { Writable } = require("node:stream")
const { pathToFileURL } = require("node:url")
const { loadFast, cacheFile } = require("../bin/fast-loader.cjs")

const { generateKeyPairSync } = require("node:crypto")

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

function polymod(values) {
    const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    let chk = 1
    for (const v of values) {
        const top = chk >>> 25
        chk = ((chk & 0x1ffffff) << 5) ^ v
        for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i]
    }
    return chk
}

/** bech32 (BIP 173) of 8-bit data, as age writes recipients and identities. */
function bech32(hrp, data) {
    const words = []
    let acc = 0
    let bits = 0
    for (const b of data) {
        acc = (acc << 8) | b
        bits += 8
        while (bits >= 5) {
            bits -= 5
            words.push((acc >>> bits) & 31)
        }
    }
    if (bits > 0) words.push((acc << (5 - bits)) & 31)
    const expand = [...hrp].map((c) => c.charCodeAt(0) >> 5).concat([0], [...hrp].map((c) => c.charCodeAt(0) & 31))
    const mod = polymod([...expand, ...words, 0, 0, 0, 0, 0, 0]) ^ 1
    const checksum = [0, 1, 2, 3, 4, 5].map((i) => (mod >>> (5 * (5 - i))) & 31)
    return `${hrp}1${[...words, ...checksum].map((w) => CHARSET[w]).join("")}`
}

/** A throwaway age key pair for the warm-up run (never written outside its temp folder). */
function throwawayAgeKey() {
    const { publicKey, privateKey } = generateKeyPairSync("x25519")
    const pub = publicKey.export({ format: "der", type: "spki" }).subarray(-32)
    const priv = privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32)
    return { recipient: bech32("age", pub), identity: bech32("age-secret-key-", priv).toUpperCase() }
}

async function warm() {
    fs.rmSync(cacheFile, { force: true })
    const { exports: fast, script } = loadFast()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kubectl-sops-cache-"))
    const sink = new Writable({ write: (_chunk, _enc, cb) => cb() })
    let errors = ""
    const errorSink = new Writable({
        write: (chunk, _enc, cb) => {
            errors += chunk
            cb()
        },
    })
    const root = pathToFileURL(`${path.resolve(__dirname, "..")}/`)
    const key = throwawayAgeKey()
    const RECIPIENT = key.recipient
    fs.writeFileSync(path.join(dir, "keys.txt"), `${key.identity}\n`, { mode: 0o600 })
    const env = { HOME: dir, PATH: process.env.PATH, SOPS_AGE_KEY_FILE: path.join(dir, "keys.txt") }
    const io = { root, env, cwd: dir, stdin: process.stdin, stdout: sink, stderr: errorSink }
    try {
        const secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n# comment\ndata:\n  password: Y2hhbmdlLW1l\n  user: YWRtaW4=\n"
        fs.writeFileSync(path.join(dir, "s.yaml"), secret)
        fs.writeFileSync(path.join(dir, "s.json"), '{"a": 1, "b": [true, null, "x"]}')
        for (const args of [
            ["encrypt", "--age", RECIPIENT, "--encrypted-regex", "^(data|stringData)$", "--output", "e.yaml", "s.yaml"],
            ["encrypt", "--age", RECIPIENT, "--output", "e.json", "s.json"],
            ["filestatus", "e.yaml"],
            ["decrypt", "e.yaml"],
            ["decrypt", "--extract", '["data"]["password"]', "e.json"],
            ["decrypt", "--output", "d.yaml", "e.yaml"],
            ["encrypt", "--bogus"],
        ]) {
            await fast.main(args, root, io)
        }
        const out = path.join(dir, "d.yaml")
        const roundTrip = fs.existsSync(out) ? fs.readFileSync(out, "utf8") : ""
        if (!roundTrip.includes("password: Y2hhbmdlLW1l")) throw new Error(`warm-up round trip failed: ${errors}`)
    } finally {
        fs.rmSync(dir, { recursive: true, force: true })
    }
    fs.writeFileSync(cacheFile, script.createCachedData())
}

warm().catch((error) => {
    process.stderr.write(`code cache: ${error.stack}\n`)
    process.exitCode = 1
})
