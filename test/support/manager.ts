/** Builds managers for tests: a configuration from overrides, over the memory store or a faulty wrapper of it. */
import { Either, Layer } from "effect"
import { makeConfig, MemoryStore, SessionManager, type SessionsConfigInput, SessionStore } from "../../src/index.js"
import * as FaultyStore from "./FaultyStore.js"

let instances = 0

/** A configuration from overrides (the test fails loudly if they are invalid). */
export const config = (input: SessionsConfigInput = {}) => Either.getOrThrow(makeConfig(input))

/** A manager over a fresh memory store, its metrics labelled with a fresh instance name. */
export const managerLayer = (input: SessionsConfigInput = {}, options: SessionManager.ManagerOptions = {}) =>
  SessionManager.layer(config(input), { instance: `test-${++instances}`, ...options }).pipe(
    Layer.provideMerge(MemoryStore.layer)
  )

/** A manager over the given store layer (the store stays in context too). */
export const managerOver = <E>(
  store: Layer.Layer<SessionStore, E>,
  input: SessionsConfigInput = {},
  options: SessionManager.ManagerOptions = {}
) =>
  SessionManager.layer(config(input), { instance: `test-${++instances}`, ...options }).pipe(Layer.provideMerge(store))

/** A manager over a fault-injecting wrapper of a memory store; the `Faults` control is provided too. */
export const faultyManagerLayer = (input: SessionsConfigInput = {}, options: SessionManager.ManagerOptions = {}) =>
  SessionManager.layer(config(input), { instance: `test-${++instances}`, ...options }).pipe(
    Layer.provideMerge(FaultyStore.layer(MemoryStore.layer))
  )
