/**
 * The examples of the README's `SessionManager` table, each written here exactly as the README shows it (the README
 * test checks that every cell's code appears in this file verbatim), so the typecheck compiles them and the test runs
 * them against a real manager.
 */
import { Effect, Stream } from "effect"
import type { Session, SessionManager } from "effect-sessions"

/** What the examples refer to: the manager, a session of alice's and its id, some data, a page cursor. */
export interface Scope {
  readonly sessions: SessionManager.SessionManagerShape
  readonly id: string
  readonly s: Session
  readonly data: unknown
  readonly page: { readonly next: string | null }
  readonly lastSeenSeq: number
}

/** Every example by the call it shows, as a function of the names it uses. */
export const examples = ({ data, id, lastSeenSeq, page, s, sessions }: Scope) => {
  // Exclusive work on the session, holding its lease (writes inside carry the lease's fencing token).
  const work = (session: Session, lease: { readonly token: number }) => Effect.succeed(`${session.id}/${lease.token}`)
  return {
    create: () => sessions.create({ owner: "alice", name: "chat-1", kind: "chat", data: {}, idleTimeout: "1h" }),
    get: () => sessions.get(id, { owner: "alice" }),
    list: () => sessions.list({ owner: "alice", limit: 50, after: page.next ?? undefined }),
    touch: () => sessions.touch(id),
    recordActivity: () => sessions.recordActivity(id, { messages: 2, responseTime: "840 millis" }),
    wait: () => sessions.wait(id),
    update: () => sessions.update(id, data, { expectedVersion: s.version }),
    activate: () => sessions.activate("alice", id),
    withSession: () => sessions.withSession(id, ({ lease, session }) => work(session, lease), { timeout: "30s" }),
    events: () => Stream.take(sessions.events(lastSeenSeq), 1).pipe(Stream.runDrain),
    ownerStats: () => sessions.ownerStats("alice"),
    sweep: () => sessions.sweep,
    // On a session of its own: the examples after it still use `id`, which a regenerate retires.
    regenerate: () =>
      Effect.flatMap(sessions.create({ owner: "alice" }), ({ id }) => sessions.regenerate(id, { owner: "alice" })),
    remove: () => sessions.remove(id, { reason: "unreadable record" }),
    close: () => sessions.close(id, { reason: "user left" })
  }
}
