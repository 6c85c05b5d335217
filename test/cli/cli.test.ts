/**
 * The operator CLI: the built `effect-sessions` binary (exit codes, one-line errors, help, working on the database
 * a real service wrote), and the same commands run in this process on a real SQLite file (so coverage sees them).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Duration, Effect, Exit } from "effect"
import { jwtVerify } from "jose"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as SqliteStore from "../../src/adapters/sqlite/SqliteStore.js"
import type { SessionId } from "../../src/domain/Ids.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { call, makeDir, removeDir, secret, sign, startProcess } from "../support/service.js"
import { cli, expectOneLine, printed, runInProcess, seed } from "./support.js"

describe("the effect-sessions binary", () => {
  let dataDir: string
  let env: Record<string, string>
  const ids: Array<string> = []

  beforeAll(async () => {
    // A real service writes the database; the CLI then works on it with the service stopped.
    const service = await startProcess({ SESSIONS_JWT_SECRET: undefined })
    dataDir = service.dataDir
    env = { SESSIONS_DATA_DIR: dataDir }
    const token = await sign(Fs.readFileSync(Path.join(dataDir, "jwt-secret"), "utf8").trim(), "alice")
    for (let i = 0; i < 3; i++) {
      const created = await call(service, "POST", "/sessions", { token, body: { kind: "cli" } })
      expect(created.status).toBe(201)
      ids.push(created.json["id"])
    }
    service.child.kill("SIGTERM")
    expect(await service.exited).toBe(0)
  })
  afterAll(() => removeDir(dataDir))

  it("prints help for the tool and every command", () => {
    const top = cli(["--help"])
    expect(top.code).toBe(0)
    for (const name of ["serve", "status", "list", "show", "close", "sweep", "locks", "backup", "restore", "verify"]) {
      expect(top.stdout).toContain(name)
    }
    for (const name of ["token", "doctor", "locks"]) {
      const help = cli([name, "--help"])
      expect(help.code).toBe(0)
      expect(help.stdout).toContain(name)
    }
  })

  it("refuses bad usage with exit 2 and bad configuration with exit 1, one line each", () => {
    const badTtl = cli(["token", "--owner", "alice", "--ttl", "90x"], env)
    expect(badTtl.code).toBe(2)
    expect(badTtl.stdout + badTtl.stderr).toContain("--ttl")
    expect(badTtl.stderr + badTtl.stdout).not.toMatch(/\n\s+at /)

    const unknown = cli(["frobnicate"], env)
    expect(unknown.code).toBe(2)

    // Out-of-range numbers are usage errors too, naming the option and its range.
    for (const limit of ["-5", "0", "1001"]) {
      const outOfRange = cli(["list", "--limit", limit], env)
      expect(outOfRange.code).toBe(2)
      expect(outOfRange.stdout).toBe("")
      expect(outOfRange.stderr).toContain(`--limit: must be from 1 to 1000, got ${limit}`)
    }
    expect(cli(["list", "--limit", "abc"], env).code).toBe(2)
    expect(cli(["list", "--limit", "1000", "--json"], env).code).toBe(0)

    const badConfig = cli(["config", "check"], { ...env, SESSIONS_PORT: "eighty", SESSIONS_IDLE_TIMEOUT: "soon" })
    expect(badConfig.code).toBe(1)
    // Every bad variable, each on its own line under one heading, and no stack.
    expect(badConfig.stderr.trim().split("\n")).toEqual([
      "effect-sessions: invalid configuration:",
      expect.stringMatching(/^ {2}- SESSIONS_PORT: expected a whole number/),
      expect.stringMatching(/^ {2}- SESSIONS_IDLE_TIMEOUT: expected a duration/)
    ])

    const noDatabase = cli(["list"], { SESSIONS_DATA_DIR: Path.join(dataDir, "elsewhere") })
    expect(noDatabase.code).toBe(1)
    expectOneLine(noDatabase.stderr, /no database at/)

    const missing = cli(["show", "AAAAAAAAAAAAAAAAAAAAAA"], env)
    expect(missing.code).toBe(1)
    expectOneLine(missing.stderr, /not found/)
  })

  it("lists, shows, closes and sweeps on the service's database", () => {
    const listed = cli(["list", "--owner", "alice", "--json"], env)
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout).sessions.map((s: { id: string }) => s.id).sort()).toEqual([...ids].sort())
    const table = cli(["list", "--kind", "cli"], env)
    expect(table.stdout.split("\n").filter((line) => ids.some((id) => line.includes(id)))).toHaveLength(3)

    const shown = cli(["show", ids[0]!, "--json"], env)
    expect(shown.code, shown.stderr).toBe(0)
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: ids[0], owner: "alice", status: "active" })

    const closed = cli(["close", ids[0]!, "--reason", "operator test"], env)
    expect(closed.code).toBe(0)
    expect(closed.stdout).toContain(`closed ${ids[0]}`)
    expect(JSON.parse(cli(["show", ids[0]!, "--json"], env).stdout)).toMatchObject({ status: "closed" })

    const swept = cli(["sweep", "--json"], env)
    expect(swept.code).toBe(0)
    expect(JSON.parse(swept.stdout)).toMatchObject({ expired: 0 })
  })

  it("backs up, verifies, restores, mints tokens the service accepts, and diagnoses", async () => {
    const file = Path.join(dataDir, "copy.backup")
    const backedUp = cli(["backup", file, "--json"], env)
    expect(backedUp.code).toBe(0)
    expect(JSON.parse(backedUp.stdout)).toMatchObject({ sessions: 3 })
    expect(backedUp.stderr).toMatch(/backup: 3\/3/)

    const verified = cli(["verify"], env)
    expect(verified.code).toBe(0)
    expect(verified.stdout).toContain("integrity: ok")

    const dry = cli(["restore", file, "--dry-run"], env)
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain("would restore 3 sessions")

    const minted = cli(["token", "--owner", "bob", "--admin", "--ttl", "2h"], env)
    expect(minted.code).toBe(0)
    const key = Fs.readFileSync(Path.join(dataDir, "jwt-secret"), "utf8").trim()
    const { payload } = await jwtVerify(minted.stdout.trim(), Buffer.from(key))
    expect(payload).toMatchObject({ sub: "bob", admin: true })
    expect(payload.exp! - payload.iat!).toBe(7200)

    const healthy = cli(["doctor", "--json"], env)
    expect(healthy.code).toBe(0)
    const findings = JSON.parse(healthy.stdout) as Array<{ check: string; ok: boolean }>
    expect(findings.map((item) => item.check)).toEqual([
      "config",
      "secret",
      "database",
      "migrations",
      "integrity",
      "service"
    ])
    expect(findings.every((item) => item.ok)).toBe(true)

    if (process.platform !== "win32") {
      const secretFile = Path.join(dataDir, "jwt-secret")
      Fs.chmodSync(secretFile, 0o644)
      try {
        const exposed = cli(["doctor"], env)
        expect(exposed.code).toBe(1)
        expect(exposed.stdout).toMatch(/FAIL secret: .* can be read by other users/)
        expect(exposed.stdout).toContain(`fix: chmod 600 ${secretFile}`)
        expectOneLine(exposed.stderr, /1 check\(s\) failed/)
      } finally {
        Fs.chmodSync(secretFile, 0o600)
      }
    }
  })

  it("tells whether a service answers", async () => {
    const service = await startProcess({ SESSIONS_DATA_DIR: dataDir, SESSIONS_JWT_SECRET: undefined })
    const port = new URL(service.url).port
    try {
      const up = cli(["status", "--json"], { ...env, SESSIONS_PORT: port })
      expect(up.code).toBe(0)
      expect(JSON.parse(up.stdout)).toMatchObject({ server: { reachable: true, ready: true } })
    } finally {
      service.child.kill("SIGTERM")
      await service.exited
    }
    const down = cli(["status"], { ...env, SESSIONS_PORT: port })
    expect(down.code).toBe(0)
    expect(down.stdout).toContain("not answering")
  })
})

describe("the CLI commands in process", () => {
  let dir: string
  let env: Record<string, string>
  let ids: ReadonlyArray<SessionId>

  beforeAll(async () => {
    dir = makeDir()
    env = { SESSIONS_DATA_DIR: dir, SESSIONS_JWT_SECRET: secret }
    ids = await seed(Path.join(dir, "sessions.db"), 12)
  })
  afterAll(() => removeDir(dir))

  it("lists in pages, shows, closes and sweeps", async () => {
    const first = await runInProcess(["list", "--owner", "alice", "--limit", "4"], env)
    expect(Exit.isSuccess(first.exit)).toBe(true)
    const cursor = /more: --after (\S+)/.exec(first.stdout)?.[1]
    expect(cursor).toBeDefined()
    const second = await runInProcess(["list", "--owner", "alice", "--limit", "4", "--after", cursor!, "--json"], env)
    expect(printed(second).sessions).toHaveLength(2)
    const waiting = await runInProcess(["list", "--status", "waiting", "--json"], env)
    expect(printed(waiting).sessions).toEqual([])

    const shown = await runInProcess(["show", ids[1]!], env)
    expect(shown.stdout).toMatch(/owner\s+\|?\s*"bob"/)
    const closed = await runInProcess(["close", ids[1]!, "--json"], env)
    expect(printed(closed)).toMatchObject({ status: "closed", endReason: "closed by operator" })
    const again = await runInProcess(["close", ids[1]!], env)
    expect(Exit.isFailure(again.exit)).toBe(true)

    const swept = await runInProcess(["sweep"], env)
    expect(swept.stdout).toMatch(/^expired 0, purged \d+ tombstones$/)
    const status = await runInProcess(["status", "--json"], { ...env, SESSIONS_PORT: "1" })
    expect(printed(status)).toMatchObject({ server: { reachable: false }, counts: { active: 11, closed: 1 } })
    const plain = await runInProcess(["status"], { ...env, SESSIONS_PORT: "1" })
    expect(plain.stdout).toContain("active 11")
  })

  it("lists leases with holder, fencing token and expiry, and releases expired ones", async () => {
    const filename = Path.join(dir, "sessions.db")
    await Effect.runPromise(
      Effect.gen(function*() {
        const store = yield* SessionStore
        yield* store.acquireLease(ids[2]!, "worker-a", Duration.millis(1))
        yield* store.acquireLease(ids[4]!, "worker-b", Duration.hours(1))
      }).pipe(Effect.provide(SqliteStore.layer({ filename })))
    )
    await new Promise((resolve) => setTimeout(resolve, 20))
    const listed = await runInProcess(["locks"], env)
    expect(listed.stdout).toContain("worker-a")
    expect(listed.stdout).toContain("expired")
    const released = await runInProcess(["locks", "--release-expired", "--json"], env)
    const report = printed(released)
    expect(report.released).toBe(1)
    expect(report.leases.map((lease: { holder: string }) => lease.holder).sort()).toEqual(["worker-a", "worker-b"])
    const after = printed(await runInProcess(["locks", "--json"], env))
    expect(after.leases.map((lease: { holder: string; token: number }) => lease.holder)).toEqual(["worker-b"])
    expect(after.leases[0].token).toBeGreaterThan(0)
  })

  it("backs up, restores, verifies and repairs", async () => {
    const file = Path.join(dir, "all.backup")
    const backedUp = await runInProcess(["backup", file], env)
    expect(backedUp.stdout).toMatch(/^wrote .*: 12 sessions, \d+ bytes, sha256 [0-9a-f]{64}$/)
    const again = await runInProcess(["backup", file], env)
    expect(String(again.exit)).toContain("already exists; add --force to replace it")
    expect(Exit.isSuccess((await runInProcess(["backup", file, "--force"], env)).exit)).toBe(true)
    const written = await runInProcess(["backup", Path.join(dir, "backups", "nightly.backup")], env)
    expect(Exit.isSuccess(written.exit)).toBe(true)
    const listed = printed(await runInProcess(["backup", "list", "--json"], env))
    expect(listed.backups).toMatchObject([{ file: "nightly.backup", sessions: 12, verified: true }])
    const dry = await runInProcess(["restore", file, "--dry-run", "--json"], env)
    expect(printed(dry)).toMatchObject({ sessions: 12 })

    const db = new Database(Path.join(dir, "sessions.db"))
    db.prepare("UPDATE sessions SET data = 'not json' WHERE id = ?").run(ids[6])
    db.close()
    const found = await runInProcess(["verify"], env)
    expect(Exit.isFailure(found.exit)).toBe(true)
    expect(found.stdout).toContain(`corrupt ${ids[6]}: data: not valid JSON`)
    const doctor = await runInProcess(["doctor"], env)
    expect(doctor.stdout).toMatch(/FAIL integrity: .*1 corrupt/)
    expect(doctor.stdout).toContain("fix: run verify --repair")
    const repaired = await runInProcess(["verify", "--repair", "--json"], env)
    expect(Exit.isSuccess(repaired.exit)).toBe(true)
    expect(printed(repaired)).toMatchObject({ quarantined: 1 })
    expect(Exit.isSuccess((await runInProcess(["verify"], env)).exit)).toBe(true)

    const restored = await runInProcess(["restore", file], env)
    expect(restored.stdout).toMatch(/^restored 12 sessions .* replacing 11 sessions$/)
    const shown = await runInProcess(["show", ids[6]!, "--json"], env)
    expect(printed(shown).data).toEqual({ i: 6 })
  })

  it("mints tokens, checks the configuration and prints the reference", async () => {
    const token = await runInProcess(["token", "--owner", "carol"], env)
    expect(token.stderr).toBe("signed with SESSIONS_JWT_SECRET")
    const { payload } = await jwtVerify(token.stdout.trim(), Buffer.from(secret))
    expect(payload).toMatchObject({ sub: "carol" })
    expect(payload.admin).toBeUndefined()
    const badOwner = await runInProcess(["token", "--owner", ""], env)
    expect(Exit.isFailure(badOwner.exit)).toBe(true)

    const check = await runInProcess(["config", "check"], env)
    expect(check.stdout).toContain("configuration is valid")
    const json = printed(await runInProcess(["config", "check", "--json"], env))
    expect(Object.keys(json).length).toBeGreaterThan(10)
    const bad = await runInProcess(["config", "check"], { ...env, SESSIONS_MAX_SESSIONS: "-1" })
    expect(Exit.isFailure(bad.exit)).toBe(true)
    const reference = await runInProcess(["config", "reference"], env)
    for (const variable of ["SESSIONS_PORT", "SESSIONS_IDLE_TIMEOUT", "SESSIONS_SQLITE_FILE", "SESSIONS_JWT_ISSUER"]) {
      expect(reference.stdout).toContain(variable)
    }

    const weak = await runInProcess(["doctor", "--json"], { ...env, SESSIONS_JWT_SECRET: "password" })
    const findings = printed(weak) as Array<{ check: string; ok: boolean; fix: string | null }>
    expect(findings.find((item) => item.check === "secret")).toMatchObject({ ok: false })
    const badConfig = await runInProcess(["doctor", "--json"], { ...env, SESSIONS_PORT: "x" })
    expect(printed(badConfig)[0]).toMatchObject({ check: "config", ok: false })
    const fresh = makeDir()
    try {
      const empty = await runInProcess(["doctor", "--json"], { SESSIONS_DATA_DIR: fresh })
      expect(printed(empty).map((item: { ok: boolean }) => item.ok)).toEqual([true, true, true])
      // Neither doctor nor token creates a secret (or anything else) where there is none.
      const noSecret = await runInProcess(["token", "--owner", "carol"], { SESSIONS_DATA_DIR: fresh })
      expect(Exit.isFailure(noSecret.exit)).toBe(true)
      expect(String(noSecret.exit)).toContain("no token signing secret")
      expect(Fs.readdirSync(fresh)).toEqual([])
    } finally {
      removeDir(fresh)
    }
  })
})
