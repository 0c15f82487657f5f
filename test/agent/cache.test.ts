import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { TtlCache } from "../../src/agent/cache.js"

describe("TtlCache", () => {
    beforeEach(() => {
        vi.useFakeTimers()
    })
    afterEach(() => {
        vi.useRealTimers()
    })

    it("idle TTL is reset on use", () => {
        const c = new TtlCache<string, Uint8Array>({ idleTtlMs: 1000, maxTtlMs: 10_000 })
        c.set("a", new Uint8Array([1]))
        vi.advanceTimersByTime(900)
        expect(c.get("a")).toBeDefined()
        vi.advanceTimersByTime(900)
        expect(c.get("a")).toBeDefined() // 1800 ms after insertion, 900 after last use
        vi.advanceTimersByTime(1000)
        expect(c.get("a")).toBeUndefined()
        c.close()
    })

    it("max TTL counts from insertion regardless of use", () => {
        const c = new TtlCache<string, Uint8Array>({ idleTtlMs: 1000, maxTtlMs: 3000 })
        const v = new Uint8Array([9, 9, 9])
        c.set("a", v)
        for (let i = 0; i < 5; i++) {
            vi.advanceTimersByTime(500)
            expect(c.get("a")).toBe(v)
        }
        vi.advanceTimersByTime(500) // 3000 ms
        expect(c.get("a")).toBeUndefined()
        expect([...v]).toEqual([0, 0, 0])
        c.close()
    })

    it("the periodic sweep wipes expired values without access", () => {
        const c = new TtlCache<string, Uint8Array>({ idleTtlMs: 1000, maxTtlMs: 5000, sweepIntervalMs: 1000 })
        const v = new Uint8Array([5, 6])
        c.set("a", v)
        vi.advanceTimersByTime(2001)
        expect([...v]).toEqual([0, 0])
        expect(c.size).toBe(0)
        c.close()
    })

    it("replace, delete and clear wipe values; clear wipes all", () => {
        const c = new TtlCache<string, Uint8Array>({ idleTtlMs: 1000, maxTtlMs: 5000 })
        const a = new Uint8Array([1, 1])
        const b = new Uint8Array([2, 2])
        c.set("k", a)
        c.set("k", b)
        expect([...a]).toEqual([0, 0])
        expect(c.delete("k")).toBe(true)
        expect([...b]).toEqual([0, 0])
        const vs = [new Uint8Array([3]), new Uint8Array([4]), new Uint8Array([5])]
        for (const [i, v] of vs.entries()) c.set(String(i), v)
        expect(c.clear()).toBe(3)
        expect(vs.map((v) => v[0])).toEqual([0, 0, 0])
        expect(c.size).toBe(0)
        c.close()
    })

    it("wipes objects through their wipe()", () => {
        const wiped: string[] = []
        const c = new TtlCache<string, { name: string; wipe(): void }>({ idleTtlMs: 100, maxTtlMs: 200 })
        c.set("x", { name: "x", wipe: () => wiped.push("x") })
        vi.advanceTimersByTime(150)
        expect(c.has("x")).toBe(false)
        expect(wiped).toEqual(["x"])
        c.close()
    })

    it("has() does not reset the idle clock", () => {
        const c = new TtlCache<string, Uint8Array>({ idleTtlMs: 1000, maxTtlMs: 10_000 })
        c.set("a", new Uint8Array(1))
        vi.advanceTimersByTime(600)
        expect(c.has("a")).toBe(true)
        vi.advanceTimersByTime(600)
        expect(c.has("a")).toBe(false)
        c.close()
    })
})
