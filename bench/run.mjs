/**
 * Runs every benchmark, each (workload, subject) pair in its own Node process (a warm-up, then the median of three
 * runs), and writes `bench/results.json`, `bench/RESULTS.md` (tables with ratio columns, the targets, met or not)
 * and the charts in `bench/charts/`. `node bench/run.mjs` for the full run, `--quick` for a short one with smaller
 * sizes and shorter HTTP runs (same workloads, same subjects). Needs `npm run build` first (npm run bench does it).
 * `--only <script>` (e.g. `--only postgres`) runs one workload script's pairs alone and prints their tables instead
 * of writing the report (results.json, RESULTS.md and the charts stay those of the last whole run). The Postgres
 * workload needs a server: `BENCH_PG_URL`, default postgres://postgres@127.0.0.1:5432/test (a schema per process,
 * dropped at its end).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { renderCharts } from "./lib/charts.mjs"
import { targetLines, updateReadme, workloadSections, writeResults } from "./lib/report.mjs"

const quick = process.argv.includes("--quick")
const here = import.meta.dirname
const memorySubjects = ["effect-sessions", "Map", "lru-cache", "express-session MemoryStore"]
const sqliteSubjects = [
  "effect-sessions",
  "raw better-sqlite3",
  "raw better-sqlite3 batched",
  "better-sqlite3-session-store"
]
const httpSubjects = [
  "effect-sessions",
  "effect-sessions-middleware",
  "express-session-memory",
  "express-session-sqlite",
  "httpapi-floor",
  "node-floor"
]
const postgresSubjects = [
  "effect-sessions",
  "effect-sessions store alone",
  "raw pg",
  "@effect/sql-pg",
  "connect-pg-simple"
]

const size = (full, short) => (quick ? short : full)

/** Every measurement: workload, script, subjects, parameters, node flags. */
const plan = [
  ...[...memorySubjects, "effect-sessions, a span per call"].map((subject) => ({
    workload: "crud",
    script: "memory",
    subject,
    params: { workload: "crud", n: size(100_000, 20_000) }
  })),
  ...[1_000, size(100_000, 20_000)].flatMap((n) =>
    memorySubjects.map((subject) => ({
      workload: `sweep ${n}`,
      script: "memory",
      subject,
      params: { workload: "sweep", n }
    }))
  ),
  ...["effect-sessions", "Map", "lru-cache"].map((subject) => ({
    workload: "eviction",
    script: "memory",
    subject,
    params: { workload: "eviction", capacity: 10_000, inserts: size(100_000, 30_000) }
  })),
  ...memorySubjects.map((subject) => ({
    workload: "heap",
    script: "memory",
    subject,
    flags: ["--expose-gc"],
    params: { workload: "heap", n: size(100_000, 20_000) }
  })),
  ...sqliteSubjects.map((subject) => ({
    workload: "sqlite crud",
    script: "sqlite",
    subject,
    params: { workload: "crud", n: size(20_000, 2_000) }
  })),
  ...["effect-sessions", "raw better-sqlite3", "better-sqlite3-session-store"].map((subject) => ({
    workload: "sqlite sweep",
    script: "sqlite",
    subject,
    params: { workload: "sweep", n: size(100_000, 5_000) }
  })),
  ...["full", "normal"].flatMap((synchronous) =>
    ["effect-sessions", "raw better-sqlite3"].map((subject) => ({
      workload: `sqlite create c=50 ${synchronous}`,
      script: "sqlite",
      subject,
      params: {
        workload: "concurrent create",
        callers: 50,
        synchronous,
        n: size(synchronous === "full" ? 3_000 : 20_000, 1_000)
      }
    }))
  ),
  ...["effect-sessions", "effect-sessions SQLite"].map((subject) => ({
    workload: "latency under sweep",
    script: "latency",
    subject,
    params: { n: size(100_000, 10_000) }
  })),
  ...[1_000, 10_000, ...(quick ? [] : [100_000, 1_000_000])].map((n) => ({
    workload: `scaling ${n}`,
    script: "scaling",
    subject: "effect-sessions",
    params: { n }
  })),
  ...[
    "session permit (KeyedLocks)",
    "session permit (Semaphore table)",
    "shutdown gate (field)",
    "shutdown gate (Ref)"
  ].map((subject) => ({
    workload: "primitives",
    script: "primitives",
    subject,
    params: { n: size(200_000, 50_000) }
  })),
  ...httpSubjects.map((subject) => ({
    workload: "http",
    script: "http",
    subject,
    params: { duration: size(10, 1), warmup: size(2, 1), connections: 50 }
  })),
  ...[1, 16].flatMap((concurrency) =>
    postgresSubjects.map((subject) => ({
      workload: `postgres c=${concurrency}`,
      script: "postgres",
      subject,
      params: {
        concurrency,
        sessions: 1_000,
        pool: 10,
        ops: concurrency === 1 ? size(300, 100) : size(1_000, 300)
      }
    }))
  )
]

const onlyAt = process.argv.indexOf("--only")
const only = onlyAt < 0 ? undefined : process.argv[onlyAt + 1]
const selected = only === undefined ? plan : plan.filter((entry) => entry.script === only)
if (selected.length === 0) throw new Error(`no workload script ${only}`)

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** Runs one pair in its own process; its runs summarised per metric as median, min and max. */
const measure = (entry) => {
  const started = performance.now()
  const result = ChildProcess.spawnSync(
    process.execPath,
    [
      ...(entry.flags ?? []),
      Path.join(here, "workloads", `${entry.script}.mjs`),
      entry.subject,
      JSON.stringify({ runs: 3, ...entry.params })
    ],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 10 * 60 * 1000 }
  )
  const seconds = (performance.now() - started) / 1000
  const line = result.stdout.trim().split("\n").pop() ?? ""
  if (result.status !== 0 || !line.startsWith("{")) {
    return {
      ...entry,
      seconds,
      error: (result.stderr || result.error?.message || "no output").trim().split("\n").slice(-5).join("\n")
    }
  }
  const { runs } = JSON.parse(line)
  const metrics = {}
  for (const name of Object.keys(runs[0])) {
    const values = runs.map((run) => run[name])
    metrics[name] = { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values }
  }
  return { ...entry, seconds, metrics }
}

const started = performance.now()
const results = []
for (const [index, entry] of selected.entries()) {
  process.stderr.write(`[${index + 1}/${selected.length}] ${entry.workload}: ${entry.subject} ... `)
  const result = measure(entry)
  results.push(result)
  process.stderr.write(result.error === undefined ? `${result.seconds.toFixed(1)}s\n` : `FAILED\n${result.error}\n`)
}

const run = {
  mode: quick ? "quick" : "full",
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${Os.cpus().length} x ${Os.cpus()[0]?.model ?? "unknown"}`,
  memory: `${Math.round(Os.totalmem() / 2 ** 30)} GiB`,
  seconds: Math.round((performance.now() - started) / 1000),
  results
}
if (only === undefined) {
  Fs.writeFileSync(Path.join(here, "results.json"), `${JSON.stringify(run, null, 2)}\n`)
  const charts = await renderCharts(run, Path.join(here, "charts"))
  writeResults(run, charts, Path.join(here, "RESULTS.md"))
  if (!quick) updateReadme(run, Path.join(here, "..", "README.md"))
  process.stderr.write(`done in ${run.seconds}s: bench/RESULTS.md, bench/results.json, ${charts.length} charts\n`)
} else {
  const file = Path.join(Os.tmpdir(), `effect-sessions-bench-${only}.json`)
  Fs.writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`)
  process.stdout.write(`${[...workloadSections(run), ...targetLines(run)].join("\n")}\n`)
  process.stderr.write(`done in ${run.seconds}s (--only ${only}: nothing in bench/ written; raw figures in ${file})\n`)
}
if (results.some((result) => result.error !== undefined)) process.exit(1)
