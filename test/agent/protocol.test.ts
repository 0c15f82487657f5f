import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodeRequest, parseRequest, parseResponse } from "../../src/agent/codec.js"
import { AgentErrorCode, MAX_REQUEST_BYTES, METHODS_BY_NAME, Methods } from "../../src/agent/protocol.js"

describe("codec", () => {
    it("accepts a valid request and round-trips it", () => {
        const r = parseRequest(encodeRequest(7, "agent/status", {}))
        expect(r).toEqual({ ok: true, request: { jsonrpc: "2.0", id: 7, method: "agent/status", params: {} } })
        const s = parseRequest('{"jsonrpc":"2.0","id":"a","method":"x"}')
        expect(s.ok && s.request.params).toBeUndefined()
    })

    it.each([
        ["not json", "{", AgentErrorCode.ParseError, null],
        ["array (batch)", "[]", AgentErrorCode.InvalidRequest, null],
        ["number", "3", AgentErrorCode.InvalidRequest, null],
        ["wrong version", '{"jsonrpc":"1.0","id":1,"method":"m"}', AgentErrorCode.InvalidRequest, 1],
        ["missing id", '{"jsonrpc":"2.0","method":"m"}', AgentErrorCode.InvalidRequest, null],
        ["float id", '{"jsonrpc":"2.0","id":1.5,"method":"m"}', AgentErrorCode.InvalidRequest, null],
        ["method not string", '{"jsonrpc":"2.0","id":1,"method":3}', AgentErrorCode.InvalidRequest, 1],
        ["params array", '{"jsonrpc":"2.0","id":1,"method":"m","params":[1]}', AgentErrorCode.InvalidRequest, 1],
        ["extra member", '{"jsonrpc":"2.0","id":1,"method":"m","x":1}', AgentErrorCode.InvalidRequest, 1],
    ])("refuses %s", (_name, text, code, id) => {
        const r = parseRequest(text)
        expect(r.ok).toBe(false)
        if (!r.ok) {
            expect("error" in r.response && r.response.error.code).toBe(code)
            expect(r.response.id).toBe(id)
        }
    })

    it("refuses requests over the size limit", () => {
        const big = encodeRequest(1, "keys/import", { text: "x".repeat(MAX_REQUEST_BYTES) })
        const r = parseRequest(big)
        expect(!r.ok && "error" in r.response && r.response.error.code).toBe(AgentErrorCode.TooLarge)
    })

    it("never throws on junk and always answers with a JSON-RPC error or a request", () => {
        fc.assert(
            fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 200 })), (junk) => {
                const r = parseRequest(junk)
                if (r.ok) {
                    expect(typeof r.request.method).toBe("string")
                } else {
                    expect(r.response.jsonrpc).toBe("2.0")
                    expect("error" in r.response).toBe(true)
                }
                parseResponse(typeof junk === "string" ? junk : Buffer.from(junk))
            }),
            { numRuns: 2000 },
        )
    })

    it("parses responses and drops malformed ones", () => {
        expect(parseResponse('{"jsonrpc":"2.0","id":1,"result":{"a":1}}')).toEqual({ jsonrpc: "2.0", id: 1, result: { a: 1 } })
        expect(parseResponse('{"jsonrpc":"2.0","id":1,"error":{"code":-32003,"message":"m","data":{"hint":"h"}}}')).toEqual({
            jsonrpc: "2.0",
            id: 1,
            error: { code: -32003, message: "m", data: { hint: "h" } },
        })
        expect(parseResponse('{"jsonrpc":"2.0","id":1}')).toBeNull()
        expect(parseResponse('{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}')).toBeNull()
        expect(parseResponse("nope")).toBeNull()
    })
})

describe("protocol params", () => {
    it("every method is reachable by name", () => {
        for (const m of Object.values(Methods)) expect(METHODS_BY_NAME.get(m.name)).toBe(m)
        expect(METHODS_BY_NAME.size).toBe(Object.keys(Methods).length)
    })

    it("validates params and refuses unknown fields", () => {
        expect(Methods.unlock.parse({ passphrase: "p" })).toEqual({ passphrase: "p", id: undefined })
        expect(() => Methods.unlock.parse({})).toThrow(/passphrase must be a string/)
        expect(() => Methods.status.parse({ x: 1 })).toThrow(/unknown field/)
        expect(() => Methods.generate.parse({ type: "rsa" })).toThrow(/type must be one of/)
        expect(() => Methods.hello.parse({ version: "1", token: "t" })).toThrow(/version/)
        expect(Methods.unwrap.parse({ entries: [{ type: "age", params: { recipient: "r" }, enc: "e" }] })).toEqual({
            entries: [{ type: "age", params: { recipient: "r" }, enc: "e" }],
        })
        expect(() => Methods.unwrap.parse({ entries: [{ type: "age", params: { r: 1 }, enc: "e" }] })).toThrow(/params/)
        expect(() => Methods.unwrap.parse({ entries: new Array(5000).fill({ type: "age", enc: "" }) })).toThrow(/too many/)
    })

    it("validators throw only protocol errors on junk params", () => {
        fc.assert(
            fc.property(fc.constantFrom(...Object.values(Methods)), fc.anything(), (m, junk) => {
                try {
                    m.parse(junk)
                } catch (e) {
                    const code = (e as { code?: number }).code
                    expect([AgentErrorCode.InvalidParams, AgentErrorCode.TooLarge]).toContain(code)
                }
            }),
            { numRuns: 3000 },
        )
    })
})
