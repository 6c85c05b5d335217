/**
 * The figures of the reliability scenarios: each is printed as one JSON line (`[reliability] {...}`) and, when
 * `RELIABILITY_FIGURES` names a file, appended to it, which is where docs/RELIABILITY.md takes its numbers from.
 */
import * as Fs from "node:fs"

/** Prints the figures of one scenario (and appends them to `RELIABILITY_FIGURES`, if set). */
export const report = (scenario: string, figures: Record<string, unknown>): void => {
  const line = JSON.stringify({ scenario, at: new Date().toISOString(), ...figures })
  console.log(`[reliability] ${line}`)
  const file = process.env["RELIABILITY_FIGURES"]
  if (file !== undefined && file !== "") Fs.appendFileSync(file, `${line}\n`)
}

/** A counter of outcomes by name (statuses, error tags), printed sorted by name. */
export class Tally {
  private readonly counts = new Map<string, number>()

  add(outcome: string, by = 1): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + by)
  }

  get(outcome: string): number {
    return this.counts.get(outcome) ?? 0
  }

  get total(): number {
    let sum = 0
    for (const n of this.counts.values()) sum += n
    return sum
  }

  /** The outcomes whose name satisfies `keep`, summed. */
  sum(keep: (outcome: string) => boolean): number {
    let sum = 0
    for (const [outcome, n] of this.counts) if (keep(outcome)) sum += n
    return sum
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(
      [...this.counts].filter(([, n]) => n !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    )
  }
}
