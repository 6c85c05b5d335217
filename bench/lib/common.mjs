/**
 * What every benchmark workload shares: the payload and ids of the sessions, a clock the workloads move by hand
 * (so expiry is exact and no workload waits), effect-sessions configured for a benchmark (limits that would
 * throttle one caller raised), and the protocol with the runner: a warm-up, then the measured runs, printed as one
 * JSON line `{"runs":[{metric: value}, ...]}` on stdout.
 */
import { Clock, Effect, Either, Layer } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
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

/**
 * A clock whose time of day stands still until moved (`advance(ms)`), so expiry is exact; its high-resolution reading
 * (`currentTimeNanos`, what durations are measured with: store latencies, the time a sweep's batch took) runs with
 * real time, as do sleeps.
 */
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
      unsafeCurrentTimeNanos: () => real.unsafeCurrentTimeNanos(),
      currentTimeNanos: Effect.sync(() => real.unsafeCurrentTimeNanos()),
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
      ...overrides
    })
  )

/**
 * Runs `program` with a `SessionManager` over `store` (memory unless given), no background sweeper, under the
 * manual clock `clock`.
 */
export const withManager = (
  program,
  { config = benchConfig(), clock, store = MemoryStore.layer, tracing = false } = {}
) => {
  const layer = SessionManager.layer(config, { sweeper: false, tracing }).pipe(Layer.provideMerge(store))
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

/** Runs `use` with a fresh temporary directory, removed when `use` ends. */
export const inTempDir = async (use) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-sessions-bench-"))
  try {
    return await use(dir)
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Ops/s of each phase (create, get, touch, close) of `n` operations, as `run(phase)` does them. */
export const timedPhases = async (n, run) => {
  const result = {}
  for (const phase of ["create", "get", "touch", "close"]) {
    const started = performance.now()
    await run(phase)
    result[`${phase} ops/s`] = perSecond(n, performance.now() - started)
  }
  return result
}

/**
 * Creates `count` sessions through `manager`, every other one (from the first) expiring one minute after its
 * creation and the rest after the 30-minute idle timeout; the ids of the lasting ones.
 */
export const populate = (manager, count) =>
  Effect.gen(function*() {
    const lasting = []
    for (let i = 0; i < count; i++) {
      const expiring = i % 2 === 0
      const session = yield* manager.create({
        owner: `o${i % 1000}`,
        data: payload,
        idleTimeout: expiring ? 60_000 : idleMs
      })
      if (!expiring) lasting.push(session.id)
    }
    return lasting
  })

/**
 * The CRUD workload through a `SessionManager` over `store` (memory unless given): create n sessions, get each,
 * touch each, close each, one program; ops/s per phase.
 */
export const managerCrud = (n, store, tracing = false) =>
  withManager(
    Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      const list = new Array(n)
      // Generators delegated to with `yield*`: each operation costs its call and nothing more.
      const calls = {
        create: function*(i) {
          list[i] = (yield* manager.create({ owner: `o${i % 1000}`, data: payload })).id
        },
        get: function*(i) {
          yield* manager.get(list[i])
        },
        touch: function*(i) {
          yield* manager.touch(list[i])
        },
        close: function*(i) {
          yield* manager.close(list[i])
        }
      }
      const result = {}
      for (const [phase, call] of Object.entries(calls)) {
        const started = performance.now()
        for (let i = 0; i < n; i++) yield* call(i)
        result[`${phase} ops/s`] = perSecond(n, performance.now() - started)
      }
      return result
    }),
    store === undefined ? { tracing } : { store, tracing }
  )

/**
 * A SQLite database of 2n sessions made through the manager, n of them due to expire two minutes after `start`
 * (every other one), built once per process and copied for each run, so the runs measure the sweep, not the setup.
 * Returns the live ids, `copy(to)` that copies the database to a new file, and `remove()`.
 */
export const sqliteFixture = async (n, start, SqliteStore) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-sessions-bench-"))
  const template = Path.join(dir, "template.db")
  const live = await withManager(
    Effect.flatMap(SessionManager.SessionManager, (manager) => populate(manager, 2 * n)),
    { clock: manualClock(start), store: SqliteStore.layer({ filename: template }) }
  )
  return {
    live,
    copy: (to) => Fs.copyFileSync(template, to),
    remove: () => Fs.rmSync(dir, { recursive: true, force: true })
  }
}
