/**
 * What every benchmark workload shares: the payload and ids of the sessions, a clock the workloads move by hand
 * (so expiry is exact and no workload waits), effect-sessions configured for a benchmark (limits that would
 * throttle one caller raised), and the protocol with the runner: a warm-up, then the measured runs, printed as one
 * JSON line `{"runs":[{metric: value}, ...]}` on stdout.
 */
import { Clock, Effect, Either, Layer } from "effect"
import * as Crypto from "node:crypto"
import { makeConfig, MemoryStore, SessionManager } from "../../dist/index.js"

/** About 100 bytes of JSON, the data of every session in every workload. */
export const payload = {
  user: "u-123456",
  model: "gpt-x",
  turns: 3,
  tags: ["a", "b"],
  note: "about a hundred bytes of json."
}

/** Idle timeout of every session: 30 minutes. */
export const idleMs = 30 * 60 * 1000

/** A session id of 128 random bits (base64url), as every subject gets it. */
export const newId = () => Crypto.randomBytes(16).toString("base64url")

/** `count` fresh ids. */
export const ids = (count) => Array.from({ length: count }, newId)

/** The workload's subject and parameters from the command line: `node <workload>.mjs <subject> '<json>'`. */
export const args = () => {
  const [subject, json] = process.argv.slice(2)
  if (subject === undefined) throw new Error("usage: node <workload>.mjs <subject> '<json params>'")
  return { subject, params: JSON.parse(json ?? "{}") }
}

/** Operations per second of `count` operations that took `ms`. */
export const perSecond = (count, ms) => Math.round(count / (ms / 1000))

/** Runs `once` for a warm-up and then `runs` times, and prints the measured runs for the runner. */
export const report = async (runs, once) => {
  process.stderr.write("warm-up\n")
  await once(0)
  const results = []
  for (let run = 1; run <= runs; run++) {
    process.stderr.write(`run ${run}/${runs}\n`)
    results.push(await once(run))
  }
  process.stdout.write(`${JSON.stringify({ runs: results })}\n`)
}

/** Forces a full collection (the workloads that read the heap run with --expose-gc). */
export const collect = () => {
  if (globalThis.gc === undefined) throw new Error("run with node --expose-gc")
  globalThis.gc()
  globalThis.gc()
}

/** A clock that stands still until moved: `advance(ms)`. Sleeps still take real time. */
export const manualClock = (start = Date.now()) => {
  let now = start
  const real = Clock.make()
  return {
    advance: (ms) => {
      now += ms
    },
    now: () => now,
    clock: {
      [Clock.ClockTypeId]: Clock.ClockTypeId,
      unsafeCurrentTimeMillis: () => now,
      currentTimeMillis: Effect.sync(() => now),
      unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
      currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
      sleep: (duration) => real.sleep(duration)
    }
  }
}

/** The configuration of effect-sessions in a benchmark: 30-minute idle timeout, no limit that throttles it. */
export const benchConfig = (overrides = {}) =>
  Either.getOrThrow(
    makeConfig({
      idleTimeout: "30m",
      maxLifetime: "30d",
      maxSessions: 10_000_000,
      maxSessionsPerOwner: 10_000_000,
      sessionRateLimit: "1000000/1s",
      ownerRateLimit: "1000000000/1s",
      rateLimitKeys: 1000,
      ...overrides
    })
  )

/**
 * Runs `program` with a `SessionManager` over `store` (memory unless given), no background sweeper, under the
 * manual clock `clock`.
 */
export const withManager = (program, { config = benchConfig(), clock, store = MemoryStore.layer } = {}) => {
  const layer = SessionManager.layer(config, { sweeper: false }).pipe(Layer.provideMerge(store))
  const scoped = Effect.scoped(Effect.provide(program, layer))
  return Effect.runPromise(clock === undefined ? scoped : Effect.withClock(scoped, clock.clock))
}

/** The `q` quantile (0-1) of `values` (sorted in place). */
export const quantile = (values, q) => {
  values.sort((a, b) => a - b)
  return values[Math.min(values.length - 1, Math.floor(q * values.length))]
}

/** Rounds to three significant figures for the report. */
export const round3 = (value) => Number(value.toPrecision(3))
