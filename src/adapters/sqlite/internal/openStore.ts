/** Opening the SQLite store: its options checked, the connection, its state, the writer queue and the writers. */
import type Database from "better-sqlite3"
import { Cause, Duration, Effect, Either, Queue } from "effect"
import { ConfigFields as Field, configFields } from "../../../domain/Config.js"
import { OptionChecks } from "../../../domain/Config.js"
import { epochMillisOf } from "../../../domain/Session.js"
import type { SqliteStoreOptions } from "../SqliteStore.js"
import { openDatabase } from "./database.js"
import { GroupCommit } from "./GroupCommit.js"
import { storeOver, syncOver } from "./operations.js"
import { SqliteState } from "./SqliteState.js"

/** The SQLite store's options once checked, every default filled in. */
export interface SqliteStoreConfig {
  readonly filename: string
  readonly synchronous: "normal" | "full"
  readonly busyTimeout: Duration.Duration
  readonly touchCoalesce: Duration.Duration
  readonly maxPendingTouches: number
}

/** The checks of `SqliteStoreOptions`, from code or from `SESSIONS_SQLITE_*` (the touch span: the main config's). */
export const storeOptions = OptionChecks.defineOptions<SqliteStoreConfig>({
  filename: OptionChecks.checkedText({
    default: "",
    expected: "a file path or :memory:",
    valid: (text) => text.trim() !== "" && !text.includes("\0"),
    doc: "The database file (created with its directory if missing)."
  }),
  synchronous: Field.oneOf({
    literals: ["normal", "full"],
    default: "normal",
    doc: "`normal`: acknowledged writes survive a process crash. `full`: also a power loss, slower writes."
  }),
  busyTimeout: Field.duration({
    default: Duration.seconds(1),
    min: Duration.zero,
    doc: "How long a write waits for another process's lock before `StoreUnavailable` (retried)."
  }),
  touchCoalesce: configFields.touchCoalesce,
  maxPendingTouches: Field.integer({
    default: 10_000,
    min: 1,
    max: 1_000_000,
    doc: "Most sessions with activity waiting to be written before it is written at once."
  })
}, {
  required: ["filename"],
  env: {
    filename: "SESSIONS_SQLITE_FILE",
    synchronous: "SESSIONS_SQLITE_SYNCHRONOUS",
    busyTimeout: "SESSIONS_SQLITE_BUSY_TIMEOUT"
  }
})

/**
 * Checks the options, then opens (creating and migrating if needed) the database and builds both forms of the store
 * on it, with the writer queue behind them (`commits`, whose `stats` say how writes were grouped). Fails
 * `InvalidConfig` listing every bad option before anything is created. Scoped: queued writes are committed, buffered
 * activity is written and the connection closed when the scope closes.
 */
export const openStore = (input: SqliteStoreOptions) =>
  Effect.gen(function*() {
    const options = yield* storeOptions.check(input)
    const clock = yield* Effect.clock
    const coalesce = options.touchCoalesce
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
      options.maxPendingTouches,
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
