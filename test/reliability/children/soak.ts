/**
 * The soak's child process (run with `node --expose-gc`): the real manager on the real clock, with its background
 * sweeper, over a SQLite file, churning sessions through create, activity, expiry and eviction in a bounded
 * configuration. Every `sampleEvery` it forces a garbage collection and prints one JSON line with the heap, the
 * manager's tables, the file's size and how late expiries came; a last line sums the run up.
 *
 * Arguments: `<database file> <seconds> <seed> <sample every ms> <sessions>`: it runs for at least `seconds` and until
 * it has created at least `sessions` (a slower machine runs longer rather than churning less).
 */
import { Duration, Effect, Either, Fiber, Layer, Metric, MetricLabel, Stream } from "effect"
import * as Fs from "node:fs"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { makeConfig, SessionManager } from "../../../src/index.js"
import { metrics } from "../../../src/services/internal/Metrics.js"
import { SqliteStore } from "../../../src/sqlite.js"
import { fromSeed } from "../support/random.js"
import { soakConfig } from "../support/soak.js"

const [file, secondsArg, seedArg, everyArg, sessionsArg] = process.argv.slice(2)
const seconds = Number(secondsArg)
const sampleEvery = Number(everyArg ?? 2000)
const leastSessions = Number(sessionsArg ?? 0)
const random = fromSeed(Number(seedArg))
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with node --expose-gc")

const config = Either.getOrThrow(makeConfig(soakConfig))
const workers = 16
/** Creates per second in the paced phases: under capacity / idleTimeout, so sessions live to expire. */
const pacedRate = 1_500
/** The idle timeout of the flood's sessions (see the phases below). */
const floodIdle = Duration.seconds(10)

const program = Effect.gen(function*() {
  const m = yield* SessionManager.SessionManager
  const expiresAt = new Map<string, number>()
  const recent: Array<string> = []
  let created = 0
  let activities = 0
  let expired = 0
  let evicted = 0
  let missed = 0
  let lags: Array<number> = []
  let maxLag = 0

  // Expired events as they arrive: how late each came after the expiresAt last acknowledged for its session.
  const watcher = yield* Effect.fork(Stream.runForEach(m.events(), (item) =>
    Effect.sync(() => {
      switch (item._tag) {
        case "Expired": {
          expired++
          const due = expiresAt.get(item.id)
          if (due !== undefined) {
            const lag = Date.now() - due
            lags.push(lag)
            maxLag = Math.max(maxLag, lag)
          }
          expiresAt.delete(item.id)
          break
        }
        case "Evicted":
          evicted++
          expiresAt.delete(item.id)
          break
        case "Closed":
          expiresAt.delete(item.id)
          break
        case "EventsMissed":
          missed += item.count
          break
        default:
          break
      }
    })))

  const started = Date.now()
  const until = started + seconds * 1000
  // Phases of five seconds: a flood (capacity binds: evictions), then a paced one (sessions idle out: expiries). The
  // flood's sessions idle out only after ten seconds, so they pile up until capacity binds on any machine that
  // creates 1,000 a second; the paced ones idle out after the configured timeout.
  const flooding = () => Math.floor((Date.now() - started) / 5000) % 2 === 0
  const worker = (w: number) =>
    Effect.gen(function*() {
      for (let n = 0; Date.now() < until || created < leastSessions; n++) {
        const s = yield* m.create({
          owner: `owner-${(w * 7 + n) % 100}`,
          data: { w, n },
          ...(flooding() ? { idleTimeout: floodIdle } : {})
        })
        created++
        expiresAt.set(s.id, s.expiresAt)
        recent.push(s.id)
        if (recent.length > 20_000) recent.splice(0, 10_000)
        if (random.chance(0.5)) {
          const id = recent[recent.length - 1 - random.int(Math.min(recent.length, 5_000))]!
          const touched = yield* Effect.either(m.recordActivity(id, { messages: 1, responseTime: Duration.millis(20) }))
          if (Either.isRight(touched)) {
            activities++
            if (expiresAt.has(id)) expiresAt.set(id, touched.right.expiresAt)
          }
        }
        // Each operation gives the event loop a turn, as a server's request handling does between requests.
        yield* Effect.sleep(flooding() ? Duration.zero : Duration.millis((workers * 1000) / pacedRate))
      }
    })
  const load = yield* Effect.fork(Effect.forEach(Array.from({ length: workers }, (_, w) => w), worker, {
    concurrency: "unbounded",
    discard: true
  }))

  // How late the event loop ran what was due (the sweeper's timer among it), over the whole run.
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const sample = (kind: "sample" | "final") =>
    Effect.gen(function*() {
      gc()
      const stats = yield* m.stats
      // The longest sweep so far: an expiry is recorded at most one interval plus that after it happens.
      const sweepMs = yield* Metric.value(
        metrics.sweepDuration.pipe(Metric.taggedWithLabels([MetricLabel.make("instance", "soak")]))
      )
      const window = lags
      lags = []
      window.sort((a, b) => a - b)
      say({
        [kind]: {
          t: Date.now() - started,
          heapUsed: process.memoryUsage().heapUsed,
          rss: process.memoryUsage().rss,
          locksHeld: stats.locksHeld,
          rateLimitKeys: stats.rateLimitKeys,
          inFlight: stats.inFlight,
          live: stats.live,
          counts: stats.counts,
          sweeps: stats.sweeps,
          sweepMsMax: sweepMs.max,
          loopDelayMsMax: loop.max / 1e6,
          created,
          activities,
          expired,
          evicted,
          missed,
          lagCount: window.length,
          lagP99: window.length === 0 ? null : window[Math.floor(window.length * 0.99)],
          lagMax: window.length === 0 ? null : window[window.length - 1],
          tracked: expiresAt.size,
          dbBytes: Fs.statSync(file!).size,
          walBytes: Fs.existsSync(`${file}-wal`) ? Fs.statSync(`${file}-wal`).size : 0
        }
      })
    })
  // Samples on a fixed grid from the start, so their number does not drift with the time each one takes.
  for (let k = 1; started + k * sampleEvery <= until; k++) {
    yield* Effect.sleep(Duration.millis(Math.max(0, started + k * sampleEvery - Date.now())))
    yield* sample("sample")
  }
  yield* Fiber.join(load)
  // Quiet at last: the remaining sessions expire and are swept, their lag measured too.
  yield* Effect.sleep(
    Duration.sum(Duration.max(Duration.decode(soakConfig.idleTimeout), floodIdle), Duration.seconds(2))
  )
  yield* sample("final")
  yield* Fiber.interrupt(watcher)
  say({ done: { created, activities, expired, evicted, missed, maxLag, seconds: (Date.now() - started) / 1000 } })
})

const layer = SessionManager.layer(config, { instance: "soak" }).pipe(
  Layer.provide(SqliteStore.layer({ filename: file! }))
)

Effect.runPromise(Effect.scoped(Effect.provide(program, layer))).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
