/**
 * The charts of `bench/RESULTS.md`, as SVG rendered headless from the results with Vega-Lite: throughput by subject
 * for each throughput workload, sweep times by subject, and the scaling curves (log-log).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as vega from "vega"
import * as vegaLite from "vega-lite"

const render = async (spec) => {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" })
  return view.toSVG()
}

/** Bars of one metric family by subject, grouped by operation. */
const grouped = (title, rows, unit, log = false) => ({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title,
  width: 140,
  height: 220,
  data: { values: rows },
  mark: "bar",
  encoding: {
    column: { field: "operation", type: "nominal", title: null },
    x: { field: "subject", type: "nominal", title: null, axis: { labelAngle: -40 } },
    y: { field: "value", type: "quantitative", title: unit, ...(log ? { scale: { type: "log" } } : {}) },
    color: { field: "subject", type: "nominal", legend: null }
  }
})

const rowsOf = (run, workload, pattern) =>
  run.results
    .filter((result) => result.workload === workload && result.metrics)
    .flatMap((result) =>
      Object.entries(result.metrics)
        .filter(([metric]) => pattern.test(metric))
        .map(([metric, m]) => ({ subject: result.subject, operation: metric.split(" ")[0], value: m.median }))
    )

/** Renders every chart into `dir`; returns their titles and file names. */
export const renderCharts = async (run, dir) => {
  Fs.mkdirSync(dir, { recursive: true })
  const charts = []
  const write = async (file, title, spec) => {
    Fs.writeFileSync(Path.join(dir, file), await render(spec))
    charts.push({ file, title })
  }
  const throughput = [
    ["crud", "In memory: operations per second", "memory-crud.svg"],
    ["sqlite crud", "SQLite: acknowledged operations per second", "sqlite-crud.svg"],
    ["postgres c=16", "Postgres: committed operations per second, 16 callers", "postgres.svg"]
  ]
  for (const [workload, title, file] of throughput) {
    const rows = rowsOf(run, workload, /ops\/s$/)
    if (rows.length > 0) await write(file, title, grouped(title, rows, "ops/s", true))
  }
  const http = rowsOf(run, "http", /req\/s$/)
  if (http.length > 0) {
    await write("http.svg", "HTTP: requests per second, 50 connections", grouped("HTTP requests/s", http, "req/s"))
  }
  const sweeps = run.results
    .filter((result) => /^sweep \d+$|^sqlite sweep$/.test(result.workload) && result.metrics)
    .map((result) => ({
      subject: result.subject,
      operation: result.workload,
      value: result.metrics["sweep ms"].median
    }))
  if (sweeps.length > 0) {
    await write("sweeps.svg", "Sweep time (ms, lower is better)", grouped("Sweep time", sweeps, "ms", true))
  }
  const scaling = run.results
    .filter((result) => result.workload.startsWith("scaling ") && result.metrics)
    .flatMap((result) =>
      Object.entries(result.metrics).map(([metric, m]) => ({
        n: Number(result.workload.split(" ")[1]),
        metric,
        value: m.median
      }))
    )
  if (scaling.length > 0) {
    await write("scaling.svg", "Scaling with the number of sessions (log-log)", {
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      title: "effect-sessions (memory): cost by number of sessions, log-log",
      width: 420,
      height: 280,
      data: { values: scaling },
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "n", type: "quantitative", scale: { type: "log" }, title: "sessions stored (n)" },
        y: { field: "value", type: "quantitative", scale: { type: "log" }, title: "µs per call, or ms per sweep" },
        color: { field: "metric", type: "nominal", title: null }
      }
    })
  }
  return charts
}
