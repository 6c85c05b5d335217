#!/usr/bin/env node
/**
 * The long form of the reliability scenarios (`npm run soak`): the soak for 10 minutes (`--minutes N` or
 * SOAK_MINUTES), then the concurrency scenario at 100,000 operations per store and capacity policy
 * (`--operations N`); with `--scale N` (N > 1) also the store faults, crashes, outage, hostile input and shutdown
 * scenarios at N times their `npm test` size. Each part runs alone, so none takes the others' CPU. The figures of
 * every scenario are appended to one JSON-lines file (`--figures FILE`, default in the temporary directory), whose
 * path is printed at the end; docs/RELIABILITY.md is written from it.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"

const root = Path.resolve(import.meta.dirname, "..")
const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: process.env.SOAK_MINUTES ?? "10" },
    operations: { type: "string", default: "100000" },
    scale: { type: "string", default: "1" },
    figures: { type: "string", default: Path.join(Os.tmpdir(), `effect-sessions-reliability-${Date.now()}.jsonl`) },
    seed: { type: "string" }
  }
})

const number = (name, raw) => {
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number, got ${raw}`)
    process.exit(2)
  }
  return value
}
const minutes = number("minutes", values.minutes)
const operations = Math.floor(number("operations", values.operations))
const scale = number("scale", values.scale)

const env = {
  ...process.env,
  RELIABILITY_SOAK_SECONDS: String(Math.round(minutes * 60)),
  RELIABILITY_OPERATIONS: String(operations),
  RELIABILITY_SCALE: String(scale),
  RELIABILITY_FIGURES: values.figures,
  ...(values.seed === undefined ? {} : { RELIABILITY_SEED: values.seed })
}

const run = (label, command, args) => {
  console.log(`\n== ${label}`)
  const started = Date.now()
  const result = spawnSync(command, args, { cwd: root, env, stdio: "inherit" })
  const seconds = Math.round((Date.now() - started) / 1000)
  console.log(`== ${label}: ${result.status === 0 ? "passed" : `FAILED (exit ${result.status})`} in ${seconds} s`)
  return result.status === 0
}
const vitest = Path.join(root, "node_modules", "vitest", "vitest.mjs")
const scenario = (file) => run(file, process.execPath, [vitest, "run", `test/reliability/${file}`])

const parts = [
  () => scenario("soak.test.ts"),
  () => scenario("concurrency.test.ts")
]
if (scale > 1) {
  parts.push(() =>
    run("build", process.execPath, [
      Path.join(root, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      "tsconfig.build.json"
    ])
  )
  for (
    const file of [
      "faults.test.ts",
      "latency.test.ts",
      "outage.test.ts",
      "crashes.test.ts",
      "hostile.test.ts",
      "shutdown.test.ts"
    ]
  ) {
    parts.push(() => scenario(file))
  }
}
const results = parts.map((part) => part())

console.log(`\nFigures: ${values.figures}`)
if (Fs.existsSync(values.figures)) {
  for (const line of Fs.readFileSync(values.figures, "utf8").split("\n").filter((l) => l !== "")) {
    const { scenario: name, seed } = JSON.parse(line)
    console.log(`  ${name} (seed ${seed})`)
  }
}
process.exit(results.every(Boolean) ? 0 : 1)
