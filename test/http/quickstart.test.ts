/**
 * The README's shell quickstart, run as written against the real service: the block is taken from the README, the
 * service it starts in terminal 1 is started by the test instead, its port is the test's, and the event stream it
 * opens is cut after two seconds. Everything else runs as a reader would type it.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { inherited, secret, type ServiceProcess, startProcess } from "../support/service.js"

const root = Path.join(import.meta.dirname, "..", "..")
const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
const block = /```sh\n(npm start[\s\S]*?)```/.exec(readme)![1]!

describe("the README's shell quickstart", () => {
  let service: ServiceProcess
  beforeAll(async () => {
    service = await startProcess()
  })
  afterAll(() => service.stop())

  it("runs as written: create (201 with Location and ETag), read, conditional write, merge, events, close", () => {
    const host = new URL(service.url).host
    const lines = block.split("\n")
    expect(lines[0]).toMatch(/^npm start\s/)
    const script = lines.slice(1).join("\n")
      .replaceAll("localhost:8080", host)
      .replace(/^curl -sN ([^#]*?)\s*(?:#.*)?$/m, "curl -sN --max-time 2 $1 || test $? -eq 28")
    const run = ChildProcess.spawnSync("bash", ["-e", "-c", script], {
      cwd: root,
      env: { ...inherited(), SESSIONS_DATA_DIR: service.dataDir, SESSIONS_JWT_SECRET: secret },
      encoding: "utf8",
      timeout: 60_000
    })
    // Only the CLI's note of which secret signed the tokens; no curl or shell error.
    expect(run.stderr.trim().split("\n")).toEqual([
      "signed with SESSIONS_JWT_SECRET",
      "signed with SESSIONS_JWT_SECRET"
    ])
    expect(run.status).toBe(0)
    const out = run.stdout
    expect(out).toMatch(/^HTTP\/1\.1 201 Created/m)
    expect(out).toMatch(/^location: \/sessions\/[A-Za-z0-9_-]{22}\r?$/im)
    expect(out).toMatch(/^etag: "1"\r?$/im)
    // The read, the conditional write (version 2), the merge (version 3), the close and the admin's stats.
    expect(out).toContain(`"data":{"model":"m2"}`)
    expect(out).toContain(`"data":{"model":"m2","turns":3}`)
    expect(out).toContain(": connected\nretry: 2000")
    expect(out).toMatch(/"status":"closed","createdAt"|"status":"closed"/)
    expect(out).toMatch(/"counts":\{"active":0,"waiting":0,"closed":1/)
  }, 90_000)
})
