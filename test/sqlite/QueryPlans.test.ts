import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Either } from "effect"
import { migrate } from "../../src/adapters/sqlite/internal/schema.js"
import { listSql, sql } from "../../src/adapters/sqlite/internal/statements.js"

const db = new Database(":memory:")
Either.getOrThrow(migrate(db))

/** The plan of a statement, one line per step, with placeholders bound to nulls. */
const plan = (text: string): Array<string> => {
  const statement = db.prepare(`EXPLAIN QUERY PLAN ${text}`)
  const params = new Array((text.match(/\?/g) ?? []).length).fill(null)
  return (statement.all(...params) as Array<{ detail: string }>).map((row) => row.detail)
}

/** A full scan of a table: "SCAN sessions" without an index. Scans of a covering or partial index are fine. */
const fullScan = (step: string) => /^SCAN (\w+)(?: AS \w+)?$/.test(step)

describe("query plans of the SQLite store", () => {
  const statements: Array<[string, string]> = [
    ...Object.entries(sql),
    ...[false, true].flatMap((owner) =>
      [false, true].flatMap((status) =>
        [false, true].map((
          kind
        ): [string, string] => [`list owner=${owner} status=${status} kind=${kind}`, listSql({ owner, status, kind })])
      )
    )
  ]

  // Scans that are the point of the statement: the five status counters, and the operator's list of every lease.
  const wholeTable: Record<string, string> = { counts: "SCAN session_counts", leases: "SCAN leases" }

  for (const [name, text] of statements) {
    it(`${name} reads through an index, never a full scan`, () => {
      const steps = plan(text)
      // An INSERT reads nothing and has no plan; every other statement must have one to check.
      if (!text.startsWith("INSERT")) expect(steps.length).toBeGreaterThan(0)
      expect(steps.filter((step) => fullScan(step) && step !== wholeTable[name])).toEqual([])
    })
  }

  it("the scan detector does catch a full scan", () => {
    expect(plan("SELECT * FROM sessions WHERE data = ?").some(fullScan)).toBe(true)
  })

  it("hot paths use the indexes they were made for", () => {
    const uses = (text: string, index: string) => expect(plan(text).join("\n")).toContain(index)
    uses(sql.byId, "sessions_id")
    uses(sql.ownerLive, "owner_live_counts USING PRIMARY KEY")
    uses(sql.dueUnleased, "sessions_due")
    uses(sql.globalVictims, "sessions_recency")
    uses(sql.purge, "sessions_ended")
    uses(listSql({ owner: true, status: false, kind: false }), "sessions_owner")
    uses(listSql({ owner: false, status: true, kind: false, waiting: true }), "sessions_waiting")
  })
})
