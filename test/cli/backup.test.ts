/**
 * `effect-sessions backup` through the built binary: it never replaces a file unless told to, and `backup list`
 * shows the backups in the data directory (where the service writes them), each read and checked in full.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { makeDir, removeDir, secret } from "../support/service.js"
import { cli, expectOneLine, seed } from "./support.js"

describe("effect-sessions backup", () => {
  let dir: string
  let env: Record<string, string>

  beforeAll(async () => {
    dir = makeDir()
    env = { SESSIONS_DATA_DIR: dir, SESSIONS_JWT_SECRET: secret }
    await seed(Path.join(dir, "sessions.db"), 5)
  })
  afterAll(() => removeDir(dir))

  it("refuses to replace an existing file unless --force, and replaces it whole with it", () => {
    const file = Path.join(dir, "kept.backup")
    Fs.writeFileSync(file, "precious\n")
    const refused = cli(["backup", file], env)
    expect(refused.code).toBe(1)
    expectOneLine(refused.stderr, new RegExp(`${file} already exists.*--force`))
    expect(Fs.readFileSync(file, "utf8")).toBe("precious\n")
    expect(Fs.readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([])

    const forced = cli(["backup", file, "--force", "--json"], env)
    expect(forced.code).toBe(0)
    expect(JSON.parse(forced.stdout)).toMatchObject({ file, sessions: 5 })
    expect(Fs.readFileSync(file, "utf8")).toMatch(/^\{"format":"effect-sessions-backup"/)
    expect(cli(["restore", file, "--dry-run"], env).code).toBe(0)
  })

  it("lists the backups of the data directory with their counts, size and whether each verifies", () => {
    const backups = Path.join(dir, "backups")
    const empty = cli(["backup", "list"], env)
    expect(empty.code).toBe(0)
    expect(empty.stdout).toContain(`no backups in ${backups}`)

    expect(cli(["backup", Path.join(backups, "a.backup")], env).code).toBe(0)
    expect(cli(["backup", Path.join(backups, "b.backup")], env).code).toBe(0)
    const bytes = Fs.readFileSync(Path.join(backups, "b.backup"))
    bytes[Math.floor(bytes.length / 2)] ^= 0x01
    Fs.writeFileSync(Path.join(backups, "c-damaged.backup"), bytes)
    Fs.writeFileSync(Path.join(backups, "d-notes.txt"), "not a backup at all\n")
    Fs.writeFileSync(Path.join(backups, "e-empty.backup"), "")

    const listed = cli(["backup", "list", "--json"], env)
    expect(listed.code).toBe(0)
    const report = JSON.parse(listed.stdout)
    expect(report.directory).toBe(backups)
    const byName = new Map<string, Record<string, unknown>>(
      report.backups.map((entry: Record<string, unknown>) => [entry["file"], entry])
    )
    expect([...byName.keys()].sort()).toEqual([
      "a.backup",
      "b.backup",
      "c-damaged.backup",
      "d-notes.txt",
      "e-empty.backup"
    ])
    expect(byName.get("a.backup")).toMatchObject({
      verified: true,
      sessions: 5,
      activePointers: 0,
      bytes: Fs.statSync(Path.join(backups, "a.backup")).size,
      problem: null
    })
    expect(typeof byName.get("a.backup")!["writtenAt"]).toBe("string")
    expect(byName.get("c-damaged.backup")).toMatchObject({ verified: false, sessions: null })
    expect(byName.get("c-damaged.backup")!["problem"]).toMatch(/checksum mismatch/)
    expect(byName.get("d-notes.txt")).toMatchObject({ verified: false })
    expect(byName.get("e-empty.backup")).toMatchObject({ verified: false, bytes: 0 })
    expect(listed.stderr).toMatch(/backup list: 5\/5/)

    const table = cli(["backup", "list"], env)
    expect(table.code).toBe(0)
    const lines = table.stdout.split("\n")
    expect(lines[0]).toMatch(/^file\s+written\s+sessions\s+active\s+size\s+checksum/)
    expect(lines.find((line) => line.startsWith("a.backup"))).toMatch(/\s5\s+0\s+[\d.]+ (B|KiB)\s+ok$/)
    expect(lines.find((line) => line.startsWith("c-damaged.backup"))).toMatch(/FAILED: checksum mismatch/)
  })

  it("still writes a file named list given as a path, and says so in its help", () => {
    const cwd = makeDir()
    try {
      const written = cli(["backup", "./list"], env, cwd)
      expect(written.code).toBe(0)
      expect(Fs.readFileSync(Path.join(cwd, "list"), "utf8")).toMatch(/^\{"format":"effect-sessions-backup"/)
      const help = cli(["backup", "--help"], env)
      expect(help.code).toBe(0)
      expect(help.stdout).toContain("./list")
      expect(help.stdout).toContain("--force")
      const missing = cli(["backup"], env)
      expect(missing.code).toBe(2)
      expect(missing.stderr).toContain("<file>")
      // A file and the listing at once is a mistake, not a backup that is silently skipped.
      const both = cli(["backup", "other.backup", "list"], env, cwd)
      expect(both.code).toBe(2)
      expect(both.stderr).toContain("backup list takes no file")
      expect(Fs.readdirSync(cwd)).toEqual(["list"])
      expect(JSON.parse(cli(["backup", "--json", "list"], env).stdout).directory).toBe(Path.join(dir, "backups"))
    } finally {
      removeDir(cwd)
    }
  })
})
