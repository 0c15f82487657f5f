import { spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { AGE1 } from "../commands/fixtures.js"
import { binPath, repoRoot, run, tempDir } from "./run.js"
import { itShared, vectorsDir } from "../conformance-data.js"
import { startVault } from "../plugins/hc-vault/server.js"

describe("startup", () => {
    it("loads the fast-path bundle with a code cache V8 accepts", () => {
        const r = spawnSync(
            process.execPath,
            ["-e", `const { loadFast } = require(${JSON.stringify(path.join(repoRoot, "bin/fast-loader.cjs"))}); process.stdout.write(String(loadFast().script.cachedDataRejected))`],
            { encoding: "utf8" },
        )
        expect(r.stderr).toBe("")
        expect(r.stdout).toBe("false")
    })

    // The speed claim (encrypt within 1.5x a bare `node -e 0`) is a benchmark figure, not a test: `npm run bench`
    // (P1, which fails when it misses) and scripts/startup-bench.mjs --check. Here: the fast path that makes it
    // possible is taken, i.e. encrypt never loads oclif, while --help does (so the probe can see oclif).
    itShared("encrypts without loading oclif; --help loads it", () => {
        const dir = tempDir()
        writeFileSync(path.join(dir, "s.yaml"), readFileSync(path.join(vectorsDir, "sops-3.13.2/basic-auth.yaml")))
        const probe = path.join(dir, "probe.cjs")
        writeFileSync(
            probe,
            'process.on("exit", () => { const has = (p) => Object.keys(require.cache).some((k) => k.includes(p)); process.stderr.write("aws loaded: " + has("@aws-sdk") + "\\noclif loaded: " + has("@oclif") + "\\n") })\n',
        )
        const sdkProbe = (args: string[], status = 0, env: Record<string, string> = {}) => {
            const r = spawnSync(process.execPath, ["--require", probe, binPath, ...args], {
                cwd: dir,
                encoding: "utf8",
                env: { ...process.env, KUBECTL_SOPS_NO_AGENT: "1", ...env },
            })
            expect(r.status, r.stderr).toBe(status)
            return /aws loaded: (true|false)\noclif loaded: (true|false)\n$/.exec(r.stderr)?.slice(1, 3).join(",")
        }
        const loaded = (args: string[]) => sdkProbe(args)?.split(",")[1]
        expect(loaded(["encrypt", "--age", AGE1, "s.yaml"])).toBe("false")
        expect(loaded(["--help"])).toBe("true")
        // the AWS SDK (plugins/aws-kms) is loaded by neither: only a kms key loads it
        expect(sdkProbe(["encrypt", "--age", AGE1, "s.yaml"])).toBe("false,false")
        expect(sdkProbe(["--help"])).toBe("false,true")
        // nor is it bundled into the fast path (where the probe could not see it): KMS' wire names are not in it
        expect(readFileSync(path.join(repoRoot, "dist/fast/main.cjs"), "latin1")).not.toContain("TrentService")
        // …and the probe sees it when a kms key is used (port 1 on loopback refuses the connection)
        const kmsEnv = {
            AWS_ENDPOINT_URL_KMS: "http://127.0.0.1:1",
            AWS_ACCESS_KEY_ID: "AKIDPROBE",
            AWS_SECRET_ACCESS_KEY: "probe",
            AWS_EC2_METADATA_DISABLED: "true",
            KUBECTL_SOPS_KEY_SERVICE_TIMEOUT: "5s",
        }
        expect(sdkProbe(["encrypt", "--kms", "arn:aws:kms:eu-west-1:111122223333:key/probe", "s.yaml"], 1, kmsEnv)).toBe("true,false")
    })

    // Key-service SDKs (plugins/) load only when a key of their type is used.
    itShared("help and age runs do not load node-vault; a Vault transit key does", async () => {
        const dir = tempDir()
        writeFileSync(path.join(dir, "s.yaml"), readFileSync(path.join(vectorsDir, "sops-3.13.2/basic-auth.yaml")))
        const probe = path.join(dir, "probe.cjs")
        writeFileSync(
            probe,
            'process.on("exit", () => process.stderr.write("sdk loaded: " + Object.keys(require.cache).some((k) => k.includes("/node_modules/node-vault/")) + "\\n"))\n',
        )
        const vault = await startVault({ token: "t-startup" })
        try {
            // asynchronous: the test Vault answers from this process
            const loaded = async (args: string[]) => {
                const env = { ...process.env, KUBECTL_SOPS_NO_AGENT: "1", VAULT_TOKEN: "t-startup" }
                const r = await run(["--require", probe, binPath, ...args], { command: process.execPath, cwd: dir, env })
                expect(r.code, r.stderr).toBe(0)
                return /sdk loaded: (true|false)\n$/.exec(r.stderr)?.[1]
            }
            expect(await loaded(["encrypt", "--age", AGE1, "s.yaml"])).toBe("false")
            expect(await loaded(["--help"])).toBe("false")
            expect(await loaded(["encrypt", "--hc-vault-transit", `${vault.address}/v1/transit/keys/k`, "s.yaml"])).toBe("true")
        } finally {
            await vault.close()
        }
    })
})
