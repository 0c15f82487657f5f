/** Text and JSON output of `check` (never any secret value or private key: reports hold public facts only). */
import type { CheckReport, FileResult } from "./check.js"

function label(f: FileResult): string {
    let s = f.path
    if (f.document !== undefined) s += ` (document ${f.document + 1})`
    if (f.object !== undefined && f.field !== undefined) s += ` [${f.object} data.${f.field}]`
    else if (f.field !== undefined) s += ` [${f.field}]`
    return s
}

function indent(text: string): string {
    const [first, ...rest] = text.split("\n")
    return [first, ...rest.map((l) => (l === "" ? "" : `    ${l}`))].join("\n")
}

/** The text report: one line per file, warnings, a summary. */
export function renderText(r: CheckReport, verbose: boolean): string {
    const out: string[] = []
    if (r.keys.length > 0 && verbose) {
        out.push(`keys: ${r.keys.map((k) => `${k.type} ${k.id} (${k.entry}${k.note === undefined ? "" : `, ${k.note}`})`).join(", ")}`)
    }
    if (r.error !== undefined) {
        out.push(`✗ ${indent(r.error)}`)
        if (r.error.startsWith("failed to import") && r.files.length > 0) out.push("  (this stops the reconcile before any file; the lines below assume the other entries were imported)")
    }
    for (const f of r.files) {
        if (f.result === "decrypts") out.push(`✔ ${label(f)}  decrypts with ${f.key ?? "?"}${f.likely ? " (likely: needs the controller's cloud identity or token)" : ""}`)
        else if (f.result === "fails") out.push(`✗ ${label(f)}  ${indent(f.error ?? "fails")}`)
        else if (verbose) out.push(`· ${label(f)}  ${f.result}${f.note === undefined ? "" : `: ${f.note}`}`)
    }
    for (const w of r.warnings) out.push(`⚠️ ${w}`)
    const count = (k: FileResult["result"]) => r.files.filter((f) => f.result === k).length
    const parts = [`${count("decrypts")} decrypt`, `${count("fails")} fail`]
    if (count("plaintext") > 0) parts.push(`${count("plaintext")} not encrypted`)
    if (count("skipped") > 0) parts.push(`${count("skipped")} skipped`)
    out.push(
        r.ok
            ? `✔ kustomize-controller would decrypt ${r.path}: ${parts.join(", ")}`
            : `✗ kustomize-controller would fail on ${r.path}: ${parts.join(", ")}${r.error === undefined ? "" : " (and the error above stops the reconcile)"}`,
    )
    return `${out.join("\n")}\n`
}

/** The JSON report (stable schema: ok, path, keys, files, warnings, error?). */
export function renderJson(r: CheckReport): string {
    return `${JSON.stringify(r, null, 2)}\n`
}
