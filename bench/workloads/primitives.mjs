/**
 * Effect's own primitives against the structures the manager uses where the two could serve, each timed alone in one
 * process: `node primitives.mjs <subject> '{"n": ...}'`, microseconds per operation (lower is better).
 *
 * Subjects:
 * - `session permit (KeyedLocks)`: an uncontended exclusive permit on one of 1,000 keys through the manager's keyed
 *   permit table (what every status or data write takes);
 * - `session permit (Semaphore table)`: the same through a keyed table of `Effect.makeSemaphore(1)`, each freed when
 *   idle, the wait bounded and released on every exit (the shape `RcMap` would give);
 * - `shutdown gate (Ref)` and `shutdown gate (field)`: the check every manager call makes, through `Ref.get` or a
 *   plain field.
 */
import { Duration, Effect, Ref } from "effect"
import { KeyedLocks } from "../../dist/services/internal/KeyedLocks.js"
import { args, report, round3 } from "../lib/common.mjs"

const work = Effect.sync(() => 1)

/** A keyed table of semaphores of one permit, an entry freed when no one holds or waits for it. */
const semaphoreTable = () => {
  const entries = new Map()
  return (key, timeout, use) =>
    Effect.suspend(() => {
      let entry = entries.get(key)
      if (entry === undefined) {
        entry = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
        entries.set(key, entry)
      }
      // A deadline on the wait only when there is one (another user of the key), as the manager's table does.
      const taken = entry.users++ === 0
        ? entry.semaphore.take(1)
        : Effect.timeoutFail(entry.semaphore.take(1), { duration: timeout, onTimeout: () => "busy" })
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(taken), () => Effect.ensuring(restore(use), entry.semaphore.release(1)))
      ).pipe(Effect.ensuring(Effect.sync(() => --entry.users === 0 && entries.delete(key))))
    })
}

const timed = (n, op) => {
  const program = Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* op(i)
  })
  Effect.runSync(program)
  const started = performance.now()
  Effect.runSync(program)
  return { "µs per op": round3(((performance.now() - started) * 1000) / n) }
}

const locks = new KeyedLocks()
const table = semaphoreTable()
const timeout = Duration.seconds(5)
let closing = false
const gate = Ref.unsafeMake(false)

const subjects = {
  "session permit (KeyedLocks)": ({ n }) => timed(n, (i) => locks.withPermit(`k${i % 1000}`, "h", timeout, work)),
  "session permit (Semaphore table)": ({ n }) => timed(n, (i) => table(`k${i % 1000}`, timeout, work)),
  "shutdown gate (field)": ({ n }) => timed(n, () => Effect.suspend(() => (closing ? Effect.fail("closing") : work))),
  "shutdown gate (Ref)": ({ n }) =>
    timed(n, () => Effect.flatMap(Ref.get(gate), (closed) => (closed ? Effect.fail("closing") : work)))
}

const { params, subject } = args()
const workload = subjects[subject]
if (workload === undefined) throw new Error(`no subject ${subject}`)
await report(params.runs ?? 3, async () => workload(params))
process.exit(0)
