/**
 * Effect's metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges and histograms, each
 * name with one HELP and one TYPE line, labels escaped.
 */
import { Effect, Metric, type MetricPair, MetricState, Option } from "effect"

/** The content type of the Prometheus text format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_")

const labels = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.length === 0 ? "" : `{${pairs.map(([key, value]) => `${sanitize(key)}="${escapeLabel(value)}"`).join(",")}}`

const number = (value: number | bigint): string =>
  typeof value === "bigint"
    ? value.toString()
    : Number.isNaN(value)
    ? "NaN"
    : value === Infinity
    ? "+Inf"
    : value === -Infinity
    ? "-Inf"
    : String(value)

const typeOf = (pair: MetricPair.MetricPair.Untyped): "counter" | "gauge" | "histogram" | undefined => {
  const state = pair.metricState
  if (MetricState.isCounterState(state)) return "counter"
  if (MetricState.isGaugeState(state)) return "gauge"
  if (MetricState.isHistogramState(state)) return "histogram"
  return undefined
}

/** The lines of one metric (one label set). */
const lines = (name: string, pair: MetricPair.MetricPair.Untyped): Array<string> => {
  const tags: Array<readonly [string, string]> = pair.metricKey.tags.map((tag) => [tag.key, tag.value])
  const state = pair.metricState
  if (MetricState.isCounterState(state)) return [`${name}${labels(tags)} ${number(state.count)}`]
  if (MetricState.isGaugeState(state)) return [`${name}${labels(tags)} ${number(state.value)}`]
  if (MetricState.isHistogramState(state)) {
    const out = state.buckets
      .filter(([boundary]) => Number.isFinite(boundary))
      .map(([boundary, count]) => `${name}_bucket${labels([...tags, ["le", number(boundary)]])} ${count}`)
    out.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${state.count}`)
    out.push(`${name}_sum${labels(tags)} ${number(state.sum)}`)
    out.push(`${name}_count${labels(tags)} ${state.count}`)
    return out
  }
  return []
}

/** Renders metric pairs: grouped by name, counters, gauges and histograms (other kinds are left out). */
export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const byName = new Map<string, Array<MetricPair.MetricPair.Untyped>>()
  for (const pair of pairs) {
    if (typeOf(pair) === undefined) continue
    const name = sanitize(pair.metricKey.name)
    const group = byName.get(name)
    if (group === undefined) byName.set(name, [pair])
    else group.push(pair)
  }
  const out: Array<string> = []
  for (const [name, group] of [...byName].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const first = group[0]!
    const help = Option.getOrElse(first.metricKey.description, () => "")
    if (help !== "") out.push(`# HELP ${name} ${escapeHelp(help)}`)
    out.push(`# TYPE ${name} ${typeOf(first)}`)
    for (const pair of group) out.push(...lines(name, pair))
  }
  return `${out.join("\n")}\n`
}

/** The current value of every metric of the process, rendered. */
export const scrape: Effect.Effect<string> = Effect.map(Metric.snapshot, render)
