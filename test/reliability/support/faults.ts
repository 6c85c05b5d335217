/**
 * What the store-fault scenarios share: the stores they run on, the configuration, a workload of random operations
 * in waves, and the checks of how each operation ended.
 */
import { expect } from "@effect/vitest"
import { Cause, Effect, Exit, type Layer } from "effect"
import { MemoryStore, type SessionManager, type SessionsConfigInput, type SessionStore } from "../../../src/index.js"
import type { Faults } from "../../support/FaultyStore.js"
import { sqliteLayer } from "../../support/sqlite.js"
import { runWaves } from "./clock.js"
import { faultyManager, freshInstance } from "./managers.js"
import type { Random } from "./random.js"
import { drawSteps, failureTags, type Operation, operations, runStep, type Workload } from "./workload.js"

export const owners = Array.from({ length: 10 }, (_, i) => `owner-${i}`)
export const limits = { maxSessions: 200, maxSessionsPerOwner: 30 }
export const base: SessionsConfigInput = {
  ...limits,
  capacityPolicy: "evict-lru",
  idleTimeout: "20s",
  retention: "1h",
  sweepInterval: "5s",
  storeTimeout: "1s",
  sessionRateLimit: "1000000/1s",
  ownerRateLimit: "1000000/1s"
}

/** Typed failures an operation may end with here: the domain's own outcomes and the store's. */
export const typed = [
  "SessionEnded",
  "InvalidTransition",
  "CapacityExceeded",
  "SessionNameTaken",
  "SessionBusy",
  "OperationTimeout",
  "SessionNotFound",
  "StaleFencingToken",
  "StoreUnavailable",
  "StoreError"
]

export const stores: ReadonlyArray<readonly [string, () => Layer.Layer<SessionStore, unknown>]> = [
  ["memory store", () => MemoryStore.layer],
  ["SQLite store (file)", () => sqliteLayer()]
]

/** The typed errors among `exits` with the given tag. */
export const errorsTagged = (exits: ReadonlyArray<Exit.Exit<unknown, unknown>>, tag: string) =>
  exits.flatMap((exit) => {
    if (Exit.isSuccess(exit)) return []
    const failure = Cause.failureOption(exit.cause)
    return failure._tag === "Some" && (failure.value as { _tag?: string })._tag === tag
      ? [failure.value as { readonly operation: string; readonly reason: string }]
      : []
  })

/** Every exit is a value or one of the typed failures: never a defect, never an interruption. */
export const expectTyped = (exits: ReadonlyArray<Exit.Exit<unknown, unknown>>, w: Workload) => {
  const untyped = exits.filter((exit) => Exit.isFailure(exit) && exit.cause._tag !== "Fail")
  expect(untyped.map((exit) => Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "")).toEqual([])
  for (const tag of failureTags(w)) {
    expect(typed, [...w.examples].filter(([outcome]) => outcome.endsWith(tag)).join("\n")).toContain(tag)
  }
}

/** Runs `count` random operations of `w` in waves of 100 on `m`, faults as planned, and returns their exits. */
export const churn = (
  m: SessionManager.SessionManagerShape,
  faults: Faults["Type"],
  w: Workload,
  random: Random,
  count: number,
  ops: ReadonlyArray<Operation> = operations
) =>
  Effect.gen(function*() {
    const steps = drawSteps(random, count, 1500, ops)
    const exits = yield* runWaves(steps, {
      context: () =>
        `operations still running: ${JSON.stringify(w.running)}; store calls still waiting: ${
          JSON.stringify(faults.hanging())
        }`,
      size: 100,
      step: "100 millis",
      limit: "1 minute",
      run: (step) => runStep(m, w, step)
    })
    return exits
  })

/** A manager over a fault-injecting wrapper of `inner`, labelled for `scenario`; its label is returned with it. */
export const withFaults = (
  inner: () => Layer.Layer<SessionStore, unknown>,
  scenario: string,
  input: SessionsConfigInput,
  options: SessionManager.ManagerOptions = {}
) => {
  const instance = freshInstance(scenario)
  return { instance, layer: faultyManager(inner(), instance, { ...base, ...input }, options) }
}
