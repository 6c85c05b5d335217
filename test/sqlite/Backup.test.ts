import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type Session, SessionStore } from "../../src/index.js"
import { Backup, SqliteStore } from "../../src/sqlite.js"
import { aSession, owner, roomy } from "../contract/fixtures.js"
import { tempDir } from "../support/sqlite.js"

const openStore = (file: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(SqliteStore.layer({ filename: file }), scope)
    return { store: context.unsafeMap.get(SessionStore.key) as SessionStore["Type"], scope }
  })

/** Every session in the database at `file`, by id, read with a plain connection. */
const sessionsIn = (file: string) => {
  const db = new Database(file, { readonly: true })
  const rows = db.prepare("SELECT id, version, data, status FROM sessions ORDER BY id").all()
  db.close()
  return rows
}

/** Fills a database with `n` sessions (some ended, some with active pointers); returns them. */
const seed = (file: string, n: number) =>
  Effect.gen(function*() {
    const { scope, store } = yield* openStore(file)
    const sessions: Array<Session> = []
    for (let i = 0; i < n; i++) {
      const s = yield* aSession({ owner: `o${i % 7}`, name: i % 5 === 0 ? `n${i}` : null, data: { i, text: "é✓" } })
      yield* store.insert(s, roomy)
      sessions.push(s)
    }
    yield* store.update(sessions[1]!.id, { event: "close", reason: "done" as never })
    yield* store.setActive(owner("o2"), sessions[2]!.id)
    yield* Scope.close(scope, Exit.void)
    return sessions
  })

/** Rewrites a backup with `change` applied to its lines (header first), and a trailer that is right for the result. */
const rewrite = (file: string, change: (lines: Array<string>) => void) => {
  const lines = Fs.readFileSync(file, "utf8").split("\n")
  lines.pop() // the empty string after the final newline
  lines.pop() // the trailer
  change(lines)
  const body = lines.map((line) => `${line}\n`).join("")
  const sha256 = createHash("sha256").update(body).digest("hex")
  const sessions = lines.filter((line) => line.startsWith("{\"session\"")).length
  const activePointers = lines.filter((line) => line.startsWith("{\"active\"")).length
  Fs.writeFileSync(file, `${body}${JSON.stringify({ sha256, sessions, activePointers })}\n`)
}

describe("backup and restore", () => {
  it.scoped("backs up a consistent snapshot while the store is written, and restores it exactly", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "live.db")
      yield* seed(file, 2500)
      const { store } = yield* openStore(file)
      // Writers keep going while the backup runs.
      const writer = yield* Effect.fork(
        Effect.forever(Effect.flatMap(aSession({ owner: "late" }), (s) => store.insert(s, roomy)))
      )
      const progress: Array<[number, number]> = []
      const report = yield* Backup.backup({
        database: file,
        to: Path.join(dir, "backups", "snapshot.ndjson"),
        onProgress: (done, total) => progress.push([done, total])
      })
      yield* Fiber.interrupt(writer)
      expect(report.sessions).toBeGreaterThanOrEqual(2500)
      // The writer did write meanwhile: the database now holds sessions the snapshot does not.
      expect(sessionsIn(file).length).toBeGreaterThan(report.sessions)
      expect(report.activePointers).toBe(1)
      expect(report.skipped).toEqual([])
      expect(progress.at(-1)).toEqual([report.sessions, report.sessions])
      expect(progress.length).toBeGreaterThanOrEqual(3)
      expect(Fs.readdirSync(Path.join(dir, "backups"))).toEqual(["snapshot.ndjson"])
      const target = Path.join(dir, "restored.db")
      const restored = yield* Backup.restore({ database: target, from: report.file })
      expect(restored).toMatchObject({ sessions: report.sessions, activePointers: 1, replaced: 0, dryRun: false })
      // What was restored is exactly the snapshot: every session of the snapshot, byte for byte.
      const snapshot = new Map(sessionsIn(target).map((row) => [(row as { id: string }).id, row]))
      for (const row of sessionsIn(file)) {
        const kept = snapshot.get((row as { id: string }).id)
        if (kept !== undefined) expect(kept).toEqual(row)
      }
      expect(snapshot.size).toBe(report.sessions)
      const { store: again } = yield* openStore(target)
      expect(yield* again.counts).toMatchObject({ closed: 1, active: report.sessions - 1 })
    }))

  it.scoped("a backup that cannot complete leaves no file behind, under any name", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "db.sqlite")
      yield* seed(file, 10)
      const occupied = Path.join(dir, "taken")
      Fs.mkdirSync(Path.join(occupied, "inside"), { recursive: true })
      const error = yield* Effect.flip(Backup.backup({ database: file, to: occupied }))
      expect(error._tag).toBe("StoreError")
      expect(Fs.readdirSync(dir).sort()).toEqual(
        ["db.sqlite", "db.sqlite-shm", "db.sqlite-wal", "taken"].filter((f) => Fs.existsSync(Path.join(dir, f))).sort()
      )
      expect(Fs.readdirSync(dir).some((f) => f.endsWith(".tmp"))).toBe(false)
    }))

  it.scoped("never replaces an existing file unless told to, even one created while the backup runs", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "db.sqlite")
      yield* seed(file, 1500)
      const to = Path.join(dir, "kept.ndjson")
      Fs.writeFileSync(to, "precious\n")
      const refused = yield* Effect.flip(Backup.backup({ database: file, to }))
      expect(refused).toMatchObject({ _tag: "InvalidInput", field: "file", reason: `${to} already exists` })
      expect(Fs.readFileSync(to, "utf8")).toBe("precious\n")
      // Another writer creates the file after the check and before the backup is moved into place.
      const late = Path.join(dir, "late.ndjson")
      const raced = yield* Effect.flip(Backup.backup({
        database: file,
        to: late,
        onProgress: () => Fs.existsSync(late) || Fs.writeFileSync(late, "theirs\n")
      }))
      expect(raced).toMatchObject({ _tag: "InvalidInput", field: "file" })
      expect(Fs.readFileSync(late, "utf8")).toBe("theirs\n")
      expect(Fs.readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([])
      const replaced = yield* Backup.backup({ database: file, to, overwrite: true })
      expect(replaced.sessions).toBe(1500)
      expect((yield* Backup.restore({ database: Path.join(dir, "copy.db"), from: to, dryRun: true })).sessions).toBe(
        1500
      )
    }))

  it.scoped("lists a directory's backups, each checked in full, and what is wrong with the others", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "db.sqlite")
      yield* seed(file, 12)
      const backups = Path.join(dir, "backups")
      expect(yield* Backup.list({ dir: backups })).toEqual([])
      const good = yield* Backup.backup({ database: file, to: Path.join(backups, "good.ndjson") })
      const bytes = Fs.readFileSync(good.file)
      Fs.writeFileSync(Path.join(backups, "short.ndjson"), bytes.subarray(0, bytes.length - 10))
      Fs.writeFileSync(Path.join(backups, "photo.jpg"), Buffer.from([0xff, 0xd8, 0xff, 0x0a]))
      Fs.writeFileSync(Path.join(backups, "good.ndjson.4242.abcdef12.tmp"), bytes.subarray(0, 100))
      Fs.mkdirSync(Path.join(backups, "old"))
      const progress: Array<[number, number]> = []
      const listed = yield* Backup.list({ dir: backups, onProgress: (done, total) => progress.push([done, total]) })
      expect(progress.at(-1)).toEqual([4, 4])
      const byName = new Map(listed.map((entry) => [entry.file, entry]))
      expect([...byName.keys()].sort()).toEqual([
        "good.ndjson",
        "good.ndjson.4242.abcdef12.tmp",
        "photo.jpg",
        "short.ndjson"
      ])
      expect(byName.get("good.ndjson")).toEqual({
        file: "good.ndjson",
        writtenAt: expect.any(Number),
        bytes: good.bytes,
        verified: true,
        sessions: 12,
        activePointers: 1,
        problem: null
      })
      expect(byName.get("short.ndjson")).toMatchObject({
        verified: false,
        sessions: null,
        problem: expect.stringContaining("truncated")
      })
      expect(byName.get("photo.jpg")).toMatchObject({ verified: false, problem: expect.stringContaining("damaged") })
      expect(byName.get("good.ndjson.4242.abcdef12.tmp")!.problem).toContain("unfinished")
    }))

  const damaged: ReadonlyArray<[string, (file: string) => void, string]> = [
    ["a flipped byte", (file) => {
      const bytes = Fs.readFileSync(file)
      bytes[Math.floor(bytes.length / 2)] ^= 0x01
      Fs.writeFileSync(file, bytes)
    }, "checksum mismatch"],
    ["a truncated tail", (file) => {
      const bytes = Fs.readFileSync(file)
      Fs.writeFileSync(file, bytes.subarray(0, bytes.length - 25))
    }, "truncated"],
    ["a newer format version", (file) =>
      rewrite(file, (lines) => {
        lines[0] = JSON.stringify({ ...JSON.parse(lines[0]!), version: 2 })
      }), "format version 2; this build reads format version 1"],
    ["another kind of file", (file) =>
      rewrite(file, (lines) => {
        lines[0] = JSON.stringify({ format: "something-else", version: 1 })
      }), "not an effect-sessions backup"],
    ["one record that does not decode", (file) =>
      rewrite(file, (lines) => {
        const record = JSON.parse(lines[3]!)
        record.session.version = 0
        lines[3] = JSON.stringify(record)
      }), "line 4"],
    ["a session recorded twice", (file) =>
      rewrite(file, (lines) => {
        lines.splice(2, 0, lines[2]!)
      }), "appears twice"],
    ["a trailer that miscounts", (file) => {
      Fs.writeFileSync(file, Fs.readFileSync(file, "utf8").replace("\"sessions\":30", "\"sessions\":31"))
    }, "trailer counts 31 sessions"],
    ["an empty file", (file) => Fs.writeFileSync(file, ""), "truncated"]
  ]

  for (const [what, damage, reason] of damaged) {
    it.scoped(`refuses a backup with ${what}, with a clear reason, and leaves the database as it was`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const source = Path.join(dir, "source.db")
        yield* seed(source, 30)
        const { file } = yield* Backup.backup({ database: source, to: Path.join(dir, "b.ndjson") })
        const target = Path.join(dir, "target.db")
        yield* seed(target, 5)
        const before = sessionsIn(target)
        damage(file)
        const error = yield* Effect.flip(Backup.restore({ database: target, from: file }))
        expect(error._tag).toBe("BackupRejected")
        expect(error.message).toContain(reason)
        expect(error.message).toContain("the database was not changed")
        expect(sessionsIn(target)).toEqual(before)
      }))
  }

  it.scoped("a dry run checks and reports without writing", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const source = Path.join(dir, "source.db")
      yield* seed(source, 40)
      const { file } = yield* Backup.backup({ database: source, to: Path.join(dir, "b.ndjson") })
      const target = Path.join(dir, "target.db")
      yield* seed(target, 7)
      const before = sessionsIn(target)
      const report = yield* Backup.restore({ database: target, from: file, dryRun: true })
      expect(report).toEqual({ file, sessions: 40, activePointers: 1, replaced: 7, dryRun: true })
      expect(sessionsIn(target)).toEqual(before)
    }))
})

describe("verify and repair", () => {
  it.scoped("a healthy database verifies clean", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "db.sqlite")
      yield* seed(file, 50)
      const report = yield* Backup.verify({ database: file })
      expect(report).toMatchObject({
        integrity: ["ok"],
        rows: 50,
        corrupt: [],
        countsMatch: true,
        quarantined: 0,
        ok: true
      })
    }))

  it.scoped("finds rows that do not decode, quarantines them on repair, and backs up around them", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "db.sqlite")
      const sessions = yield* seed(file, 20)
      const db = new Database(file)
      db.prepare("UPDATE sessions SET data = 'not json' WHERE id = ?").run(sessions[3]!.id)
      db.prepare("UPDATE sessions SET owner = '' WHERE id = ?").run(sessions[4]!.id)
      db.prepare("UPDATE session_counts SET n = n + 5 WHERE status = 'waiting'").run()
      db.close()
      const found = yield* Backup.verify({ database: file })
      expect(found.ok).toBe(false)
      expect(found.countsMatch).toBe(false)
      expect(found.corrupt.map((c) => [c.id, c.reason])).toEqual([
        [sessions[3]!.id, "data: not valid JSON"],
        [sessions[4]!.id, "owner: is empty"]
      ])
      // A backup leaves the bad rows out and says so; the rest restores.
      const backedUp = yield* Backup.backup({ database: file, to: Path.join(dir, "b.ndjson") })
      expect(backedUp.sessions).toBe(18)
      expect(backedUp.skipped.map((c) => c.id)).toEqual([sessions[3]!.id, sessions[4]!.id])
      const repaired = yield* Backup.verify({ database: file, repair: true })
      expect(repaired.quarantined).toBe(2)
      const after = yield* Backup.verify({ database: file })
      expect(after).toMatchObject({ ok: true, rows: 18, countsMatch: true })
      const check = new Database(file, { readonly: true })
      const held = check.prepare("SELECT id, reason, row FROM quarantine ORDER BY seq").all() as Array<
        { id: string; reason: string; row: string }
      >
      check.close()
      expect(held.map((row) => [row.id, row.reason])).toEqual([
        [sessions[3]!.id, "data: not valid JSON"],
        [sessions[4]!.id, "owner: is empty"]
      ])
      expect(JSON.parse(held[0]!.row).data).toBe("not json")
    }))

  it.scoped("keeps live counts per owner through inserts and ends; verify finds a wrong one, repair recounts it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "db.sqlite")
      yield* seed(file, 20)
      const live = () => {
        const db = new Database(file, { readonly: true })
        const kept = db.prepare("SELECT owner, n FROM owner_live_counts ORDER BY owner").all()
        const actual = db.prepare(
          "SELECT owner, count(*) AS n FROM sessions WHERE status IN ('active', 'waiting') GROUP BY owner ORDER BY owner"
        ).all()
        db.close()
        return { kept, actual }
      }
      const before = live()
      expect(before.kept).toEqual(before.actual)
      // sessions[1] (owner o1) was closed: o1 has 3 of its 3 + 1 left.
      expect(before.kept).toContainEqual({ owner: "o1", n: 2 })
      expect((yield* Backup.verify({ database: file })).countsMatch).toBe(true)
      const db = new Database(file)
      db.prepare("UPDATE owner_live_counts SET n = n + 1 WHERE owner = 'o3'").run()
      db.close()
      expect(yield* Backup.verify({ database: file })).toMatchObject({ ok: false, countsMatch: false })
      yield* Backup.verify({ database: file, repair: true })
      expect(yield* Backup.verify({ database: file })).toMatchObject({ ok: true, countsMatch: true })
      const after = live()
      expect(after.kept).toEqual(after.actual)
      // A row left for an owner with no live session is found too (each direction of the difference counts).
      const stale = new Database(file)
      stale.prepare("INSERT INTO owner_live_counts (owner, n) VALUES ('nobody', 1)").run()
      stale.close()
      expect(yield* Backup.verify({ database: file })).toMatchObject({ ok: false, countsMatch: false })
      yield* Backup.verify({ database: file, repair: true })
      expect(live().kept).toEqual(live().actual)
    }))

  it.scoped("migrates a database of schema version 1, counting each owner's live sessions", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "db.sqlite")
      yield* seed(file, 14)
      const db = new Database(file)
      db.exec("DROP TABLE owner_live_counts")
      db.pragma("user_version = 1")
      db.close()
      const { scope, store } = yield* openStore(file)
      expect((yield* store.ownerCounts(owner("o1"))).active).toBe(1)
      yield* Scope.close(scope, Exit.void)
      const check = new Database(file, { readonly: true })
      expect(check.pragma("user_version", { simple: true })).toBe(2)
      expect(check.prepare("SELECT n FROM owner_live_counts WHERE owner = 'o0'").get()).toEqual({ n: 2 })
      expect(check.prepare("SELECT n FROM owner_live_counts WHERE owner = 'o1'").get()).toEqual({ n: 1 })
      check.close()
    }))

  it.scoped("refuses to verify a file that is not an effect-sessions database", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "other.db")
      const db = new Database(file)
      db.exec("CREATE TABLE t (x)")
      db.close()
      expect((yield* Effect.flip(Backup.verify({ database: file }))).message).toContain(
        "not an effect-sessions database"
      )
      expect(yield* Effect.flip(Backup.verify({ database: Path.join(dir, "missing.db") }))).toMatchObject({
        _tag: "StoreError"
      })
    }))
})
