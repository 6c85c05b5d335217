import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Schema } from "effect"
import * as fc from "fast-check"
import {
  configFromEnv,
  configReference,
  defaultConfig,
  envName,
  formatDuration,
  makeConfig,
  parseDuration,
  parseRate,
  SessionsConfig
} from "../../src/index.js"

const fromEnv = (vars: Record<string, string>) =>
  configFromEnv.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars)))))

describe("SessionsConfig", () => {
  it("has the documented defaults", () => {
    expect(Duration.toMillis(defaultConfig.idleTimeout)).toBe(15 * 60_000)
    expect(Duration.toMillis(defaultConfig.maxLifetime)).toBe(24 * 3_600_000)
    expect(Duration.toMillis(defaultConfig.retention)).toBe(3_600_000)
    expect(Duration.toMillis(defaultConfig.sweepInterval)).toBe(30_000)
    expect(defaultConfig.sweepBatch).toBe(1000)
    expect(defaultConfig.maxSessions).toBe(100_000)
    expect(defaultConfig.maxSessionsPerOwner).toBe(100)
    expect(defaultConfig.capacityPolicy).toBe("reject")
    expect(defaultConfig.maxDataBytes).toBe(64 * 1024)
    expect(defaultConfig.responseTimeWindow).toBe(100)
    expect(defaultConfig.eventBuffer).toBe(1024)
    expect(defaultConfig.sessionRateLimit.limit).toBe(100)
    expect(Duration.toMillis(defaultConfig.sessionRateLimit.window)).toBe(1000)
    expect(Duration.toMillis(defaultConfig.lockTimeout)).toBe(5000)
    expect(Duration.toMillis(defaultConfig.leaseTtl)).toBe(30_000)
    expect(Duration.toMillis(defaultConfig.operationTimeout)).toBe(120_000)
    expect(Duration.toMillis(defaultConfig.storeTimeout)).toBe(5000)
    expect(Duration.toMillis(defaultConfig.retryBase)).toBe(50)
    expect(defaultConfig.retryFactor).toBe(2)
    expect(defaultConfig.retryMaxAttempts).toBe(5)
    expect(Duration.toMillis(defaultConfig.shutdownDeadline)).toBe(10_000)
    expect(Either.getOrThrow(makeConfig())).toEqual(defaultConfig)
  })

  it("takes durations as Duration, milliseconds or text", () => {
    const config = Either.getOrThrow(
      makeConfig({
        idleTimeout: Duration.minutes(5),
        maxLifetime: "2 hours",
        retention: 90_000,
        sweepInterval: "1m30s",
        sessionRateLimit: "10/1m",
        ownerRateLimit: { limit: 5, window: "1 second" },
        maxSessions: "500",
        capacityPolicy: "evict-lru"
      })
    )
    expect(Duration.toMillis(config.idleTimeout)).toBe(300_000)
    expect(Duration.toMillis(config.maxLifetime)).toBe(7_200_000)
    expect(Duration.toMillis(config.retention)).toBe(90_000)
    expect(Duration.toMillis(config.sweepInterval)).toBe(90_000)
    expect(config.sessionRateLimit.limit).toBe(10)
    expect(Duration.toMillis(config.sessionRateLimit.window)).toBe(60_000)
    expect(config.ownerRateLimit.limit).toBe(5)
    expect(config.maxSessions).toBe(500)
    expect(config.capacityPolicy).toBe("evict-lru")
  })

  it("reports every bad field at once, each with what was wrong and what is allowed", () => {
    const result = makeConfig({
      idleTimeout: "soon",
      sweepBatch: 0,
      capacityPolicy: "drop-oldest" as never,
      retryFactor: 0.5,
      sessionRateLimit: "fast",
      maxSessions: 1.5
    })
    expect(Either.isLeft(result)).toBe(true)
    const issues = Either.getLeft(result).pipe((e) => (e._tag === "Some" ? e.value.issues : []))
    expect(issues.map((issue) => issue.field).sort()).toEqual([
      "capacityPolicy",
      "idleTimeout",
      "maxSessions",
      "retryFactor",
      "sessionRateLimit",
      "sweepBatch"
    ])
    const reason = (field: string) => issues.find((issue) => issue.field === field)!.reason
    expect(reason("idleTimeout")).toContain("15m")
    expect(reason("idleTimeout")).toContain("\"soon\"")
    expect(reason("sweepBatch")).toContain("from 1 to 1000000, got 0")
    expect(reason("capacityPolicy")).toContain("reject | evict-lru")
    expect(reason("sessionRateLimit")).toContain("100/s")
  })

  it("rejects unknown settings and settings that contradict each other", () => {
    const unknown = makeConfig({ idleTimout: "5m" } as never)
    expect(Either.getLeft(unknown).pipe((e) => e._tag === "Some" && e.value.issues)).toEqual([
      { field: "idleTimout", reason: "is not a setting of effect-sessions" }
    ])
    const contradiction = makeConfig({ maxSessions: 10, maxSessionsPerOwner: 20, idleTimeout: "2d" })
    const fields = Either.getLeft(contradiction).pipe((e) =>
      e._tag === "Some" ? e.value.issues.map((i) => i.field) : []
    )
    expect(fields.sort()).toEqual(["idleTimeout", "maxSessionsPerOwner"])
  })

  it("rejects zero and negative durations where they make no sense", () => {
    for (const input of [{ idleTimeout: 0 }, { leaseTtl: "0s" }, { storeTimeout: -5 }] as const) {
      expect(Either.isLeft(makeConfig(input))).toBe(true)
    }
    expect(Either.isRight(makeConfig({ retention: 0, touchCoalesce: "0ms" }))).toBe(true)
  })

  it("takes durations only in whole milliseconds and at most 36500 days, the rule stored sessions are read with", () => {
    for (const bad of [1.5, "1.5ms", 1e308, "99999999999d", 9007199254740992, "36501d"]) {
      const issues = Either.getLeft(makeConfig({ idleTimeout: bad, maxLifetime: bad })).pipe((e) =>
        e._tag === "Some" ? e.value.issues.map((issue) => issue.field).sort() : []
      )
      expect(issues).toEqual(["idleTimeout", "maxLifetime"])
    }
    expect(Either.getOrThrow(makeConfig({ maxLifetime: "36500d", idleTimeout: "1.5s" })).idleTimeout).toEqual(
      Duration.millis(1500)
    )
  })

  it.effect("loads from SESSIONS_* variables, leaving unset ones at their defaults", () =>
    Effect.gen(function*() {
      const config = yield* fromEnv({
        SESSIONS_IDLE_TIMEOUT: "5m",
        SESSIONS_CAPACITY_POLICY: "evict-lru",
        SESSIONS_MAX_SESSIONS_PER_OWNER: "7",
        SESSIONS_SESSION_RATE_LIMIT: "20/s",
        SESSIONS_RETRY_FACTOR: "1.5"
      })
      expect(Duration.toMillis(config.idleTimeout)).toBe(300_000)
      expect(config.capacityPolicy).toBe("evict-lru")
      expect(config.maxSessionsPerOwner).toBe(7)
      expect(config.sessionRateLimit.limit).toBe(20)
      expect(config.retryFactor).toBe(1.5)
      expect(config.maxLifetime).toEqual(defaultConfig.maxLifetime)
    }))

  it.effect("names every bad variable at once when loading from the environment", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(fromEnv({
        SESSIONS_IDLE_TIMEOUT: "90x",
        SESSIONS_MAX_SESSIONS: "lots",
        SESSIONS_LEASE_TTL: ""
      }))
      expect(error._tag).toBe("InvalidConfig")
      expect(error.issues.map((issue) => issue.field).sort()).toEqual([
        "SESSIONS_IDLE_TIMEOUT",
        "SESSIONS_LEASE_TTL",
        "SESSIONS_MAX_SESSIONS"
      ])
      expect(error.message).toContain("SESSIONS_IDLE_TIMEOUT")
      expect(error.message).toContain("\"90x\"")
    }))

  it("documents every field with its environment variable and default", () => {
    expect(configReference.length).toBe(Object.keys(defaultConfig).length)
    for (const row of configReference) {
      expect(row.env).toBe(envName(row.field))
      expect(row.env).toMatch(/^SESSIONS_[A-Z_]+$/)
      expect(row.doc.length).toBeGreaterThan(10)
      // The printed default reads back as the default.
      const reread = Either.getOrThrow(makeConfig({ [row.field]: row.default }))
      expect(reread[row.field]).toEqual(defaultConfig[row.field])
    }
    expect(envName("maxSessionsPerOwner")).toBe("SESSIONS_MAX_SESSIONS_PER_OWNER")
  })

  it("encodes back to the text forms", () => {
    const encoded = Schema.encodeSync(SessionsConfig)(defaultConfig)
    expect(encoded).toMatchObject({ idleTimeout: "15m", maxLifetime: "1d", sessionRateLimit: "100/1s" })
  })
})

describe("duration and rate text", () => {
  it("reads the short and long forms", () => {
    const ms = (text: string) => Duration.toMillis(Either.getOrThrow(parseDuration(text)))
    expect(ms("500ms")).toBe(500)
    expect(ms("30s")).toBe(30_000)
    expect(ms("1h30m")).toBe(5_400_000)
    expect(ms("15 minutes")).toBe(900_000)
    expect(ms("2 Days")).toBe(172_800_000)
    expect(ms("1.5h")).toBe(5_400_000)
    for (const bad of ["", "90x", "-5s", "5", "m", "1h 30", "NaN ms"]) {
      expect(Either.isLeft(parseDuration(bad))).toBe(true)
    }
    expect(Either.isLeft(parseDuration(Duration.infinity))).toBe(true)
    expect(Either.isLeft(parseDuration(Number.NaN))).toBe(true)
  })

  it.prop("prints durations in a form it reads back", [fc.integer({ min: 0, max: 10 ** 12 })], ([millis]) => {
    const text = formatDuration(Duration.millis(millis))
    expect(Duration.toMillis(Either.getOrThrow(parseDuration(text)))).toBe(millis)
  })

  it("reads rates", () => {
    const rate = Either.getOrThrow(parseRate("100/s"))
    expect(rate.limit).toBe(100)
    expect(Duration.toMillis(rate.window)).toBe(1000)
    expect(Duration.toMillis(Either.getOrThrow(parseRate("20 / 1m")).window)).toBe(60_000)
    for (const bad of ["0/s", "10/0s", "/s", "10", "ten/s", "10/x"]) expect(Either.isLeft(parseRate(bad))).toBe(true)
  })
})
