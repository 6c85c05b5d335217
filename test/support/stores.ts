/**
 * The stores every manager suite runs on, with one line: `forEachStore((store) => { ... })` runs the suite once on
 * the memory store, once on SQLite (a real file) and once on Postgres (the real server), each test building its manager with `store.managerLayer`.
 */
import { describe } from "@effect/vitest"
import { Layer } from "effect"
import { MemoryStore, SessionManager, type SessionsConfigInput, SessionStore } from "../../src/index.js"
import * as FaultyStore from "./FaultyStore.js"
import { config } from "./manager.js"
import { postgresLayer } from "./postgres.js"
import { tracked } from "./settle.js"
import { sqliteLayer } from "./sqlite.js"

let instances = 0

/** A store the manager suites run on, and how a test builds a manager over a fresh one. */
export interface StoreUnderTest {
  readonly name: string
  /**
   * How many operations a volume test makes on this store, as a share of its full size: 1 where a call is
   * answered in process; less over the network (Postgres), where 100,000 sequential calls take minutes.
   */
  readonly volume: number
  /** A fresh store of this kind per build (with its synchronous capability, when it has one). */
  readonly layer: () => Layer.Layer<SessionStore, unknown>
  /** A manager over a fresh store, its metrics labelled with a fresh instance name; the store stays in context. */
  readonly managerLayer: (
    input?: SessionsConfigInput,
    options?: SessionManager.ManagerOptions
  ) => Layer.Layer<SessionManager.SessionManager | SessionStore, unknown>
  /** A manager over a fault-injecting wrapper of a fresh store; the `Faults` control is provided too. */
  readonly faultyManagerLayer: (
    input?: SessionsConfigInput,
    options?: SessionManager.ManagerOptions
  ) => Layer.Layer<SessionManager.SessionManager | SessionStore | FaultyStore.Faults, unknown>
}

const storeUnderTest = (
  name: string,
  layer: () => Layer.Layer<SessionStore, unknown>,
  volume = 1
): StoreUnderTest => ({
  name,
  layer,
  volume,
  managerLayer: (input = {}, options = {}) =>
    SessionManager.layer(config(input), { instance: `test-${++instances}`, ...options }).pipe(
      Layer.provideMerge(layer())
    ),
  faultyManagerLayer: (input = {}, options = {}) =>
    SessionManager.layer(config(input), { instance: `test-${++instances}`, ...options }).pipe(
      Layer.provideMerge(FaultyStore.layer(layer()))
    )
})

/** The memory store, SQLite on a file in a fresh temporary directory, and Postgres on a fresh schema. */
export const stores: ReadonlyArray<StoreUnderTest> = [
  storeUnderTest("the memory store", () => MemoryStore.layer),
  storeUnderTest("SQLite", () => sqliteLayer()),
  // Without the event bus: these suites test the store under the manager; the bus has its own (PostgresEvents).
  storeUnderTest("Postgres", () => tracked(postgresLayer({ events: false })), 0.05)
]

/** Runs `suite` once per store, each in a `describe` named after the store. */
export const forEachStore = (suite: (store: StoreUnderTest) => void): void => {
  for (const store of stores) describe(`on ${store.name}`, () => suite(store))
}
