/**
 * `effect-sessions token` through the built binary: it signs only with the service's own secret (never a new one),
 * says which it used, keeps within the longest token lifetime; and the service it signs for refuses tokens whose
 * time claims are out of bounds.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { jwtVerify, SignJWT } from "jose"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { call, makeDir, removeDir, secret, startProcess } from "../support/service.js"
import { cli, expectOneLine } from "./support.js"

describe("effect-sessions token", () => {
  let dataDir: string
  let key: string

  beforeAll(async () => {
    // A real service generates its secret on first start.
    const service = await startProcess({ SESSIONS_JWT_SECRET: undefined })
    dataDir = service.dataDir
    key = Fs.readFileSync(Path.join(dataDir, "jwt-secret"), "utf8").trim()
    service.child.kill("SIGTERM")
    expect(await service.exited).toBe(0)
  })
  afterAll(() => removeDir(dataDir))

  it("run where there is no secret, fails saying where it looked and creates nothing", () => {
    const elsewhere = makeDir()
    try {
      const minted = cli(["token", "--owner", "alice"], {}, elsewhere)
      expect(minted.code).toBe(1)
      expect(minted.stdout).toBe("")
      expectOneLine(minted.stderr, /no token signing secret/)
      expect(minted.stderr).toContain(Path.join(Fs.realpathSync(elsewhere), ".data", "jwt-secret"))
      expect(minted.stderr).toContain("start the service once")
      expect(minted.stderr).toContain("SESSIONS_JWT_SECRET")
      expect(minted.stderr).toContain("SESSIONS_DATA_DIR")
      expect(Fs.readdirSync(elsewhere)).toEqual([])
    } finally {
      removeDir(elsewhere)
    }
  })

  it("signs with the service's secret file or SESSIONS_JWT_SECRET and says which, never printing the secret", async () => {
    const fromFile = cli(["token", "--owner", "alice"], { SESSIONS_DATA_DIR: dataDir })
    expect(fromFile.code).toBe(0)
    expect((await jwtVerify(fromFile.stdout.trim(), Buffer.from(key))).payload.sub).toBe("alice")
    expect(fromFile.stderr.trim()).toBe(`signed with the secret in ${Path.join(dataDir, "jwt-secret")}`)

    const elsewhere = makeDir()
    try {
      const fromEnv = cli(["token", "--owner", "bob"], { SESSIONS_JWT_SECRET: secret }, elsewhere)
      expect(fromEnv.code).toBe(0)
      expect((await jwtVerify(fromEnv.stdout.trim(), Buffer.from(secret))).payload.sub).toBe("bob")
      expect(fromEnv.stderr.trim()).toBe("signed with SESSIONS_JWT_SECRET")
      expect(fromEnv.stderr + fromEnv.stdout).not.toContain(secret)
      expect(Fs.readdirSync(elsewhere)).toEqual([])
    } finally {
      removeDir(elsewhere)
    }
  })

  it("refuses a --ttl above the longest token lifetime as a usage error naming the maximum", async () => {
    const env = { SESSIONS_DATA_DIR: dataDir }
    for (
      const [ttl, why] of [["100000d", "longest duration allowed"], ["1000d", "at most 30d"], ["31d", "at most 30d"]]
    ) {
      const minted = cli(["token", "--owner", "alice", "--ttl", ttl!], env)
      expect(minted.code).toBe(2)
      expect(minted.stdout).toBe("")
      expect(minted.stderr).toContain("--ttl")
      expect(minted.stderr).toContain(why)
      expect(minted.stderr).not.toMatch(/\n\s+at /)
    }
    const tight = { ...env, SESSIONS_JWT_MAX_LIFETIME: "30m" }
    const refused = cli(["token", "--owner", "alice", "--ttl", "2h"], tight)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("at most 30m (SESSIONS_JWT_MAX_LIFETIME)")
    // Without --ttl, the default hour is cut to the maximum.
    const capped = cli(["token", "--owner", "alice"], tight)
    expect(capped.code).toBe(0)
    const { payload } = await jwtVerify(capped.stdout.trim(), Buffer.from(key))
    expect(payload.exp! - payload.iat!).toBe(1800)
    expect(cli(["token", "--owner", "alice", "--ttl", "30d"], env).code).toBe(0)
  })

  it("the service refuses tokens issued in the future or valid for too long, saying why without echoing them", async () => {
    const service = await startProcess({ SESSIONS_DATA_DIR: dataDir, SESSIONS_JWT_SECRET: undefined })
    try {
      const now = Math.floor(Date.now() / 1000)
      const signed = (claims: Record<string, unknown>) =>
        new SignJWT({ sub: "alice", ...claims }).setProtectedHeader({ alg: "HS256" }).sign(Buffer.from(key))
      const cases: ReadonlyArray<[Record<string, unknown>, RegExp]> = [
        [{ iat: now + 365 * 86_400, exp: now + 366 * 86_400 }, /issued in the future/],
        [{ iat: now, exp: 1e300 }, /valid for longer than the 30d allowed/],
        [{ exp: 1e300 }, /valid for longer than/],
        [{ nbf: now + 3600, exp: now + 7200 }, /not valid yet/]
      ]
      for (const [claims, reason] of cases) {
        const token = await signed(claims)
        const response = await call(service, "GET", "/sessions", { token })
        expect(response.status).toBe(401)
        expect(response.json["_tag"]).toBe("Unauthorized")
        expect(response.text).toMatch(reason)
        expect(response.text).not.toContain(token)
      }
      const good = cli(["token", "--owner", "alice", "--ttl", "30d"], { SESSIONS_DATA_DIR: dataDir })
      expect((await call(service, "GET", "/sessions", { token: good.stdout.trim() })).status).toBe(200)
    } finally {
      service.child.kill("SIGTERM")
      await service.exited
    }
  })
})
