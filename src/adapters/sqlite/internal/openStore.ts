/** Opening the SQLite store: the connection, its state, the writer queue and the writers that run in the background. */
import type Database from "better-sqlite3"
import { Cause, Duration, Effect, Either, Queue } from "effect"
import { epochMillisOf } from "../../../domain/Session.js"
import { openDatabase, type OpenOptions } from "./database.js"
import { GroupCommit } from "./GroupCommit.js"
import { storeOver, syncOver } from "./operations.js"
import { SqliteState } from "./SqliteState.js"

/** How the store opens its database and buffers touches (`SqliteStoreOptions`). */
export interface StoreOptions extends OpenOptions {
  readonly touchCoalesce?: Duration.DurationInput | undefined
  readonly maxPendingTouches?: number | undefined
}

/**
 * Opens (creating and migrating if needed) the database and builds both forms of the store on it, with the writer
 * queue behind them (`commits`, whose `stats` say how writes were grouped). Scoped: queued writes are committed,
 * buffered activity is written and the connection closed when the scope closes.
 */
export const openStore = (options: StoreOptions) =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const coalesce = Duration.decode(options.touchCoalesce ?? Duration.seconds(1))
    const db: Database.Database = yield* Effect.acquireRelease(openDatabase(options), (db) =>
      Effect.sync(() => {
        // Writes still queued are committed and answered, then the buffered activity is written.
        commits.drain()
        return commits.alone("flush", () => Either.right(state.flush()))
      }).pipe(
        Effect.flatten,
        Effect.catchAll((error) =>
          Effect.logWarning("effect-sessions: writing buffered activity on close failed", error)
        ),
        Effect.ensuring(Effect.sync(() => db.close()))
      ))
    // Wake-ups of the writers: dropping queues of one, since a second signal before the first is taken adds nothing.
    const wakeups = yield* Queue.dropping<void>(1)
    const batches = yield* Queue.dropping<void>(1)
    const state: SqliteState = new SqliteState(
      db,
      () => epochMillisOf(clock),
      options.maxPendingTouches ?? 10_000,
      Duration.toMillis(coalesce) > 0,
      () => Queue.unsafeOffer(wakeups, undefined)
    )
    const commits: GroupCommit = new GroupCommit(db, state.pending, () => Queue.unsafeOffer(batches, undefined))
    // The first caller of a batch commits it; this writer commits writes left queued by a first caller that was
    // interrupted, after one yield (as that caller would have).
    yield* Queue.take(batches).pipe(
      Effect.zipRight(Effect.yieldNow()),
      Effect.zipRight(Effect.sync(() => commits.drain())),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.interrupt
          : Effect.logWarning("effect-sessions: committing a batch of writes failed", cause)
      ),
      Effect.forever,
      Effect.forkScoped
    )
    if (Duration.toMillis(coalesce) > 0) {
      // The writer sleeps only while there is activity to write: after the first touch of a quiet spell, it waits
      // `touchCoalesce` and writes everything buffered by then.
      yield* Queue.take(wakeups).pipe(
        Effect.zipRight(Effect.sleep(coalesce)),
        Effect.zipRight(Effect.suspend(() => commits.alone("flush", () => Either.right(state.flush())))),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.interrupt
            : Effect.logWarning("effect-sessions: writing buffered activity failed; it stays buffered", cause).pipe(
              Effect.zipRight(Queue.offer(wakeups, undefined))
            )
        ),
        Effect.forever,
        Effect.forkScoped
      )
    }
    const sync = syncOver(state, commits)
    return { sync, store: storeOver(state, commits, sync), commits }
  })
