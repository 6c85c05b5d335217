/**
 * Real processes on one SQLite file: a writer killed with SIGKILL at random points loses nothing it acknowledged,
 * two processes racing at the capacity and name limits never break them, and a lease held by a killed process is
 * recovered after its ttl.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { type Cursor, type Page, SessionManager, SessionStore } from "../../src/index.js"
import { SqliteStore } from "../../src/sqlite.js"

const require = createRequire(import.meta.url)
const viteNode = Path.join(Path.dirname(require.resolve("vite-node/package.json")), "vite-node.mjs")
const worker = Path.join(import.meta.dirname, "children", "worker.ts")

interface Child {
  readonly process: ChildProcess
  readonly lines: Array<Record<string, unknown>>
  readonly exited: Promise<number | null>
  /** Resolves when a line matching `predicate` has arrived; rejects after `timeout` ms. */
  readonly waitFor: (
    predicate: (line: Record<string, unknown>) => boolean,
    timeout?: number
  ) => Promise<Record<string, unknown>>
}

const start = (mode: string, file: string, ...args: Array<string>): Child => {
  const child = spawn(process.execPath, [viteNode, worker, mode, file, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  let buffer = ""
  let errors = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk
    const complete = buffer.split("\n")
    buffer = complete.pop()!
    for (const line of complete) {
      // Only whole lines count: a line cut by SIGKILL was never acknowledged.
      try {
        lines.push(JSON.parse(line))
      } catch {
        continue
      }
    }
    for (const wake of waiters.splice(0)) wake()
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    errors += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const waitFor = (predicate: (line: Record<string, unknown>) => boolean, timeout = 20_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${mode}: no matching line in ${timeout}ms; stderr: ${errors}`)),
        timeout
      )
      const check = () => {
        const found = lines.find(predicate)
        if (found !== undefined) {
          clearTimeout(timer)
          resolve(found)
        } else waiters.push(check)
      }
      check()
      void exited.then(() =>
        setTimeout(() => {
          clearTimeout(timer)
          if (lines.find(predicate) === undefined) reject(new Error(`${mode} exited; stderr: ${errors}`))
        }, 50)
      )
    })
  return { process: child, lines, exited, waitFor }
}

const tempFile = () => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-sessions-proc-")), "sessions.db")

const integrity = (db: Database.Database) =>
  (db.pragma("integrity_check") as Array<{ integrity_check: string }>)[0]!.integrity_check

describe("SQLite across processes", () => {
  it("a writer killed with SIGKILL at random points loses no acknowledged write", async () => {
    for (let run = 0; run < 4; run++) {
      const file = tempFile()
      const writer = start("write", file)
      await writer.waitFor(() => true)
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(Math.random() * 900)))
      writer.process.kill("SIGKILL")
      await writer.exited
      const acked = writer.lines.filter((line) => "ack" in line) as Array<
        { id: string; version: number; data: unknown }
      >
      expect(acked.length).toBeGreaterThan(0)
      const db = new Database(file)
      expect(integrity(db)).toBe("ok")
      const read = db.prepare("SELECT version, data FROM sessions WHERE id = ?")
      // The last acknowledged state of each session is there (a later write may have landed unacknowledged).
      const last = new Map(acked.map((ack) => [ack.id, ack]))
      for (const ack of last.values()) {
        const row = read.get(ack.id) as { version: number; data: string } | undefined
        expect(row, `session ${ack.id} acknowledged at version ${ack.version}`).toBeDefined()
        expect(row!.version).toBeGreaterThanOrEqual(ack.version)
        if (row!.version === ack.version) expect(JSON.parse(row!.data)).toEqual(ack.data)
      }
      db.close()
      // The file opens again as a store, and every session decodes.
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(SqliteStore.layer({ filename: file }))
        const store = context.unsafeMap.get(SessionStore.key) as SessionStore["Type"]
        let seen = 0
        let after: Cursor | undefined
        do {
          const page: Page = yield* store.list({ limit: 500, after })
          expect(page.corrupt).toEqual([])
          seen += page.sessions.length
          after = page.next ?? undefined
        } while (after !== undefined)
        expect(seen).toBeGreaterThanOrEqual(last.size)
      })))
      Fs.rmSync(Path.dirname(file), { recursive: true, force: true })
    }
  }, 120_000)

  it("two processes creating at the capacity and name limits never break them", async () => {
    const file = tempFile()
    // Both start on a file that does not exist yet: they also race to create and migrate it.
    const a = start("compete", file, "A", "2000", "A", "B")
    const b = start("compete", file, "B", "2000", "A", "B")
    const [doneA, doneB] = await Promise.all([
      a.waitFor((l) => l.done === "A", 60_000),
      b.waitFor((l) => l.done === "B", 60_000)
    ])
    expect(await a.exited).toBe(0)
    expect(await b.exited).toBe(0)
    const outcomes = [doneA.outcomes, doneB.outcomes] as Array<Record<string, number>>
    const total = (tag: string) => outcomes.reduce((sum, outcome) => sum + (outcome[tag] ?? 0), 0)
    for (const outcome of outcomes) {
      for (const tag of Object.keys(outcome)) expect(["created", "CapacityExceeded", "SessionNameTaken"]).toContain(tag)
    }
    // Both limits were reached, so the checks below are about contention, not an idle file.
    expect(total("created")).toBeGreaterThan(20)
    expect(total("CapacityExceeded")).toBeGreaterThan(0)
    expect(total("SessionNameTaken")).toBeGreaterThan(0)
    const db = new Database(file)
    expect(integrity(db)).toBe("ok")
    const live = db.prepare("SELECT owner, name FROM sessions WHERE status IN ('active', 'waiting')").all() as Array<
      { owner: string; name: string | null }
    >
    expect(live.length).toBeLessThanOrEqual(20)
    const perOwner = new Map<string, number>()
    for (const row of live) perOwner.set(row.owner, (perOwner.get(row.owner) ?? 0) + 1)
    for (const n of perOwner.values()) expect(n).toBeLessThanOrEqual(5)
    const names = live.filter((row) => row.name !== null).map((row) => `${row.owner}/${row.name}`)
    expect(new Set(names).size).toBe(names.length)
    const counted = db.prepare("SELECT status, n FROM session_counts").all() as Array<{ status: string; n: number }>
    const actual = db.prepare("SELECT status, count(*) AS n FROM sessions GROUP BY status").all() as Array<
      { status: string; n: number }
    >
    for (const { n, status } of counted) {
      expect([status, n]).toEqual([
        status,
        actual.find((r) => r.status === status)?.n ?? 0
      ])
    }
    db.close()
    Fs.rmSync(Path.dirname(file), { recursive: true, force: true })
  }, 120_000)

  it("a lease excludes other processes, and one held by a killed process is recovered after its ttl", async () => {
    const file = tempFile()
    const id = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(
        SessionManager.layer().pipe(Layer.provide(SqliteStore.layer({ filename: file })))
      )
      const manager = context.unsafeMap.get(SessionManager.SessionManager.key) as SessionManager.SessionManagerShape
      return (yield* manager.create({ owner: "shared" })).id
    })))
    const holder = start("hold", file, id)
    const held = await holder.waitFor((line) => line.held === id)
    const taker = start("take", file, id)
    const refused = await taker.waitFor((line) => "refused" in line)
    expect(refused).toMatchObject({ refused: "SessionBusy" })
    expect(String(refused.holder)).toMatch(/^hold-\d+\//)
    const killedAt = Date.now()
    holder.process.kill("SIGKILL")
    await holder.exited
    const took = await taker.waitFor((line) => "took" in line, 10_000)
    // The lease ttl is one second: recovery comes after it, not long after.
    expect(Date.now() - killedAt).toBeLessThan(5_000)
    expect(Number(took.token)).toBeGreaterThan(Number(held.token))
    expect(await taker.exited).toBe(0)
    Fs.rmSync(Path.dirname(file), { recursive: true, force: true })
  }, 60_000)
})
