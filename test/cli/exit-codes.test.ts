import { describe, expect, it } from "vitest"
import { EXIT_CODES, exitCodeFor } from "../../src/cli/exit-codes.js"
import { renderError } from "../../src/cli/errors.js"
import { ConfigError, ErrorKind, FormatError, KsopsError, MacMismatchError, MetadataNotFoundError, UsageError } from "../../src/errors.js"

describe("exit codes", () => {
    it("maps every error kind", () => {
        for (const kind of Object.values(ErrorKind)) expect(typeof EXIT_CODES[kind]).toBe("number")
    })

    it("uses sops' numbers", () => {
        expect(exitCodeFor(ErrorKind.CouldNotReadInputFile)).toBe(2)
        expect(exitCodeFor(ErrorKind.CouldNotWriteOutputFile)).toBe(3)
        expect(exitCodeFor(ErrorKind.ConflictingParameters)).toBe(8)
        expect(exitCodeFor(ErrorKind.DecryptingTree)).toBe(25)
        expect(exitCodeFor(ErrorKind.MacMismatch)).toBe(51)
        expect(exitCodeFor(ErrorKind.InvalidTreePathFormat)).toBe(91)
        expect(exitCodeFor(ErrorKind.NoFileSpecified)).toBe(100)
        expect(exitCodeFor(ErrorKind.CouldNotRetrieveKey)).toBe(128)
        expect(exitCodeFor(ErrorKind.FileHasNotBeenModified)).toBe(200)
        expect(exitCodeFor(ErrorKind.FileAlreadyEncrypted)).toBe(203)
        expect(exitCodeFor(ErrorKind.Usage)).toBe(1)
        expect(exitCodeFor(ErrorKind.Config)).toBe(1)
    })
})

describe("renderError", () => {
    it("prints the message and the hint, no stack", () => {
        const r = renderError(new MacMismatchError("MAC mismatch. File has AA, computed BB"))
        expect(r.exitCode).toBe(51)
        const lines = r.text.trimEnd().split("\n")
        expect(lines[0]).toBe("MAC mismatch. File has AA, computed BB")
        expect(lines[1]).toMatch(/^hint: /)
        expect(lines).toHaveLength(2)
    })

    it("prints sops' text for missing metadata", () => {
        const r = renderError(new MetadataNotFoundError())
        expect(r.text.split("\n")[0]).toBe("sops metadata not found")
        expect(r.exitCode).toBe(1)
    })

    it("keeps a multi-line message as is", () => {
        const r = renderError(new KsopsError(ErrorKind.FileAlreadyEncrypted, "line one\n\nline three"))
        expect(r.text).toBe("line one\n\nline three\n")
        expect(r.exitCode).toBe(203)
    })

    it("renders format, config and usage errors with their kinds", () => {
        expect(renderError(new FormatError("bad indent", { line: 3, column: 2 }, { file: "a.yaml" })).text).toBe("a.yaml:3:2: bad indent\n")
        expect(renderError(new ConfigError("no matching creation rules found")).exitCode).toBe(1)
        expect(renderError(new UsageError("x", { kind: ErrorKind.ConflictingParameters })).exitCode).toBe(8)
    })

    it("marks unexpected errors as internal and hides the stack unless debugging", () => {
        const error = new TypeError("boom")
        const plain = renderError(error)
        expect(plain.text).toBe("kubectl-sops: internal error: boom\n")
        expect(plain.exitCode).toBe(1)
        const debug = renderError(error, true)
        expect(debug.text).toContain("at ")
    })
})
