/**
 * Many nodes on one Postgres database: each node is a store with a pool of its own (its own database sessions), so
 * every guarantee below is the database's, as between processes on different machines. Criteria from the store's
 * research notes: capacity, names and the active pointer under concurrent writes from several nodes; sweeps that
 * expire each due session exactly once; rows locked elsewhere skipped; fencing; migrations racing; failures typed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Option, TestClock } from "effect"
import type { SessionId } from "../../src/domain/Ids.js"
import { PostgresStore } from "../../src/postgres.js"
import type { SessionStoreShape } from "../../src/services/SessionStore.js"
import { aSession, owner, roomy } from "../contract/fixtures.js"
import { freshSchema, psql, testUrl } from "../support/postgres.js"

/** `n` nodes on one fresh schema. */
const nodes = (n: number, options: Partial<PostgresStore.PostgresStoreOptions> = {}) =>
  Effect.gen(function*() {
    const schema = yield* freshSchema
    const stores: Array<SessionStoreShape> = []
    // The first migrates; the others start at once further down (see "migrations").
    for (let i = 0; i < n; i++) {
      stores.push(
        (yield* PostgresStore.make({ url: testUrl, schema, maxConnections: 4, events: false, ...options })).store
      )
    }
    return { schema, stores }
  })

const nodeOf = <A>(stores: ReadonlyArray<A>, i: number) => stores[i % stores.length]!

describe("PostgresStore across nodes", () => {
  it.scoped("global capacity, per-owner capacity and live names hold under concurrent creates from three nodes", () =>
    Effect.gen(function*() {
      const { stores } = yield* nodes(3)
      const limits = { maxSessions: 40, maxSessionsPerOwner: 15, capacityPolicy: "reject" as const }
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 120 }, (_, i) => i),
        (i) =>
          Effect.flatMap(
            aSession({ owner: `o${i % 4}`, name: i % 10 === 0 ? "shared" : null }),
            (session) => Effect.either(nodeOf(stores, i).insert(session, limits))
          ),
        { concurrency: 24 }
      )
      const ok = outcomes.filter(Either.isRight)
      expect(ok.length).toBe(40)
      const counts = yield* stores[0]!.counts
      expect(counts.active).toBe(40)
      for (let o = 0; o < 4; o++) {
        expect((yield* nodeOf(stores, o).ownerCounts(owner(`o${o}`))).active).toBeLessThanOrEqual(15)
      }
      // "shared" was asked for 12 times by owners o0 and o2 (i % 10 === 0 gives even owners): at most one each.
      const named = ok.filter((r) => r.right.session.name === "shared")
      expect(new Set(named.map((r) => r.right.session.owner)).size).toBe(named.length)
      const refusals = new Set(outcomes.filter(Either.isLeft).map((r) => r.left._tag))
      expect([...refusals].every((tag) => tag === "CapacityExceeded" || tag === "SessionNameTaken")).toBe(true)
    }))

  it.scoped("one active session per owner while three nodes switch it concurrently", () =>
    Effect.gen(function*() {
      const { schema, stores } = yield* nodes(3)
      const sessions = yield* Effect.forEach(Array.from({ length: 6 }), () => aSession({ owner: "alice" }))
      for (const s of sessions) yield* stores[0]!.insert(s, roomy)
      const switches = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        (i) => nodeOf(stores, i).setActive(owner("alice"), sessions[i % 6]!.id),
        { concurrency: 12 }
      )
      // Each switch saw the one before it: the previous pointers form one chain of 60 switches.
      expect(switches.filter(Option.isNone).length).toBe(1)
      const rows = yield* psql<{ n: string }>(
        `SELECT count(*) AS n FROM ${schema}.active_sessions WHERE owner = 'alice'`
      )
      expect(rows[0]!.n).toBe("1")
      expect(Option.isSome(yield* stores[1]!.getActive(owner("alice")))).toBe(true)
    }))

  it.live(
    "three nodes sweeping 10,000 due sessions expire each exactly once",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const { schema, stores } = yield* nodes(3)
        const now = Date.now()
        // Written in one statement: 10,000 sessions already due, as if a crowd had gone quiet.
        yield* psql(
          `INSERT INTO ${schema}.sessions (id, owner, name, kind, status, created_at, last_active_at, expires_at,
          idle_timeout, max_lifetime, ended_at, end_reason, message_count, response_times, data, version)
        SELECT 'due-' || lpad(i::text, 18, '0'), 'o' || (i % 50), NULL, 'chat', 'active', $1::int8, $1::int8, $1::int8 + 1000, 1000,
          86400000, NULL, NULL, 0, '[]', '{}', 1 FROM generate_series(1, 10000) AS i`,
          [now - 60_000]
        )
        yield* psql(`INSERT INTO ${schema}.session_counts (status, n) VALUES ('active', 10000)`)
        const ended = yield* Effect.forEach(stores, (store) =>
          Effect.gen(function*() {
            const mine: Array<string> = []
            for (;;) {
              const batch = yield* store.expire(700)
              if (batch.length === 0) return mine
              mine.push(...batch.map((e) => e.id))
            }
          }), { concurrency: "unbounded" })
        const all = ended.flat()
        expect(all.length).toBe(10_000)
        expect(new Set(all).size).toBe(10_000)
        // Every node took part: SKIP LOCKED let them work side by side instead of in turn.
        expect(ended.filter((mine) => mine.length > 0).length).toBeGreaterThan(1)
        const counts = yield* stores[0]!.counts
        expect(counts).toMatchObject({ active: 0, expired: 10_000 })
      })),
    { timeout: 120_000 }
  )

  it.live("a row another transaction holds is skipped by the sweeper, and a write to it fails within lockTimeout", () =>
    Effect.scoped(Effect.gen(function*() {
      const { schema, stores } = yield* nodes(1, { lockTimeout: "300 millis" })
      const [store] = stores
      const session = yield* aSession({ policy: { idleTimeout: Duration.millis(50), maxLifetime: Duration.hours(1) } })
      yield* store!.insert(session, roomy)
      yield* Effect.sleep("100 millis")
      // An outside transaction holds the due row (a touch in progress elsewhere) while the sweeper runs.
      const { Client } = (yield* Effect.promise(() => import("pg"))).default
      const outside = new Client({ connectionString: testUrl })
      yield* Effect.promise(() => outside.connect())
      yield* Effect.addFinalizer(() => Effect.promise(() => outside.end()))
      yield* Effect.promise(() => outside.query("BEGIN"))
      yield* Effect.promise(() =>
        outside.query(`SELECT 1 FROM ${schema}.sessions WHERE id = $1 FOR UPDATE`, [session.id])
      )
      expect(yield* store!.expire(100)).toEqual([])
      const started = Date.now()
      const failure = yield* Effect.flip(store!.update(session.id, { data: 1 }))
      expect(failure._tag).toBe("StoreUnavailable")
      expect(Date.now() - started).toBeLessThan(3_000)
      // The holder moves the session's expiry out and commits: the session survives the next sweep too.
      yield* Effect.promise(() =>
        outside.query(`UPDATE ${schema}.sessions SET expires_at = $2 WHERE id = $1`, [session.id, Date.now() + 60_000])
      )
      yield* Effect.promise(() => outside.query("COMMIT"))
      expect(yield* store!.expire(100)).toEqual([])
      expect(Option.getOrThrow(yield* store!.get(session.id)).status).toBe("active")
    })))

  it.scoped("a node whose lease lapsed cannot write once another node holds the session", () =>
    Effect.gen(function*() {
      const { stores } = yield* nodes(2)
      const [a, b] = stores
      const session = yield* aSession()
      yield* a!.insert(session, roomy)
      const first = yield* a!.acquireLease(session.id, "node-a", Duration.seconds(10))
      expect((yield* Effect.flip(b!.acquireLease(session.id, "node-b", Duration.seconds(10))))._tag).toBe("LeaseHeld")
      // Node a pauses past its lease; node b takes the session over.
      yield* TestClock.adjust("11 seconds")
      const second = yield* b!.acquireLease(session.id, "node-b", Duration.seconds(10))
      expect(second.token).toBeGreaterThan(first.token)
      const stale = yield* Effect.flip(a!.update(session.id, { data: "late", fence: first.token }))
      expect(stale).toMatchObject({ _tag: "StaleFencingToken", token: first.token })
      expect((yield* Effect.flip(a!.renewLease(first, Duration.seconds(10))))._tag).toBe("StaleFencingToken")
      yield* b!.update(session.id, { data: "current", fence: second.token })
      expect(Option.getOrThrow(yield* a!.get(session.id)).data).toBe("current")
    }))

  it.scoped("two writes from the same version on two nodes: one lands, the other gets VersionConflict", () =>
    Effect.gen(function*() {
      const { stores } = yield* nodes(2)
      const session = yield* aSession()
      yield* stores[0]!.insert(session, roomy)
      const outcomes = yield* Effect.all(
        [
          Effect.either(stores[0]!.update(session.id, { data: "a", expectedVersion: 1 })),
          Effect.either(stores[1]!.update(session.id, { data: "b", expectedVersion: 1 }))
        ],
        { concurrency: 2 }
      )
      expect(outcomes.filter(Either.isRight).length).toBe(1)
      expect(outcomes.find(Either.isLeft)!.left._tag).toBe("VersionConflict")
      expect(Option.getOrThrow(yield* stores[1]!.get(session.id)).version).toBe(2)
    }))

  it.scoped("closed on one node, a late write from another cannot bring the session back", () =>
    Effect.gen(function*() {
      const { stores } = yield* nodes(2)
      const session = yield* aSession()
      yield* stores[0]!.insert(session, roomy)
      yield* stores[0]!.update(session.id, { event: "close" })
      expect((yield* Effect.flip(stores[1]!.update(session.id, { data: "late" })))._tag).toBe("SessionEnded")
      expect((yield* Effect.flip(stores[1]!.touch(session.id)))._tag).toBe("SessionEnded")
      expect(Option.getOrThrow(yield* stores[0]!.get(session.id)).status).toBe("closed")
    }))

  it.scoped("migrations: three nodes starting at once on a new schema migrate it once", () =>
    Effect.gen(function*() {
      const schema = yield* freshSchema
      const started = yield* Effect.all(
        Array.from({ length: 3 }, () => PostgresStore.make({ url: testUrl, schema, maxConnections: 2 })),
        { concurrency: 3 }
      )
      expect(started.length).toBe(3)
      const meta = yield* psql<{ key: string; value: string }>(`SELECT key, value FROM ${schema}.meta ORDER BY key`)
      expect(meta.map((row) => row.key)).toEqual(["application", "events_epoch", "schema_version"])
      expect(meta.filter((row) => row.key !== "events_epoch")).toEqual([
        { key: "application", value: "effect-sessions" },
        { key: "schema_version", value: "2" }
      ])
      const session = yield* aSession()
      yield* started[2]!.store.insert(session, roomy)
      expect(Option.isSome(yield* started[0]!.store.get(session.id))).toBe(true)
    }))

  it.scoped("a schema migrated by a newer version, or holding other tables, is refused unchanged", () =>
    Effect.gen(function*() {
      const { schema } = yield* nodes(1)
      yield* psql(`UPDATE ${schema}.meta SET value = '99' WHERE key = 'schema_version'`)
      const newer = yield* Effect.flip(PostgresStore.make({ url: testUrl, schema }))
      expect(newer._tag).toBe("StoreError")
      expect(String((newer as { reason: string }).reason)).toMatch(/schema version 99, written by a newer/)
      const meta = yield* psql<{ value: string }>(`SELECT value FROM ${schema}.meta WHERE key = 'schema_version'`)
      expect(meta[0]!.value).toBe("99")
      const other = yield* freshSchema
      yield* psql(`CREATE SCHEMA ${other}`)
      yield* psql(`CREATE TABLE ${other}.invoices (id int)`)
      const foreign = yield* Effect.flip(PostgresStore.make({ url: testUrl, schema: other }))
      expect(String((foreign as { reason: string }).reason)).toMatch(/holds other tables \(invoices\)/)
      const tables = yield* psql<{ n: string }>(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = $1`, [other])
      expect(tables[0]!.n).toBe("1")
    }))

  it.live("a database that does not answer fails StoreUnavailable at start; a bad schema name InvalidConfig", () =>
    Effect.gen(function*() {
      const down = yield* Effect.flip(
        Effect.scoped(PostgresStore.make({ url: "postgres://postgres@127.0.0.1:1/test", connectTimeout: "1 second" }))
      )
      expect(down._tag).toBe("StoreUnavailable")
      const bad = yield* Effect.flip(Effect.scoped(PostgresStore.make({ url: testUrl, schema: "Robert'); DROP" })))
      expect(bad._tag).toBe("InvalidConfig")
    }))

  it.scoped("a row that does not decode is CorruptRecord, reported by a listing without failing it", () =>
    Effect.gen(function*() {
      const { schema, stores } = yield* nodes(1)
      const [store] = stores
      const good = yield* aSession({ owner: "carol" })
      const bad = yield* aSession({ owner: "carol" })
      yield* store!.insert(good, roomy)
      yield* store!.insert(bad, roomy)
      yield* psql(`UPDATE ${schema}.sessions SET data = 'not json' WHERE id = $1`, [bad.id])
      const page = yield* store!.list({ owner: owner("carol"), limit: 10 })
      expect(page.sessions.map((s) => s.id)).toEqual([good.id])
      expect(page.corrupt.map((c) => c.id)).toEqual([bad.id])
      expect((yield* Effect.flip(store!.get(bad.id as SessionId)))._tag).toBe("CorruptRecord")
      expect(yield* store!.remove(bad.id, "operator: damaged row")).toBe(true)
      const kept = yield* psql<{ reason: string }>(`SELECT reason FROM ${schema}.quarantine`)
      expect(kept).toEqual([{ reason: "operator: damaged row" }])
    }))
})
