import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { isKeyVariable, KEY_VARIABLES } from "../../src/cli/actions/exec.js"
import { binPath } from "../cli/run.js"
import { AGE1, cases, type Sandbox, sandbox } from "./fixtures.js"

const expected = (name: string, file: string) => readFileSync(path.join(cases, name, file), "utf8")

/** A sandbox with the sops dotenv vector as app.env and the JSON vector as app.json. */
function execSandbox(): Sandbox {
    const sb = sandbox()
    sb.copy("dotenv/out.stdout", "app.env")
    sb.copy("json/out.stdout", "app.json")
    sb.copy("decrypt/input.yaml", "secret.yaml")
    return sb
}

/** Encrypt a plaintext YAML document into the sandbox with kubectl-sops itself. */
async function encryptYaml(sb: Sandbox, name: string, plain: string): Promise<void> {
    writeFileSync(path.join(sb.dir, `${name}.plain.yaml`), plain)
    const r = await sb.run(["encrypt", "--age", AGE1, "--output", name, `${name}.plain.yaml`])
    expect(r.code, r.stderr).toBe(0)
}

/** Lines of the form `path=/tmp/.sopsXXXX/name` printed by a command. */
function printedPath(stdout: string): string {
    const m = /^path=(.*)$/m.exec(stdout)
    if (!m) throw new Error(`no path printed in ${JSON.stringify(stdout)}`)
    return m[1]
}

/** Start the bin without waiting; resolves the exit once it ends. */
function start(sb: Sandbox, args: string[]) {
    const child = spawn(process.execPath, [binPath, ...args], { cwd: sb.dir, env: sb.env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString()
    })
    child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString()
    })
    const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        child.on("close", (code) => resolve({ code, stdout, stderr }))
    })
    /** Wait until stdout matches (on its data events) or the command ends; at most 30 s. */
    const waitFor = (re: RegExp) =>
        new Promise<string>((resolve) => {
            const done = () => {
                clearTimeout(timer)
                child.stdout.off("data", onData)
                child.off("close", done)
                resolve(stdout)
            }
            // registered after the collector above, so `stdout` already holds the chunk
            const onData = () => {
                if (re.test(stdout)) done()
            }
            const timer = setTimeout(done, 30_000)
            child.stdout.on("data", onData)
            child.once("close", done)
            if (re.test(stdout) || child.exitCode !== null) done()
        })
    return { child, exited, waitFor }
}

describe("kubectl sops exec-env", () => {
    it("adds the decrypted top-level values of a dotenv file to the environment", async () => {
        const sb = execSandbox()
        // `${EMPTY+set}`: EMPTY is set, to the empty string.
        const script = 'printf "%s|%s|%s|%s|%s" "$DB_USER" "$DB_PASSWORD" "$EMPTY" "$WITH_SPACES" "$' + '{EMPTY+set}"'
        const r = await sb.run(["exec-env", "app.env", script])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(r.stdout).toBe("admin|change-me||hello world|set")
    })

    it("keeps the inherited environment, the decrypted values win", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-env", "app.env", 'echo "$DB_USER $OUTER"'], { env: { DB_USER: "outer-user", OUTER: "kept" } })
        expect(r.code).toBe(0)
        expect(r.stdout).toBe("admin kept\n")
    })

    it("--pristine passes only the decrypted values", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-env", "--pristine", "app.env", "env"], { env: { OUTER: "dropped" } })
        expect(r.code).toBe(0)
        // The shell adds PWD itself.
        const names = r.stdout
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => l.split("=")[0])
            .filter((n) => n !== "PWD" && n !== "SHLVL" && n !== "_")
            .sort()
        expect(names).toEqual(["DB_PASSWORD", "DB_USER", "EMPTY", "WITH_SPACES"])
    })

    it("converts numbers, booleans and null like sops' ValToString", async () => {
        const sb = execSandbox()
        await encryptYaml(sb, "flat.yaml", "port: 8080\nratio: 0.25\nwhole: 3.0\nbig: 1e21\n'on': true\nnone: null\nneg: -7\n")
        const r = await sb.run(["exec-env", "flat.yaml", 'echo "$port|$ratio|$whole|$big|$on|$none|$neg"'])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(r.stdout).toBe("8080|0.25|3.0|1E+21|true|<nil>|-7\n")
    })

    it("refuses nested values with sops' message and does not run the command", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-env", "app.json", "touch ran"])
        expect(r.code).toBe(1)
        expect(r.stderr.split("\n")[0]).toBe("cannot use complex value in environment; offending key list")
        expect(existsSync(path.join(sb.dir, "ran"))).toBe(false)
    })

    it("refuses keys containing '='", async () => {
        const sb = execSandbox()
        await encryptYaml(sb, "eq.yaml", "'a=b': x\n")
        const r = await sb.run(["exec-env", "eq.yaml", "touch ran"])
        expect(r.code).toBe(1)
        expect(r.stderr.split("\n")[0]).toBe("cannot use keys with '=' in environment: a=b")
        expect(existsSync(path.join(sb.dir, "ran"))).toBe(false)
    })

    it("exits with the command's status and prints sops' line", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-env", "app.env", "exit 7"])
        expect(r.code).toBe(7)
        expect(r.stderr).toBe("exit status 7\n")
        const same = await sb.run(["exec-env", "--same-process", "app.env", 'echo "$DB_USER"; exit 7'])
        expect(same.code).toBe(7)
        expect(same.stdout).toBe("admin\n")
        expect(same.stderr).toBe("")
    })

    it("exits 128+N when the command is killed by signal N", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-env", "app.env", "kill -TERM $$"])
        expect(r.code).toBe(143)
        expect(r.stderr).toBe("signal: terminated\n")
    })

    it("--background returns at once and the command goes on", async () => {
        const sb = execSandbox()
        const go = path.join(sb.dir, "go")
        const marker = path.join(sb.dir, "bg.txt")
        // The command waits for the test's go file, then writes the marker atomically (rename).
        // (bounded: it gives up after about a minute should the test fail before creating the go file)
        const script = `i=0; while [ ! -e ${go} ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i + 1)); done; echo "$DB_USER" > ${marker}.part && mv ${marker}.part ${marker}`
        const r = await sb.run(["exec-env", "--background", "app.env", script])
        expect(r.code).toBe(0)
        expect(r.stderr).toContain("--background option is deprecated")
        // returned while the command is still waiting
        expect(existsSync(marker)).toBe(false)
        writeFileSync(go, "")
        const deadline = Date.now() + 30_000
        while (!existsSync(marker) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10))
        expect(readFileSync(marker, "utf8")).toBe("admin\n")
    })

    it("--background with --same-process exits 8", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-env", "--background", "--same-process", "app.env", "touch ran"])
        expect(r.code).toBe(8)
        expect(r.stderr).toContain("Error: The --same-process flag cannot be used with --background")
        expect(existsSync(path.join(sb.dir, "ran"))).toBe(false)
    })

    it("takes --input-type for a file without a known extension", async () => {
        const sb = execSandbox()
        sb.copy("dotenv/out.stdout", "app.txt")
        const r = await sb.run(["exec-env", "--no-agent", "--input-type", "dotenv", "app.txt", 'echo "$DB_PASSWORD"'])
        expect(r.code).toBe(0)
        expect(r.stdout).toBe("change-me\n")
    })

    it("exits like sops for a missing file (2), a missing key (128) and missing arguments (1)", async () => {
        const sb = execSandbox()
        const missing = await sb.run(["exec-env", "missing.env", "touch ran"])
        expect(missing.code).toBe(2)
        expect(missing.stderr).toContain("missing.env")
        const noKey = await sb.run(["exec-env", "app.env", "touch ran"], { env: { SOPS_AGE_KEY_FILE: "/nonexistent" } })
        expect(noKey.code).toBe(128)
        expect((await sb.run(["exec-env", "app.env"])).code).toBe(1)
        expect(existsSync(path.join(sb.dir, "ran"))).toBe(false)
    })

    it("--user runs the command as that user (root) or is refused (not root)", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-env", "--user", "nobody", "app.env", 'echo "$(id -u) $USER $LOGNAME $DB_USER"'])
        if (process.getuid?.() === 0) {
            expect(r.stderr).toBe("")
            expect(r.code).toBe(0)
            expect(r.stdout).toBe("65534 nobody nobody admin\n")
        } else {
            expect(r.code).toBe(1)
            expect(r.stderr).toContain("operation not permitted")
        }
        const unknown = await sb.run(["exec-env", "--user", "no-such-user-ksops", "app.env", "touch ran"])
        expect(unknown.code).toBe(1)
        expect(unknown.stderr.split("\n")[0]).toBe("user: unknown user no-such-user-ksops")
        expect(existsSync(path.join(sb.dir, "ran"))).toBe(false)
    })
})

describe("kubectl sops exec-file", () => {
    it("gives the command a FIFO with the plaintext in a private folder, removed afterwards", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-file", "secret.yaml", 'echo "path={}"; stat -c "%F %a" {}; stat -c "%a" "$(dirname {})"; cat {}'])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        const file = printedPath(r.stdout)
        expect(path.basename(file)).toBe("tmp-file")
        const [, kind, dirMode] = r.stdout.split("\n")
        expect(kind).toBe("fifo 600")
        expect(dirMode).toBe("700")
        expect(r.stdout.split("\n").slice(3).join("\n")).toBe(expected("decrypt", "out.stdout"))
        expect(existsSync(path.dirname(file))).toBe(false)
    })

    it("cat {} reproduces what decrypt prints", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-file", "secret.yaml", "cat {}"])
        expect(r.code).toBe(0)
        expect(r.stdout).toBe(expected("decrypt", "out.stdout"))
    })

    it("--no-fifo writes a 0600 regular file named tmp-file<digits>", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-file", "--no-fifo", "secret.yaml", 'echo "path={}"; stat -c "%F %a" {}; cat {} {} | wc -l'])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        const file = printedPath(r.stdout)
        expect(path.basename(file)).toMatch(/^tmp-file\d+$/)
        const lines = r.stdout.split("\n")
        expect(lines[1]).toBe("regular file 600")
        // A regular file can be read twice.
        expect(Number(lines[2])).toBe(2 * expected("decrypt", "out.stdout").split("\n").length - 2)
        expect(existsSync(path.dirname(file))).toBe(false)
    })

    it("--filename names the temp file; a non-local name is refused", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-file", "--filename", "secret.yaml", "secret.yaml", 'echo "path={}"'])
        expect(r.code).toBe(0)
        expect(path.basename(printedPath(r.stdout))).toBe("secret.yaml")
        const bad = await sb.run(["exec-file", "--filename", "../escape", "secret.yaml", "touch ran"])
        expect(bad.code).toBe(1)
        expect(bad.stderr.split("\n")[0]).toBe("The provided filename is not a local path.")
        expect(existsSync(path.join(sb.dir, "ran"))).toBe(false)
    })

    it("--output-type emits the plaintext in another format", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-file", "--output-type", "json", "secret.yaml", "cat {}"])
        expect(r.code).toBe(0)
        expect(JSON.parse(r.stdout)).toEqual({
            apiVersion: "v1",
            data: { password: "Y2hhbmdlLW1l", user: "YWRtaW4=" },
            kind: "Secret",
            metadata: { creationTimestamp: null, name: "basic-auth" },
        })
    })

    it("passes the command's exit status through and still removes the folder", async () => {
        const sb = execSandbox()
        for (const fifo of [[], ["--no-fifo"]]) {
            const r = await sb.run(["exec-file", ...fifo, "secret.yaml", 'echo "path={}"; exit 3'])
            expect(r.code).toBe(3)
            expect(r.stderr).toBe("exit status 3\n")
            expect(existsSync(path.dirname(printedPath(r.stdout)))).toBe(false)
        }
    })

    it("does not hang when the command never opens the FIFO or stops reading early", async () => {
        const sb = execSandbox()
        // Larger than a pipe buffer (64 KiB).
        const plain = Array.from({ length: 3000 }, (_, i) => `k${i}: ${"x".repeat(60)}`).join("\n")
        await encryptYaml(sb, "big.yaml", `${plain}\n`)
        const never = await sb.run(["exec-file", "big.yaml", 'echo "path={}"'])
        expect(never.code).toBe(0)
        expect(existsSync(path.dirname(printedPath(never.stdout)))).toBe(false)
        const early = await sb.run(["exec-file", "big.yaml", "head -c 12 {}"])
        expect(early.code).toBe(0)
        expect(early.stdout).toBe("k0: xxxxxxxx")
        const all = await sb.run(["exec-file", "big.yaml", "wc -c < {}"])
        expect(all.code).toBe(0)
        expect(Number(all.stdout.trim())).toBe(plain.length + 1)
    })

    it("forwards SIGTERM to the command, exits with its status and removes the folder", async () => {
        const sb = execSandbox()
        const run = start(sb, ["exec-file", "secret.yaml", "trap 'kill $p; exit 5' TERM; sleep 20 >/dev/null 2>&1 & p=$!; echo \"path={}\"; wait"])
        const file = printedPath(await run.waitFor(/^path=/m))
        expect(existsSync(file)).toBe(true)
        run.child.kill("SIGTERM")
        const r = await run.exited
        expect(r.code).toBe(5)
        expect(existsSync(path.dirname(file))).toBe(false)
    })

    it("forwards SIGINT: a command killed by it makes the exit status 130", async () => {
        const sb = execSandbox()
        const run = start(sb, ["exec-file", "--no-fifo", "secret.yaml", 'echo "path={}"; exec sleep 20'])
        const file = printedPath(await run.waitFor(/^path=/m))
        run.child.kill("SIGINT")
        const r = await run.exited
        expect(r.code).toBe(130)
        expect(r.stderr).toBe("signal: interrupt\n")
        expect(existsSync(path.dirname(file))).toBe(false)
    })

    it("takes the decrypt options: the MAC is checked unless --ignore-mac", async () => {
        const sb = execSandbox()
        sb.copy("err-mac-mismatch/input.yaml", "tampered.yaml")
        const checked = await sb.run(["exec-file", "tampered.yaml", "touch ran"])
        expect(checked.code).toBe(51)
        expect(existsSync(path.join(sb.dir, "ran"))).toBe(false)
        const ignored = await sb.run(["exec-file", "--ignore-mac", "tampered.yaml", "cat {} > out.yaml"])
        expect(ignored.code).toBe(0)
        expect(readFileSync(path.join(sb.dir, "out.yaml"), "utf8")).toContain("apiVersion")
    })

    it("--background is accepted with sops' warning and the command still sees the file", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-file", "--background", "secret.yaml", "cat {}"])
        expect(r.code).toBe(0)
        expect(r.stderr).toContain("--background option is deprecated")
        expect(r.stdout).toBe(expected("decrypt", "out.stdout"))
    })

    it("--user hands the folder and the FIFO to that user (root) or is refused (not root)", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-file", "--user", "nobody", "secret.yaml", "id -u; cat {}"])
        if (process.getuid?.() === 0) {
            expect(r.stderr).toBe("")
            expect(r.code).toBe(0)
            expect(r.stdout).toBe(`65534\n${expected("decrypt", "out.stdout")}`)
        } else {
            expect(r.code).toBe(1)
            expect(r.stderr).toContain("operation not permitted")
        }
    })

    it("quotes {}: a --filename with ';' runs nothing", async () => {
        const sb = execSandbox()
        const r = await sb.run(["exec-file", "--filename", "a;touch pwned", "secret.yaml", "printf 'path=%s\\n' {}; cat {}"])
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(path.basename(printedPath(r.stdout))).toBe("a;touch pwned")
        expect(r.stdout.split("\n").slice(1).join("\n")).toBe(expected("decrypt", "out.stdout"))
        expect(existsSync(path.join(sb.dir, "pwned"))).toBe(false)
    })

    it.each([
        ["spaces", "my temp dir"],
        ["$& and other replacement patterns", "x$&y$'z$`w$$"],
    ])("quotes {}: a TMPDIR with %s", async (_, name) => {
        const sb = execSandbox()
        const tmp = path.join(sb.dir, name)
        mkdirSync(tmp)
        for (const fifo of [[], ["--no-fifo"]]) {
            const r = await sb.run(["exec-file", ...fifo, "secret.yaml", "printf 'path=%s\\n' {}; cat {}"], { env: { TMPDIR: tmp } })
            expect(r.stderr).toBe("")
            expect(r.code).toBe(0)
            const file = printedPath(r.stdout)
            expect(path.dirname(path.dirname(file))).toBe(tmp)
            expect(r.stdout.split("\n").slice(1).join("\n")).toBe(expected("decrypt", "out.stdout"))
            expect(existsSync(path.dirname(file))).toBe(false)
        }
    })
})

describe("--user and the key variables", () => {
    const keyEnv = {
        SOPS_AGE_KEY: "not-a-real-key",
        SOPS_AGE_KEY_CMD: "false",
        KUBECTL_SOPS_AGE_PASSPHRASE: "pw1",
        KUBECTL_SOPS_PGP_PASSPHRASE: "pw2",
        KUBECTL_SOPS_KEYCHAIN_PASSPHRASE: "pw3",
        KUBECTL_SOPS_AGENT_SOCK: "/nonexistent/agent.sock",
        VAULT_TOKEN: "token",
        OUTER: "kept",
    }
    const names = (stdout: string) =>
        stdout
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => l.split("=")[0])

    it("names every key variable in one list", () => {
        for (const name of [
            "SOPS_AGE_KEY",
            "SOPS_AGE_KEY_FILE",
            "SOPS_AGE_KEY_CMD",
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
            "KUBECTL_SOPS_AGE_PASSPHRASE",
            "KUBECTL_SOPS_PGP_PASSPHRASE",
            "KUBECTL_SOPS_KEYCHAIN_PASSPHRASE",
            "KUBECTL_SOPS_PGP_KEY_FILE",
            "KUBECTL_SOPS_AGENT_SOCK",
            "VAULT_TOKEN",
        ]) {
            expect(isKeyVariable(name), name).toBe(true)
        }
        for (const name of ["PATH", "HOME", "SOPS_AGE_RECIPIENTS", "KUBECTL_SOPS_NO_AGENT", "DB_USER"]) expect(isKeyVariable(name), name).toBe(false)
        expect(KEY_VARIABLES.length).toBeGreaterThan(0)
    })

    it.each(["exec-env", "exec-file"])("%s --user nobody drops them from the command's environment (root)", async (command) => {
        if (process.getuid?.() !== 0) return
        const sb = execSandbox()
        const file = command === "exec-env" ? "app.env" : "secret.yaml"
        const asUser = await sb.run([command, "--no-agent", "--user", "nobody", file, "env"], { env: keyEnv })
        expect(asUser.stderr).toBe("")
        expect(asUser.code).toBe(0)
        const seen = names(asUser.stdout)
        for (const name of [...Object.keys(keyEnv).filter((n) => n !== "OUTER"), "SOPS_AGE_KEY_FILE"]) expect(seen, name).not.toContain(name)
        expect(seen).toContain("OUTER")
        if (command === "exec-env") expect(seen).toContain("DB_USER")
        // without --user the environment is passed on as it is
        const asMe = await sb.run([command, "--no-agent", file, "env"], { env: keyEnv })
        expect(asMe.code).toBe(0)
        expect(names(asMe.stdout)).toContain("VAULT_TOKEN")
    })
})
