import { spawnSync } from "node:child_process"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { binPath, needs, run, tempDir, which } from "./run.js"

const env = { ...process.env, PATH: `${path.dirname(binPath)}:${process.env.PATH ?? "/usr/bin:/bin"}` }

/** Ask the bash completion function for the candidates of a command line (the last word is completed). */
function bashComplete(words: string[], cwd: string): string[] {
    const script = `
source <(kubectl-sops completion bash)
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length - 1}
_kubectl_sops
printf '%s\\n' "\${COMPREPLY[@]}"
`
    const r = spawnSync("bash", ["-c", script], { env, cwd, encoding: "utf8" })
    expect(r.stderr).toBe("")
    return r.stdout.split("\n").filter((l) => l !== "")
}

describe("completion", () => {
    it("registers a bash completion for kubectl-sops", () => {
        const r = spawnSync("bash", ["-c", "source <(kubectl-sops completion bash); complete -p kubectl-sops"], { env, encoding: "utf8" })
        expect(r.status).toBe(0)
        expect(r.stdout).toMatch(/complete .*-F _kubectl_sops kubectl-sops/)
    })

    it("completes commands, flags, flag values and file names in bash", () => {
        const dir = tempDir()
        spawnSync("touch", [path.join(dir, "secret.yaml")])
        expect(bashComplete(["kubectl-sops", "enc"], dir)).toEqual(["encrypt"])
        expect(bashComplete(["kubectl-sops", "decrypt", "--ext"], dir)).toEqual(["--extract"])
        expect(bashComplete(["kubectl-sops", "decrypt", "--input-type", "j"], dir)).toEqual(["json"])
        expect(bashComplete(["kubectl-sops", "encrypt", "sec"], dir)).toEqual(["secret.yaml"])
        expect(bashComplete(["kubectl-sops", "completion", ""], dir)).toEqual(["bash", "zsh"])
    })

    // compinit -D writes no dump file (never use -d /dev/null: as root, compinit renames its dump over the target).
    it.runIf(needs("zsh"))("registers a zsh completion for kubectl-sops", () => {
        const r = spawnSync(
            "zsh",
            ["-f", "-c", "autoload -Uz compinit && compinit -u -D && source <(kubectl-sops completion zsh) && print -r -- $_comps[kubectl-sops]"],
            { env, encoding: "utf8" },
        )
        expect(r.stderr).toBe("")
        expect(r.stdout.trim()).toBe("_kubectl_sops")
    })

    it("answers kubectl's plugin completion (kubectl_complete-sops)", () => {
        const complete = (...words: string[]) =>
            spawnSync(path.join(path.dirname(binPath), "kubectl_complete-sops"), words, { env, encoding: "utf8" }).stdout
        expect(complete("enc")).toBe("encrypt\n:4\n")
        expect(complete("decrypt", "--input-type", "j")).toBe("json\n:4\n")
        expect(complete("rotate", "--add-a")).toBe("--add-age\n--add-azure-kv\n:4\n")
        expect(complete("encrypt", "")).toBe(":0\n")
    })

    it.runIf(needs("kubectl"))("completes `kubectl sops …` through kubectl", () => {
        const r = spawnSync(which("kubectl") ?? "kubectl", ["__complete", "sops", "file"], { env, encoding: "utf8" })
        expect(r.stdout).toBe("filestatus\n:4\n")
    })

    it("rejects other shells", async () => {
        const r = await run(["completion", "fish"])
        expect(r.code).toBe(1)
        expect(r.stderr).toContain("bash, zsh")
    })
})
