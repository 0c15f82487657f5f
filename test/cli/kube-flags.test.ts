import { describe, expect, test } from "vitest"
import { connectOptions, resolveDryRun, resolveLabels, resolveNamespace, resolveTimeoutMs } from "../../src/cli/kube-flags.js"

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
