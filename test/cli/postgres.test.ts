/**
 * The built binary on Postgres (`SESSIONS_PG_URL` + `SESSIONS_PG_SCHEMA`, each test file on fresh schemas of the
 * real server): `serve` answering over loopback (two processes sharing one schema), every operator command, verify
 * and repair of a row corrupted with psql, and backups moving both ways between Postgres and SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { SessionId } from "../../src/domain/Ids.js"
import { PostgresStore } from "../../src/postgres.js"
import * as SessionManager from "../../src/services/SessionManager.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { freshSchema, psql, testUrl } from "../support/postgres.js"
import { call, makeDir, removeDir, secret, startProcess } from "../support/service.js"
import { cli, expectOneLine } from "./support.js"

/** The test server's URL with a password in it (ignored by trust auth), to check that none is ever printed. */
const url = new URL(testUrl)
if (url.password === "") url.password = "pw-never-printed"
const password = decodeURIComponent(url.password)

const scope = Effect.runSync(Scope.make())
const schemaIn = () => Effect.runPromise(Scope.extend(freshSchema, scope))

/** Creates `count` sessions (alice and bob in turn) through a manager on the Postgres schema; one lease on the first. */
const seed = (schema: string, count: number) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      const sessions = yield* Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        (i) => manager.create({ owner: i % 2 === 0 ? "alice" : "bob", kind: "k", name: `s${i}`, data: { i } })
      )
      yield* manager.activate(sessions[0]!.owner, sessions[0]!.id)
      const store = yield* SessionStore
      yield* store.acquireLease(sessions[2]!.id, "worker-a", Duration.millis(1))
      return sessions.map((session) => session.id)
    }).pipe(
      Effect.provide(
        SessionManager.layer(undefined, { sweeper: false }).pipe(
          Layer.provideMerge(PostgresStore.layer({ url: testUrl, schema, events: false }))
        )
      )
    )
  )

/** The JSON a successful command printed. */
const ok = (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const result = cli(args, env)
  expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(0)
  expect(result.stdout + result.stderr).not.toContain(password)
  return JSON.parse(result.stdout)
}

/** Every session of a store, as `list` prints them, by id. */
const everySession = (env: Record<string, string>) =>
  (ok(["list", "--json", "--limit", "1000"], env).sessions as Array<{ id: string }>).sort((a, b) =>
    a.id < b.id ? -1 : 1
  )

/** The session records of a backup file, sorted (its header's time and its trailer aside). */
const records = (file: string) => Fs.readFileSync(file, "utf8").trim().split("\n").slice(1, -1).sort()

describe("the binary on Postgres", () => {
  let dir: string
  let schema: string
  let env: Record<string, string>
  let ids: ReadonlyArray<SessionId>

  beforeAll(async () => {
    dir = makeDir()
    schema = await schemaIn()
    env = {
      SESSIONS_DATA_DIR: dir,
      SESSIONS_JWT_SECRET: secret,
      SESSIONS_PG_URL: url.toString(),
      SESSIONS_PG_SCHEMA: schema
    }
    ids = await seed(schema, 6)
  })
  afterAll(async () => {
    removeDir(dir)
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("serves on Postgres: two processes on one schema see each other's sessions; /admin/backup writes there", async () => {
    const pg = { SESSIONS_PG_URL: url.toString(), SESSIONS_PG_SCHEMA: schema }
    const first = await startProcess(pg)
    const second = await startProcess(pg)
    try {
      for (const service of [first, second]) {
        const line = service.logs.find((entry) => entry.includes("listening on"))!
        expect(JSON.parse(line).annotations).toMatchObject({
          store: "postgres",
          database: expect.stringContaining(schema)
        })
        expect(service.logs.join("\n")).not.toContain(password)
      }
      const token = await first.token("carol")
      const created = await call(first, "POST", "/sessions", { token, body: { kind: "http", data: { n: 1 } } })
      expect(created.status).toBe(201)
      const read = await call(second, "GET", `/sessions/${created.json["id"]}`, { token: await second.token("carol") })
      expect(read.status).toBe(200)
      expect(read.json).toMatchObject({ id: created.json["id"], owner: "carol", data: { n: 1 } })
      const admin = await second.token("ops", { admin: true })
      const backedUp = await call(second, "POST", "/admin/backup", { token: admin, body: { name: "nightly.backup" } })
      expect(backedUp.status).toBe(201)
      expect(backedUp.json["sessions"]).toBe(7)
      const file = Path.join(second.dataDir, "backups", "nightly.backup")
      expect(Fs.statSync(file).size).toBe(backedUp.json["bytes"])
      const again = await call(second, "POST", "/admin/backup", { token: admin, body: { name: "nightly.backup" } })
      expect(again.status).toBe(400)
      // Carol's session goes again, so the commands below see the seeded ones only.
      const closed = await call(first, "DELETE", `/sessions/${created.json["id"]}`, { token })
      expect(closed.status).toBeLessThan(300)
    } finally {
      await first.stop()
      await second.stop()
    }
    await Effect.runPromise(psql(`DELETE FROM ${schema}.sessions WHERE owner = 'carol'`))
    await Effect.runPromise(psql(`INSERT INTO ${schema}.session_counts (status, n) VALUES ('closed', -1)`))
  })

  it("refuses --store postgres without a URL, naming the variable, and lists every bad variable at once", () => {
    const noUrl = cli(["serve", "--store", "postgres"], { SESSIONS_DATA_DIR: dir, SESSIONS_JWT_SECRET: secret })
    expect(noUrl.code).toBe(1)
    expect(noUrl.stderr).toMatch(/SESSIONS_PG_URL: is not set, and --store postgres needs it/)
    const bad = cli(["config", "check"], { ...env, SESSIONS_PG_MAX_CONNECTIONS: "0", SESSIONS_PORT: "x" })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("SESSIONS_PG_MAX_CONNECTIONS")
    expect(bad.stderr).toContain("SESSIONS_PORT")
    const missing = cli(["list"], { ...env, SESSIONS_PG_SCHEMA: `${schema}_none` })
    expect(missing.code).toBe(1)
    expectOneLine(missing.stderr, /no effect-sessions schema .*_none/)
  })

  it("config, status, list, show, close, remove, sweep and locks work on the schema", () => {
    const config = ok(["config", "check", "--json"], env)
    expect(config["SESSIONS_PG_URL"]).toContain("***")
    expect(config["SESSIONS_PG_SCHEMA"]).toBe(schema)
    expect(config["SESSIONS_SQLITE_FILE"]).toBeUndefined()
    expect(cli(["config", "reference"], env).stdout).toContain("SESSIONS_PG_LOCK_TIMEOUT")

    const status = ok(["status", "--json"], { ...env, SESSIONS_PORT: "1" })
    expect(status).toMatchObject({ server: { reachable: false }, counts: { active: 6, closed: 0 } })
    expect(status.database).toContain(`schema ${schema}`)
    expect(everySession(env).map((session) => session.id)).toEqual([...ids].sort())
    expect(ok(["list", "--owner", "bob", "--json"], env).sessions).toHaveLength(3)
    expect(ok(["show", ids[1]!, "--json"], env)).toMatchObject({ id: ids[1], owner: "bob", data: { i: 1 } })
    expect(ok(["close", ids[1]!, "--json"], env)).toMatchObject({ status: "closed", endReason: "closed by operator" })
    expect(ok(["remove", ids[5]!, "--json"], env)).toEqual({ id: ids[5], removed: true })
    expectOneLine(cli(["show", ids[5]!], env).stderr, /was not found/)
    expect(ok(["sweep", "--json"], env)).toMatchObject({ expired: 0 })
    expect(ok(["status", "--json"], { ...env, SESSIONS_PORT: "1" }).counts).toMatchObject({ active: 4, closed: 1 })

    const locks = ok(["locks", "--release-expired", "--json"], env)
    expect(locks).toMatchObject({ released: 1, leases: [{ sessionId: ids[2], holder: "worker-a", expired: true }] })
    expect(ok(["locks", "--json"], env).leases).toEqual([])
  })

  it("backs up, restores, verifies, repairs a row corrupted with psql, and diagnoses", async () => {
    const file = Path.join(dir, "pg.backup")
    const backedUp = ok(["backup", file, "--json"], env)
    expect(backedUp).toMatchObject({ file, sessions: 5, activePointers: 1, skipped: [] })
    expectOneLine(cli(["backup", file], env).stderr, /already exists; add --force/)
    expect(ok(["restore", file, "--dry-run", "--json"], env)).toMatchObject({ sessions: 5, replaced: 5, dryRun: true })
    expect(ok(["verify", "--json"], env)).toMatchObject({ ok: true, rows: 5, integrity: ["ok"], countsMatch: true })
    const healthy = ok(["doctor", "--json"], { ...env, SESSIONS_PORT: "1" }) as Array<{ check: string; ok: boolean }>
    expect(healthy.map((item) => item.check)).toEqual([
      "config",
      "secret",
      "database",
      "migrations",
      "integrity",
      "service"
    ])
    expect(healthy.every((item) => item.ok)).toBe(true)

    await Effect.runPromise(psql(`UPDATE ${schema}.sessions SET data = 'not json' WHERE id = $1`, [ids[3]]))
    const found = cli(["verify"], env)
    expect(found.code).toBe(1)
    expect(found.stdout).toContain(`corrupt ${ids[3]}: data: not valid JSON`)
    const doctor = cli(["doctor"], { ...env, SESSIONS_PORT: "1" })
    expect(doctor.code).toBe(1)
    expect(doctor.stdout).toMatch(/FAIL integrity: .*1 corrupt.*\n\s+fix: run verify --repair/)
    expect(ok(["verify", "--repair", "--json"], env)).toMatchObject({ quarantined: 1, corrupt: [{ id: ids[3] }] })
    expect(ok(["verify", "--json"], env)).toMatchObject({ ok: true, rows: 4 })
    const quarantined = await Effect.runPromise(psql<{ id: string }>(`SELECT id FROM ${schema}.quarantine`))
    expect(quarantined.map((row) => row.id)).toContain(ids[3])
    expect(ok(["status", "--json"], { ...env, SESSIONS_PORT: "1" }).counts).toMatchObject({ active: 3, closed: 1 })

    // Counts that drifted are found, and repaired by a recount.
    await Effect.runPromise(psql(`INSERT INTO ${schema}.session_counts (status, n) VALUES ('active', 5)`))
    expect(ok(["verify", "--repair", "--json"], env)).toMatchObject({ countsMatch: false, quarantined: 0 })
    expect(ok(["verify", "--json"], env)).toMatchObject({ ok: true, countsMatch: true })

    const restored = ok(["restore", file, "--json"], env)
    expect(restored).toMatchObject({ sessions: 5, replaced: 4, dryRun: false })
    expect(ok(["show", ids[3]!, "--json"], env).data).toEqual({ i: 3 })
    expect(ok(["status", "--json"], { ...env, SESSIONS_PORT: "1" }).counts).toMatchObject({ active: 4, closed: 1 })
    expect(ok(["verify", "--json"], env)).toMatchObject({ ok: true, rows: 5 })
  })

  it("a backup moves from Postgres to SQLite and from SQLite to Postgres with identical sessions", async () => {
    const fromPg = Path.join(dir, "from-pg.backup")
    ok(["backup", fromPg, "--json"], env)
    const sqliteDir = makeDir()
    const sqliteEnv = { SESSIONS_DATA_DIR: sqliteDir, SESSIONS_JWT_SECRET: secret }
    try {
      expect(ok(["restore", fromPg, "--json"], sqliteEnv)).toMatchObject({ sessions: 5, activePointers: 1 })
      expect(everySession(sqliteEnv)).toEqual(everySession(env))
      expect(ok(["verify", "--json"], sqliteEnv)).toMatchObject({ ok: true, rows: 5 })
      const fromSqlite = Path.join(sqliteDir, "from-sqlite.backup")
      ok(["backup", fromSqlite, "--json"], sqliteEnv)
      expect(records(fromSqlite)).toEqual(records(fromPg))

      // Changed on SQLite, then moved into a new Postgres schema.
      ok(["close", ids[0]!, "--json"], sqliteEnv)
      const changed = Path.join(sqliteDir, "changed.backup")
      ok(["backup", changed, "--json"], sqliteEnv)
      const other = { ...env, SESSIONS_PG_SCHEMA: await schemaIn() }
      expect(ok(["restore", changed, "--json"], other)).toMatchObject({ sessions: 5, activePointers: 0, replaced: 0 })
      expect(everySession(other)).toEqual(everySession(sqliteEnv))
      expect(ok(["status", "--json"], { ...other, SESSIONS_PORT: "1" }).counts).toMatchObject({ active: 3, closed: 2 })
      expect(ok(["verify", "--json"], other)).toMatchObject({ ok: true, countsMatch: true })
      const again = Path.join(dir, "again.backup")
      ok(["backup", again, "--json"], other)
      expect(records(again)).toEqual(records(changed))
    } finally {
      removeDir(sqliteDir)
    }
  })
})
