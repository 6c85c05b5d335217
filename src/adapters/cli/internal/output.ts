/** How the CLI prints: aligned tables, settings as their variables, progress on stderr. */
import { Duration } from "effect"
import { formatDuration, formatRate } from "../../../domain/Config.js"
import { envName } from "../../../domain/Config.js"
import { type Settings, storeOfSettings } from "../../../startup/Startup.js"

/** Rows under a header, each column as wide as its widest cell. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  if (rows.length === 0) return "(none)"
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

/** A size in bytes as a person reads it: `512 B`, `2.5 KiB`, `1.2 GiB`. */
export const formatBytes = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let unit = 0
  let value = bytes
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

const isRate = (value: unknown): value is { readonly limit: number; readonly window: Duration.Duration } =>
  typeof value === "object" && value !== null && "limit" in value && "window" in value &&
  Duration.isDuration(value.window)

/** One setting's value as it would be written in its variable. */
const formatValue = (value: unknown): string =>
  value === null || value === undefined
    ? "(not set)"
    : Duration.isDuration(value)
    ? formatDuration(value)
    : isRate(value)
    ? formatRate(value)
    : Array.isArray(value)
    ? value.length === 0 ? "(none)" : value.join(",")
    : String(value)

/** Every setting in effect, by variable name, the chosen store's last (no JWT secret, no database password). */
export const formatSettings = (settings: Settings): ReadonlyArray<readonly [string, string]> => [
  ...Object.entries(settings.sessions).map(([field, value]) => [envName(field), formatValue(value)] as const),
  ...Object.entries(settings.service).map(([field, value]) => [envName(field), formatValue(value)] as const),
  ...storeOfSettings(settings).settings
]

/**
 * A progress reporter for a long operation, on stderr so stdout stays clean for `--json`: one redrawn line on a
 * terminal, otherwise a line at each tenth of the work.
 */
export const progress = (label: string) => {
  let lastTenth = -1
  return (done: number, total: number): void => {
    if (total === 0) return
    if (process.stderr.isTTY) {
      process.stderr.write(`\r${label}: ${done}/${total}${done === total ? "\n" : ""}`)
      return
    }
    const tenth = Math.floor((done / total) * 10)
    if (tenth !== lastTenth) {
      lastTenth = tenth
      process.stderr.write(`${label}: ${done}/${total}\n`)
    }
  }
}
