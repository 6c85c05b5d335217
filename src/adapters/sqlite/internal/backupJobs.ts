/** What the SQLite backup, restore and verify jobs share: driver calls as effects, and walking rows in batches. */
import type Database from "better-sqlite3"
import { Effect } from "effect"
import type { StoreFailure } from "../../../domain/Errors.js"
import { rowColumns, rowSeq, type SessionRow } from "../../../domain/SqlRows.js"
import { storeFailure } from "./errors.js"

export const batchSize = 1000

/** Sets the status counters to what the rows say. */
export const recount = `
  UPDATE session_counts SET n = (SELECT count(*) FROM sessions s WHERE s.status = session_counts.status);
  DELETE FROM owner_live_counts;
  INSERT INTO owner_live_counts (owner, n)
    SELECT owner, count(*) FROM sessions WHERE status IN ('active', 'waiting') GROUP BY owner;
`

/** Runs a synchronous block against the database, turning SQLite's exceptions into store failures. */
export const sync = <A>(operation: string, f: () => A): Effect.Effect<A, StoreFailure> =>
  Effect.try({ try: f, catch: (error) => storeFailure(operation, error) })

/** Rows of `sessions` in `seq` order, `batchSize` at a time, yielding to other fibers between batches. */
export const eachBatch = (
  db: Database.Database,
  operation: string,
  visit: (rows: ReadonlyArray<SessionRow>) => Effect.Effect<void, StoreFailure>
) => {
  const page = db.prepare(`SELECT ${rowColumns} FROM sessions WHERE seq > ? ORDER BY seq LIMIT ?`).raw(true)
  const loop = (after: number): Effect.Effect<void, StoreFailure> =>
    Effect.flatMap(sync(operation, () => page.all(after, batchSize) as Array<SessionRow>), (rows) =>
      rows.length === 0
        ? Effect.void
        : Effect.zipRight(visit(rows), Effect.zipRight(Effect.yieldNow(), loop(rowSeq(rows[rows.length - 1]!)))))
  return loop(0)
}

/** The refusal of `backup` to replace an existing file without `overwrite`. */
