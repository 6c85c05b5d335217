/**
 * The same app over different stores: the app depends on `SessionManager` only, and choosing where sessions live is
 * one layer. Here the in-memory store, the SQLite store (sessions survive restarts, several processes may share the
 * file), the Postgres store (many processes on many machines share one database), and the memory store behind a decorator that counts store calls (any `SessionStore` can be wrapped like this:
 * metrics, logging, fault injection).
 */
import { Effect, Layer } from "effect"
import { MemoryStore, SessionManager, SessionStore, storeThrough } from "effect-sessions"
import { PostgresStore } from "effect-sessions/postgres"
import { SqliteStore } from "effect-sessions/sqlite"

/** The app: it knows the manager, not the store. */
export const app = Effect.gen(function*() {
  const sessions = yield* SessionManager.SessionManager
  const session = yield* sessions.create({ owner: "alice" })
  yield* sessions.update(session.id, { step: 1 })
  return yield* sessions.get(session.id)
})

/**
 * A store decorator that counts the calls it forwards. It provides only the decorated `SessionStore`: the inner
 * store's synchronous capability stays behind it, so every call the manager makes goes through the count.
 */
export const counting = (calls: { count: number }) =>
  Layer.effect(
    SessionStore,
    Effect.map(SessionStore, (store) =>
      storeThrough(store, (_operation, make) => {
        calls.count++
        return make()
      }))
  )

const manager = SessionManager.layer()

/** The app over the plain in-memory store. */
export const onMemory = app.pipe(Effect.provide(manager.pipe(Layer.provide(MemoryStore.layer))))

/** The same app over SQLite: the only change is the store layer. */
export const onSqlite = (filename: string) =>
  app.pipe(Effect.provide(manager.pipe(Layer.provide(SqliteStore.layer({ filename })))))

/** The same app over Postgres: the only change is the store layer (its tables in `schema`, created if missing). */
export const onPostgres = (url: string, schema: string) =>
  app.pipe(Effect.provide(manager.pipe(Layer.provide(PostgresStore.layer({ url, schema })))))

/** The same app over the counting decorator of the in-memory store: the only change is the store layer. */
export const onCountedMemory = (calls: { count: number }) =>
  app.pipe(Effect.provide(manager.pipe(Layer.provide(counting(calls).pipe(Layer.provide(MemoryStore.layer))))))
