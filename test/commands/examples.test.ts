import { spawn, spawnSync } from "node:child_process"
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "../cli/run.js"
import { startApiServer, type TestApiServer } from "../kube/apiserver/index.js"
import { AGE1, AGE4, cases, PGP_FP, sandbox } from "./fixtures.js"

interface ManifestCommand {
    examples?: { command: string; description: string }[]
}
const manifest = JSON.parse(readFileSync(path.join(repoRoot, "oclif.manifest.json"), "utf8")) as { commands: Record<string, ManifestCommand> }
const examples = Object.entries(manifest.commands).flatMap(([id, c]) => (c.examples ?? []).map((e) => [id, e.command] as const))

/** A folder where every `--help` example can run: plaintext files for encrypt, encrypted ones otherwise. */
function exampleDir(id: string) {
    const sb = sandbox()
    writeFileSync(
        path.join(sb.dir, ".sops.yaml"),
        `creation_rules:\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: ${AGE1},${AGE4}\n`,
    )
    const source = id === "encrypt" ? "secret-age/plain.yaml" : "rotate/before.yaml"
    mkdirSync(path.join(sb.dir, "clusters"))
    for (const target of ["secret.yaml", "clusters/secret.yaml"]) {
        cpSync(path.join(cases, source), path.join(sb.dir, target))
        chmodSync(path.join(sb.dir, target), 0o600)
    }
    writeFileSync(path.join(sb.dir, "value.json"), '"LS0tLS1CRUdJTi0tLS0t"')
    // exec-env needs a flat file: the sops dotenv case.
    sb.copy("dotenv/out.stdout", "app.env")
    const editor = path.join(sb.dir, ".editor.sh")
    writeFileSync(editor, '#!/bin/sh\nprintf "    extra: ZXh0cmE=\\n" >> "$1"\n')
    chmodSync(editor, 0o755)
    if (CLUSTER_COMMAND.test(id)) fluxFixtures(sb)
    return { ...sb, editor }
}

/** For the Flux commands: a Kustomization path with an encrypted Secret, the cluster's age key file, a second key. */
function fluxFixtures(sb: ReturnType<typeof sandbox>): void {
    const keys = path.join(cases, "keys")
    const cluster0 = path.join(sb.dir, "clusters", "cluster0")
    mkdirSync(cluster0)
    cpSync(path.join(cases, "basic-auth.yaml"), path.join(cluster0, "basic-auth.yaml"))
    const enc = spawnSync(path.join(repoRoot, "bin", "kubectl-sops"), ["encrypt", "-i", "--age", AGE1, "--encrypted-regex", "^(data|stringData)$", path.join(cluster0, "basic-auth.yaml")], { env: sb.env, encoding: "utf8" })
    expect(enc.status, enc.stderr).toBe(0)
    writeFileSync(path.join(cluster0, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - basic-auth.yaml\n")
    cpSync(path.join(keys, "age1.agekey"), path.join(sb.dir, "age.agekey"))
    cpSync(path.join(keys, "age2.agekey"), path.join(sb.dir, "cluster1.agekey"))
    spawnSync("git", ["init", "-q", sb.dir])
}

let exampleCount = 0

/**
 * The key agent of an example: its own socket and its own Secret Service "service" (never the default one), so
 * examples neither see each other's keys nor leave agents behind.
 */
function agentEnv(dir: string): Record<string, string> {
    return {
        KUBECTL_SOPS_AGENT_SOCK: path.join(dir, ".agent", "agent.sock"),
        KUBECTL_SOPS_KEYCHAIN_SERVICE: `kubectl-sops-example-${process.pid}-${++exampleCount}`,
    }
}

/** For `agent …`/`keys …` examples: a passphrase file, age identities in the default place, keys in the agent. */
function prepareAgent(id: string, dir: string, env: Record<string, string>): void {
    const keys = path.join(cases, "keys")
    writeFileSync(path.join(dir, "passphrase.txt"), "example passphrase\n")
    const ageDir = path.join(env.HOME, ".config", "sops", "age")
    mkdirSync(ageDir, { recursive: true })
    cpSync(path.join(keys, "age2.agekey"), path.join(ageDir, "keys.txt"))
    mkdirSync(env.GNUPGHOME, { recursive: true, mode: 0o700 })
    spawnSync("gpg", ["--batch", "--quiet", "--import", path.join(keys, "cluster0.sec.asc")], { env, stdio: "ignore" })
    const preload = id === "agent:start" ? [] : id === "keys:import" ? ["age1.agekey"] : ["age1.agekey", "cluster0.sec.asc"]
    for (const file of preload) {
        const r = spawnSync(path.join(repoRoot, "bin", "kubectl-sops"), ["keys", "import", path.join(keys, file)], { cwd: dir, env, encoding: "utf8" })
        expect(r.status, r.stderr).toBe(0)
    }
}

/** The Flux commands' examples talk to a cluster: the test API server, with flux-system/sops-age and a Kustomization. */
const CLUSTER_COMMAND = /^(bootstrap|check|doctor|create:)/

/** Play kustomize-controller and source-controller: every Flux object written becomes Ready (for `--wait`). */
function playController(server: TestApiServer): void {
    server.onWrite = (obj) => {
        if (obj.kind !== "Kustomization" && obj.kind !== "GitRepository") return
        const generation = obj.metadata.generation
        if (obj.status?.observedGeneration === generation) return
        const revision = "main@sha1:0123456789abcdef0123456789abcdef01234567"
        const ready = { type: "Ready", status: "True", reason: "Succeeded", message: `Applied revision: ${revision}`, observedGeneration: generation, lastTransitionTime: "2026-11-29T00:00:00Z" }
        const status =
            obj.kind === "GitRepository"
                ? { observedGeneration: generation, conditions: [ready], artifact: { revision, path: "x", url: "http://source-controller/x", digest: "sha256:00", lastUpdateTime: "2026-11-29T00:00:00Z" } }
                : { observedGeneration: generation, conditions: [ready], lastAppliedRevision: revision, lastAttemptedRevision: revision }
        setImmediate(() => server.setStatus(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name, status))
    }
}

/** Run a shell command without blocking this process (the API server lives in it). */
function bash(command: string, cwd: string, env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", ["-c", `set -eo pipefail\n${command}`], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
        child.on("error", reject)
        child.on("close", (status) => resolve({ status, stdout, stderr }))
    })
}

/** A fresh cluster per example (examples change it): flux-system/sops-age and a Kustomization for clusters/cluster0. */
async function exampleCluster(): Promise<TestApiServer> {
    const api = await startApiServer()
    playController(api)
    const agekey = Buffer.from(readFileSync(path.join(cases, "keys", "age1.agekey"))).toString("base64")
    api.seed({ apiVersion: "v1", kind: "Secret", metadata: { name: "sops-age", namespace: "flux-system" }, type: "Opaque", data: { "age.agekey": agekey } }, "kubectl-create")
    api.seed(
        {
            apiVersion: "kustomize.toolkit.fluxcd.io/v1",
            kind: "Kustomization",
            metadata: { name: "cluster0", namespace: "flux-system" },
            spec: {
                interval: "10m0s",
                path: "./clusters/cluster0",
                prune: true,
                sourceRef: { kind: "GitRepository", name: "cluster0" },
                decryption: { provider: "sops", secretRef: { name: "sops-age" } },
            },
        },
        "flux",
    )
    return api
}

describe("--help examples", () => {
    it("exist for every command and are written as kubectl sops …", () => {
        expect(examples.length).toBeGreaterThan(10)
        for (const id of Object.keys(manifest.commands)) expect(manifest.commands[id].examples?.length ?? 0, id).toBeGreaterThan(0)
        for (const [, command] of examples) expect(command).toMatch(/kubectl sops /)
    })

    it.each(examples)("%s: %s", async (id, command) => {
        const sb = exampleDir(id)
        const env: Record<string, string> = { ...sb.env, PATH: `${path.join(repoRoot, "bin")}:/usr/local/bin:/usr/bin:/bin`, EDITOR: sb.editor, ...agentEnv(sb.dir) }
        delete env.KUBECTL_SOPS_KEYCHAIN
        const agentCommand = /^(agent|keys):/.test(id) || CLUSTER_COMMAND.test(id)
        const api = CLUSTER_COMMAND.test(id) ? await exampleCluster() : undefined
        if (api !== undefined) Object.assign(env, { KUBECONFIG: api.kubeconfig(), KEY_FP: PGP_FP, VAULT_TOKEN: "s.example-token" })
        if (agentCommand) prepareAgent(id, sb.dir, env)
        try {
            const r = await bash(command, sb.dir, env)
            expect(r.stderr).not.toMatch(/internal error|Error:/)
            expect(r.status, r.stdout + r.stderr).toBe(0)
        } finally {
            // every example may have started an agent (directly or on first need): stop it, forget its keys
            if (existsSync(env.KUBECTL_SOPS_AGENT_SOCK)) {
                spawnSync(path.join(repoRoot, "bin", "kubectl-sops"), ["agent", "stop"], { cwd: sb.dir, env, stdio: "ignore" })
            }
            if (agentCommand) spawnSync("secret-tool", ["clear", "service", env.KUBECTL_SOPS_KEYCHAIN_SERVICE], { stdio: "ignore" })
            await api?.close()
        }
    })
})
