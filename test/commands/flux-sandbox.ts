/** Test helper for the Flux commands: a sandbox with HOME, a git work tree, its own agent socket and keychain service. */
import { execFileSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import path from "node:path"
import { baseEnv, run, tempDir } from "../cli/run.js"

/** Variables that must not leak from the developer's shell into a sandbox. */
const CLEARED = [
    "XDG_RUNTIME_DIR",
    "KUBECTL_SOPS_NO_AGENT",
    "KUBECTL_SOPS_KEYCHAIN",
    "KUBECTL_SOPS_KEYCHAIN_PASSPHRASE",
    "KUBECONFIG",
    "FLUX_SYSTEM_NAMESPACE",
    "FLUX_NS_FOLLOWS_KUBE_CONTEXT",
    "VAULT_ADDR",
    "VAULT_TOKEN",
]

/**
 * A temp folder with `home/` (HOME, GNUPGHOME) and `repo/` (a git work tree, the cwd of `ks`), an agent socket of its
 * own and a Secret Service "service" of its own (clear it with `secret-tool clear service …` afterwards).
 */
export function fluxSandbox(name: string) {
    const dir = tempDir(`ksops-${name}-`)
    const home = path.join(dir, "home")
    const repo = path.join(dir, "repo")
    mkdirSync(home, { mode: 0o700 })
    mkdirSync(repo)
    execFileSync("git", ["init", "-q", repo])
    const env: Record<string, string> = {
        ...baseEnv(home),
        KUBECTL_SOPS_AGENT_SOCK: path.join(dir, "agent", "agent.sock"),
        KUBECTL_SOPS_KEYCHAIN_SERVICE: `kubectl-sops-test-${name}-${process.pid}-${Date.now()}`,
    }
    for (const k of CLEARED) delete env[k]
    const ks = (args: readonly string[], extra: Record<string, string> = {}) => run(args, { cwd: repo, env: { ...env, ...extra } })
    return { dir, home, repo, env, ks }
}
