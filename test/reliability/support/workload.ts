/**
 * A random mix of manager operations for the in-process scenarios (store faults, concurrency): each step is drawn
 * from a seeded generator, runs against a pool of recent sessions, and its outcome is tallied; what succeeded is
 * recorded in a ledger (to check that nothing acknowledged is lost) and with its instant (to check that nothing
 * succeeded on a session after it ended).
 */
import { Cause, Clock, Duration, Effect, Exit } from "effect"
import type { Session, SessionManager } from "../../../src/index.js"
import { Tally } from "./figures.js"
import { Ledger } from "./ledger.js"
import type { Random } from "./random.js"

/** The operations of the mix. */
export const operations = [
  "create",
  "get",
  "touch",
  "activity",
  "wait",
  "resume",
  "update",
  "close",
  "activate",
  "withSession",
  "sweep",
  "list"
] as const
export type Operation = (typeof operations)[number]

/** One drawn step: what to call, on which session, how long `withSession` holds it, how many yields before. */
export interface Step {
  readonly op: Operation
  readonly target: number
  readonly hold: number
  readonly yields: number
}

/** A success: when it returned and the session it returned. */
export interface Success {
  readonly at: number
  readonly op: Operation
  readonly session: Session
}

/** The state of a workload: its sessions, what was acknowledged, and the outcome of every step. */
export interface Workload {
  readonly owners: ReadonlyArray<string>
  /** Every session created, oldest first; steps target the `window` most recent. */
  readonly ids: Array<string>
  readonly window: number
  readonly ledger: Ledger
  readonly outcomes: Tally
  /** The first failure of each outcome, to show what an unexpected one was. */
  readonly examples: Map<string, string>
  /** Steps started and not yet ended, by operation (what a hang is stuck in). */
  readonly running: Tally
  readonly successes: Array<Success>
}

export const makeWorkload = (owners: ReadonlyArray<string>, window: number): Workload => ({
  owners,
  ids: [],
  window,
  ledger: new Ledger(),
  outcomes: new Tally(),
  examples: new Map(),
  running: new Tally(),
  successes: []
})

/** Draws `count` steps of `ops`; `holdMax` bounds how long `withSession` work lasts (ms of the clock). */
export const drawSteps = (
  random: Random,
  count: number,
  holdMax: number,
  ops: ReadonlyArray<Operation> = operations
): Array<Step> =>
  Array.from({ length: count }, () => ({
    op: random.pick(ops),
    target: random.int(1_000_000),
    hold: random.int(holdMax + 1),
    yields: random.int(24)
  }))

/** Creates `count` sessions spread over the owners (sequentially, before the concurrent part). */
export const seed = (m: SessionManager.SessionManagerShape, w: Workload, count: number) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    (i) =>
      Effect.map(m.create({ owner: w.owners[i % w.owners.length]!, data: { seeded: i } }), (s) => {
        w.ids.push(s.id)
        w.ledger.record(s)
      }),
    { discard: true }
  )

const outcomeOf = (op: Operation, exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return `${op}: ok`
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") {
    const error = failure.value
    const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "untyped"
    return `${op}: ${tag}`
  }
  return Cause.isInterruptedOnly(exit.cause) ? `${op}: interrupted` : `${op}: defect`
}

/** The tags of typed failures seen, from `outcomes` (`"op: Tag"` entries other than `ok`). */
export const failureTags = (w: Workload): Set<string> =>
  new Set(
    Object.keys(w.outcomes.toJSON()).map((outcome) => outcome.slice(outcome.indexOf(": ") + 2)).filter((tag) =>
      tag !== "ok"
    )
  )

/** Runs one step and returns its exit; its outcome is tallied and what it returned recorded. Never fails. */
export const runStep = (
  m: SessionManager.SessionManagerShape,
  w: Workload,
  step: Step
): Effect.Effect<Exit.Exit<unknown, unknown>> => {
  const id = w.ids[w.ids.length - 1 - (step.target % Math.min(w.ids.length, w.window))]!
  const owner = w.owners[step.target % w.owners.length]!
  const acked = (op: Operation) => (session: Session) =>
    Effect.flatMap(Clock.currentTimeMillis, (at) =>
      Effect.sync(() => {
        w.successes.push({ at, op, session })
        w.ledger.record(session)
        return session
      }))
  const call = (): Effect.Effect<unknown, unknown> => {
    switch (step.op) {
      case "create":
        return m.create({ owner, name: step.hold % 3 === 0 ? `n${step.target % 7}` : null, data: { step: 0 } }).pipe(
          Effect.tap((s) => Effect.sync(() => w.ids.push(s.id))),
          Effect.flatMap(acked("create"))
        )
      case "get":
        return Effect.flatMap(m.get(id), acked("get"))
      case "touch":
        return Effect.flatMap(m.touch(id), acked("touch"))
      case "activity":
        return Effect.flatMap(
          m.recordActivity(id, { messages: 1, responseTime: Duration.millis(step.hold) }),
          acked("activity")
        )
      case "wait":
        return Effect.flatMap(m.wait(id), acked("wait"))
      case "resume":
        return Effect.flatMap(m.resume(id), acked("resume"))
      case "update":
        return Effect.flatMap(m.update(id, { step: step.target }), acked("update"))
      case "close":
        return Effect.flatMap(m.close(id, { reason: "done" }), acked("close"))
      case "activate":
        return Effect.flatMap(Effect.flatMap(m.get(id), (s) => m.activate(s.owner, id)), acked("activate"))
      case "withSession":
        return m.withSession(id, () =>
          Effect.zipRight(
            Effect.sleep(Duration.millis(step.hold)),
            Effect.flatMap(m.update(id, { work: step.hold }), acked("update"))
          ), { timeout: "2 seconds" })
      case "sweep":
        return m.sweep
      case "list":
        return m.list({ owner, limit: 50 })
    }
  }
  return Effect.suspend(() => {
    w.running.add(step.op)
    return Effect.zipRight(Effect.repeatN(Effect.yieldNow(), step.yields), Effect.exit(Effect.suspend(call)))
  }).pipe(
    Effect.ensuring(Effect.sync(() => w.running.add(step.op, -1))),
    Effect.tap((exit) =>
      Effect.sync(() => {
        const outcome = outcomeOf(step.op, exit)
        w.outcomes.add(outcome)
        if (Exit.isFailure(exit) && !w.examples.has(outcome)) {
          w.examples.set(outcome, Cause.pretty(exit.cause).split("\n")[0]!)
        }
      })
    )
  )
}
