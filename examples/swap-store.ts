/**
 * The same app over different stores: the app depends on `SessionManager` only, and choosing where sessions live is
 * one layer. Here the in-memory store, the SQLite store (sessions survive restarts, several processes may share the
 * file), and the memory store behind a decorator that counts store calls (any `SessionStore` can be wrapped like this:
 * metrics, logging, fault injection).
 */
import { Effect, Layer } from "effect"
import { MemoryStore, SessionManager, SessionStore, type SessionStoreShape } from "effect-sessions"
import { SqliteStore } from "effect-sessions/sqlite"

/** The app: it knows the manager, not the store. */
export const app = Effect.gen(function*() {
  const sessions = yield* SessionManager.SessionManager
  const session = yield* sessions.create({ owner: "alice" })
  yield* sessions.update(session.id, { step: 1 })
  return yield* sessions.get(session.id)
})

/** A store decorator that counts the calls it forwards. */
export const counting = (calls: { count: number }) =>
  Layer.effect(
    SessionStore,
    Effect.map(SessionStore, (store): SessionStoreShape => {
      const count = <A>(a: A): A => {
        calls.count++
        return a
      }
      return {
        ...store,
        // Without direct access every call goes through the counted, effectful methods.
        direct: undefined,
        insert: (session, options) => count(store.insert(session, options)),
        get: (id) => count(store.get(id)),
        update: (id, write) => count(store.update(id, write))
      }
    })
  )

const manager = SessionManager.layer()

/** The app over the plain in-memory store. */
export const onMemory = app.pipe(Effect.provide(manager.pipe(Layer.provide(MemoryStore.layer))))

/** The same app over SQLite: the only change is the store layer. */
export const onSqlite = (filename: string) =>
  app.pipe(Effect.provide(manager.pipe(Layer.provide(SqliteStore.layer({ filename })))))

/** The same app over the counting decorator of the in-memory store: the only change is the store layer. */
export const onCountedMemory = (calls: { count: number }) =>
  app.pipe(Effect.provide(manager.pipe(Layer.provide(counting(calls).pipe(Layer.provide(MemoryStore.layer))))))
