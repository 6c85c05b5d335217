/**
 * The built binary on a real SQLite database in which one row does not decode: the other sessions are shown and
 * closed as usual, the corrupt one is reported in one line, and `doctor` names the problem and its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as Path from "node:path"
import type { SessionId } from "../../src/domain/Ids.js"
import { makeDir, removeDir, secret } from "../support/service.js"
import { cli, expectOneLine, seed } from "./support.js"

describe("the binary on a database with a corrupt row", () => {
  let dir: string
  let env: Record<string, string>
  let ids: ReadonlyArray<SessionId>

  beforeAll(async () => {
    dir = makeDir()
    env = { SESSIONS_DATA_DIR: dir, SESSIONS_JWT_SECRET: secret }
    const filename = Path.join(dir, "sessions.db")
    ids = await seed(filename, 4)
    const db = new Database(filename)
    expect(db.prepare("UPDATE sessions SET expires_at = 1e308 WHERE id = ?").run(ids[1]).changes).toBe(1)
    db.close()
  })
  afterAll(() => removeDir(dir))

  it("show of the corrupt row prints the CorruptRecord in one line and exits 1", () => {
    for (const args of [["show", ids[1]!], ["show", ids[1]!, "--json"], ["close", ids[1]!]]) {
      const result = cli(args, env)
      expect(result.code).toBe(1)
      expect(result.stdout).toBe("")
      expectOneLine(result.stderr, new RegExp(`stored session ${ids[1]} is corrupt: expires_at`))
    }
  })

  it("show and close of every other session work as usual", () => {
    const shown = cli(["show", ids[0]!, "--json"], env)
    expect(shown.code).toBe(0)
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: ids[0], status: "active" })
    expect(cli(["show", ids[2]!], env).stdout).toContain(ids[2])
    const closed = cli(["close", ids[3]!, "--json"], env)
    expect(closed.code).toBe(0)
    expect(JSON.parse(closed.stdout)).toMatchObject({ id: ids[3], status: "closed" })
    const listed = cli(["list", "--json"], env)
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout).sessions.map((s: { id: string }) => s.id).sort()).toEqual(
      [ids[0], ids[2], ids[3]].sort()
    )
  })

  it("doctor reports the corrupt row and says verify --repair, running every other check", () => {
    const doctor = cli(["doctor", "--json"], env)
    expect(doctor.code).toBe(1)
    const findings = JSON.parse(doctor.stdout) as Array<{ check: string; ok: boolean; detail: string; fix: string }>
    expect(findings.map((item) => item.check)).toEqual([
      "config",
      "secret",
      "database",
      "migrations",
      "integrity",
      "service"
    ])
    const integrity = findings.find((item) => item.check === "integrity")!
    expect(integrity).toMatchObject({ ok: false, fix: "run verify --repair" })
    expect(integrity.detail).toContain("1 corrupt")
    expect(findings.filter((item) => !item.ok)).toHaveLength(1)
    expectOneLine(doctor.stderr, /1 check\(s\) failed/)
    const plain = cli(["doctor"], env)
    expect(plain.stdout).toMatch(/FAIL integrity: .*1 corrupt.*\n\s+fix: run verify --repair/)
  })

  it("remove takes the corrupt session away on its own, without a repair run; doctor is then content", () => {
    const removed = cli(["remove", ids[1]!, "--reason", "expires_at unreadable", "--json"], env)
    expect(removed.code).toBe(0)
    expect(JSON.parse(removed.stdout)).toEqual({ id: ids[1], removed: true })
    expectOneLine(cli(["show", ids[1]!], env).stderr, new RegExp(`session ${ids[1]} was not found`))
    expectOneLine(cli(["remove", ids[1]!], env).stderr, new RegExp(`no session ${ids[1]} is stored`))
    expect(cli(["doctor"], env).code).toBe(0)
    const db = new Database(Path.join(dir, "sessions.db"))
    expect(db.prepare("SELECT id, reason FROM quarantine").all()).toEqual([
      { id: ids[1], reason: "expires_at unreadable" }
    ])
    db.close()
  })
})
