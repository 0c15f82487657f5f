// Loaded with `node --require` by the benchmark: writes the process's peak RSS (KiB) to $KSOPS_BENCH_RSS_FILE at exit.
const { appendFileSync } = require("node:fs")
process.on("exit", () => {
    const file = process.env.KSOPS_BENCH_RSS_FILE
    if (file) appendFileSync(file, `${process.resourceUsage().maxRSS}\n`)
})
