/**
 * A child process for the group-commit crash test: concurrent writers on the SQLite store's `SessionStore` port (so
 * their writes share transactions), on the real clock, until killed. Each write's data records how many writes the
 * session has had (`writes` = version - 1), so a reader can tell a row written whole from one half-applied. Prints
 * one JSON line per acknowledged write: `{"ack": "insert" | "update" | "close", "id", "version"}`.
 *
 * Arguments: `<database file>`.
 */
import { Duration, Effect, Either } from "effect"
import { makeSessionId, type OwnerId, type SessionKind } from "../../../src/domain/Ids.js"
import { newSession } from "../../../src/domain/Lifecycle.js"
import type { EpochMillis } from "../../../src/domain/Session.js"
import { SqliteStore } from "../../../src/sqlite.js"

const [file] = process.argv.slice(2)
const say = (line: Record<string, unknown>) => Effect.sync(() => process.stdout.write(`${JSON.stringify(line)}\n`))
const writers = 24
const options = { maxSessions: 1_000_000, maxSessionsPerOwner: 1_000_000, capacityPolicy: "reject" } as const
const policy = { idleTimeout: Duration.minutes(15), maxLifetime: Duration.hours(24) }

const program = Effect.gen(function*() {
  const store = yield* SqliteStore.make({ filename: file! })
  const writer = (w: number) =>
    Effect.gen(function*() {
      for (let n = 0;; n++) {
        const session = newSession({
          id: makeSessionId(),
          owner: `owner-${w % 5}` as OwnerId,
          name: null,
          kind: "chat" as SessionKind,
          data: { writes: 0, writer: w },
          now: Date.now() as EpochMillis,
          policy
        })
        yield* store.insert(session, options)
        yield* say({ ack: "insert", id: session.id, version: 1 })
        let version = 1
        for (let u = 0; u < 3; u++) {
          const written = yield* Effect.either(
            store.update(session.id, { data: { writes: version, writer: w }, expectedVersion: version })
          )
          if (Either.isLeft(written)) return yield* Effect.fail(written.left)
          version = written.right.session.version
          yield* say({ ack: "update", id: session.id, version })
        }
        if (n % 2 === 0) {
          const closed = yield* store.update(session.id, { data: { writes: version }, event: "close" })
          yield* say({ ack: "close", id: session.id, version: closed.session.version })
        }
      }
    })
  yield* Effect.forEach(Array.from({ length: writers }, (_, w) => w), writer, {
    concurrency: "unbounded",
    discard: true
  })
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
