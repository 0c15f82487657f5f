import { mkdirSync, writeFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, test } from "vitest"
import { connectOptions, kubeContextNamespace, resolveDryRun, resolveLabels, resolveNamespace, resolveTimeoutMs } from "../../src/cli/kube-flags.js"
import { tempDir } from "./run.js"

describe("resolveNamespace", () => {
    test("-n wins, then a valid FLUX_SYSTEM_NAMESPACE, then flux-system", () => {
        const warnings: string[] = []
        const warn = (m: string) => warnings.push(m)
        expect(resolveNamespace({ namespace: "apps" }, { FLUX_SYSTEM_NAMESPACE: "flux" }, warn)).toBe("apps")
        expect(resolveNamespace({}, { FLUX_SYSTEM_NAMESPACE: "flux" }, warn)).toBe("flux")
        expect(resolveNamespace({}, {}, warn)).toBe("flux-system")
        expect(warnings).toEqual([])
    })

    test("an invalid FLUX_SYSTEM_NAMESPACE is ignored with flux's warning", () => {
        const warnings: string[] = []
        expect(resolveNamespace({}, { FLUX_SYSTEM_NAMESPACE: "Bad_NS" }, (m) => warnings.push(m))).toBe("flux-system")
        expect(warnings).toEqual(['ignoring invalid FLUX_SYSTEM_NAMESPACE: "Bad_NS"'])
    })

    test("an invalid -n is an error", () => {
        expect(() => resolveNamespace({ namespace: "Bad" }, {}, () => {})).toThrow(/^invalid namespace 'Bad': \[a lowercase RFC 1123 label must consist of/)
    })
})

/** A kubeconfig with the given current context and contexts (name → namespace, undefined for none). */
function kubeconfig(current: string | undefined, contexts: Record<string, string | undefined>): string {
    const lines = ["apiVersion: v1", "kind: Config", ...(current === undefined ? [] : [`current-context: ${current}`]), "clusters:", "- name: c", "  cluster:", "    server: https://127.0.0.1:6443", "contexts:"]
    for (const [name, ns] of Object.entries(contexts)) {
        lines.push(`- name: ${name}`, "  context:", "    cluster: c", ...(ns === undefined ? [] : [`    namespace: ${ns}`]))
    }
    return `${lines.join("\n")}\n`
}

describe("--ns-follows-kube-context / FLUX_NS_FOLLOWS_KUBE_CONTEXT", () => {
    const dir = tempDir("ksops-kubeflags-")
    const write = (name: string, text: string) => {
        const file = path.join(dir, name)
        writeFileSync(file, text)
        return file
    }
    const main = write("main", kubeconfig("dev", { dev: "team-a", prod: "team-b", bare: undefined }))
    const none = () => {}

    test("off unless the flag or the env asks: the context's namespace is not read", () => {
        expect(resolveNamespace({}, { KUBECONFIG: main }, none, dir)).toBe("flux-system")
        expect(resolveNamespace({ kubeconfig: main }, { FLUX_NS_FOLLOWS_KUBE_CONTEXT: "" }, none, dir)).toBe("flux-system")
    })

    test("precedence: -n > the context's namespace > FLUX_SYSTEM_NAMESPACE > flux-system", () => {
        const on = { "ns-follows-kube-context": true }
        expect(resolveNamespace({ ...on, namespace: "apps" }, { KUBECONFIG: main }, none, dir)).toBe("apps")
        expect(resolveNamespace(on, { KUBECONFIG: main, FLUX_SYSTEM_NAMESPACE: "flux" }, none, dir)).toBe("team-a")
        expect(resolveNamespace({ ...on, context: "bare" }, { KUBECONFIG: main, FLUX_SYSTEM_NAMESPACE: "flux" }, none, dir)).toBe("flux")
        expect(resolveNamespace({ ...on, context: "bare" }, { KUBECONFIG: main }, none, dir)).toBe("flux-system")
        // like flux, any non-empty value of the variable opts in
        expect(resolveNamespace({}, { KUBECONFIG: main, FLUX_NS_FOLLOWS_KUBE_CONTEXT: "1" }, none, dir)).toBe("team-a")
    })

    test("--context picks the context; a missing context or kubeconfig falls through", () => {
        expect(kubeContextNamespace({ context: "prod" }, { KUBECONFIG: main }, dir)).toBe("team-b")
        expect(kubeContextNamespace({ context: "nope" }, { KUBECONFIG: main }, dir)).toBeUndefined()
        expect(kubeContextNamespace({ kubeconfig: path.join(dir, "missing") }, {}, dir)).toBeUndefined()
        expect(kubeContextNamespace({}, { KUBECONFIG: write("broken", "contexts: [\n") }, dir)).toBeUndefined()
        expect(kubeContextNamespace({}, { KUBECONFIG: write("nocurrent", kubeconfig(undefined, { dev: "x" })) }, dir)).toBeUndefined()
    })

    test("--kubeconfig (relative to cwd) wins over KUBECONFIG; ~/.kube/config is the default", () => {
        write("other", kubeconfig("dev", { dev: "from-flag" }))
        expect(kubeContextNamespace({ kubeconfig: "other" }, { KUBECONFIG: main }, dir)).toBe("from-flag")
        const home = path.join(dir, "home")
        mkdirSync(path.join(home, ".kube"), { recursive: true })
        writeFileSync(path.join(home, ".kube", "config"), kubeconfig("dev", { dev: "from-home" }))
        expect(kubeContextNamespace({}, { HOME: home }, dir)).toBe("from-home")
        expect(kubeContextNamespace({}, { HOME: path.join(dir, "no-home") }, dir)).toBeUndefined()
    })

    test("a KUBECONFIG list merges like client-go: first current-context and first definition of a context win, missing files skipped", () => {
        const a = write("a", kubeconfig(undefined, { dev: "first" }))
        const b = write("b", kubeconfig("dev", { dev: "second", prod: "p" }))
        const list = [path.join(dir, "absent"), a, b].join(path.delimiter)
        expect(kubeContextNamespace({}, { KUBECONFIG: list }, dir)).toBe("first")
        expect(kubeContextNamespace({ context: "prod" }, { KUBECONFIG: list }, dir)).toBe("p")
        expect(kubeContextNamespace({}, { KUBECONFIG: ["a", "b"].join(path.delimiter) }, dir)).toBe("first")
    })

    test("an invalid context namespace is flux's error", () => {
        const bad = write("bad", kubeconfig("dev", { dev: "Team_A" }))
        expect(() => resolveNamespace({ "ns-follows-kube-context": true }, { KUBECONFIG: bad }, none, dir)).toThrow('namespace must be a valid DNS label: "Team_A"')
    })
})

describe("other resolvers", () => {
    test("dry-run, timeout, labels, connect options", () => {
        expect(resolveDryRun({})).toBe("none")
        expect(resolveDryRun({ "dry-run": "client" })).toBe("client")
        expect(resolveTimeoutMs({ timeout: "5m" })).toBe(300_000)
        expect(resolveTimeoutMs({})).toBe(300_000)
        expect(() => resolveTimeoutMs({ timeout: "5" })).toThrow('invalid argument "5" for "--timeout" flag: time: missing unit in duration "5"')
        expect(resolveLabels({ label: ["a=b", "c=d,e=f"] })).toEqual({ a: "b", c: "d", e: "f" })
        expect(connectOptions({ kubeconfig: "k", context: "c" }, {})).toEqual({ kubeconfig: "k", context: "c", env: {} })
        expect(connectOptions({}, { KUBECONFIG: "x" })).toEqual({ env: { KUBECONFIG: "x" } })
    })
})
