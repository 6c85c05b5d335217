/** Managers for the in-process scenarios: over a fault-injecting wrapper of any store, with a fresh metrics label. */
import { Effect, Layer, Metric, MetricLabel } from "effect"
import { SessionManager, type SessionsConfigInput, type SessionStore } from "../../../src/index.js"
import { metrics } from "../../../src/services/internal/Metrics.js"
import * as FaultyStore from "../../support/FaultyStore.js"
import { config } from "../../support/manager.js"

let instances = 0

/** A fresh metrics label, so one manager's counters are read apart from every other's in the process. */
export const freshInstance = (scenario: string) => `reliability-${scenario}-${++instances}`

/** A manager labelled `instance` over a fault-injecting wrapper of `inner`; the store and `Faults` stay in context. */
export const faultyManager = <E>(
  inner: Layer.Layer<SessionStore, E>,
  instance: string,
  input: SessionsConfigInput = {},
  options: SessionManager.ManagerOptions = {}
) => SessionManager.layer(config(input), { ...options, instance }).pipe(Layer.provideMerge(FaultyStore.layer(inner)))

/** The `store_retries_total` counter of one manager, read from Effect's metric registry. */
export const retriesOf = (instance: string) =>
  Effect.map(
    Metric.value(metrics.retries.pipe(Metric.taggedWithLabels([MetricLabel.make("instance", instance)]))),
    (state) => state.count
  )
