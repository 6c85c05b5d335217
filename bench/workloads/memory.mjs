/**
 * In-memory workloads, one subject per process: `node [--expose-gc] memory.mjs <subject> '{"workload": ..., ...}'`.
 *
 * - `crud` `{n}`: create n sessions, get each, touch each, close each; ops/s per phase.
 * - `sweep` `{n}`: n expired among 2n sessions; milliseconds to remove the expired ones.
 * - `eviction` `{capacity, inserts}`: insert past a capacity; microseconds per insert at capacity.
 * - `heap` `{n}`: heap bytes per live session after a full collection.
 *
 * Subjects: effect-sessions (SessionManager over the memory store, each call an effect in one program), a plain
 * `Map` of records (the floor), `lru-cache` with `ttl` and `max`, and express-session's `MemoryStore` called as a
 * request handler calls it (each call awaited).
 */
import { Effect } from "effect"
import session from "express-session"
import { LRUCache } from "lru-cache"
import { promisify } from "node:util"
import { SessionManager } from "../../dist/index.js"
import {
  args,
  benchConfig,
  collect,
  idleMs,
  managerCrud,
  manualClock,
  newId,
  payload,
  populate,
  report,
  round3,
  timedPhases,
  withManager
} from "../lib/common.mjs"

// effect-sessions ---------------------------------------------------------------------------------------------------

const ours = {
  crud: ({ n }) => managerCrud(n),
  sweep: ({ n }) => {
    const clock = manualClock()
    return withManager(
      Effect.gen(function*() {
        const manager = yield* SessionManager.SessionManager
        yield* populate(manager, 2 * n)
        clock.advance(120_000)
        const started = performance.now()
        const swept = yield* manager.sweep
        const ms = performance.now() - started
        if (swept.expired !== n) throw new Error(`swept ${swept.expired}, expected ${n}`)
        return { "sweep ms": round3(ms) }
      }),
      { clock }
    )
  },
  eviction: ({ capacity, inserts }) =>
    withManager(
      Effect.gen(function*() {
        const manager = yield* SessionManager.SessionManager
        let started = 0
        for (let i = 0; i < inserts; i++) {
          if (i === capacity) started = performance.now()
          yield* manager.create({ owner: `o${i % 1000}`, data: payload })
        }
        const stats = yield* manager.stats
        if (stats.live !== capacity) throw new Error(`${stats.live} live, expected ${capacity}`)
        return { "µs per insert": round3(((performance.now() - started) * 1000) / (inserts - capacity)) }
      }),
      { config: benchConfig({ maxSessions: capacity, maxSessionsPerOwner: capacity, capacityPolicy: "evict-lru" }) }
    ),
  heap: ({ n }) =>
    withManager(Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      yield* manager.create({ owner: "warm", data: payload })
      collect()
      const before = process.memoryUsage().heapUsed
      for (let i = 0; i < n; i++) yield* manager.create({ owner: `o${i % 1000}`, data: { ...payload } })
      collect()
      return { "bytes per session": Math.round((process.memoryUsage().heapUsed - before) / n) }
    }))
}

// A plain Map of records ---------------------------------------------------------------------------------------------

const record = (id, now, ttl = idleMs) => ({
  id,
  data: payload,
  createdAt: now,
  lastActiveAt: now,
  expiresAt: now + ttl
})

const map = {
  crud: async ({ n }) => {
    const sessions = new Map()
    const list = new Array(n)
    return timedPhases(n, (phase) => {
      const now = Date.now()
      for (let i = 0; i < n; i++) {
        if (phase === "create") {
          const id = newId()
          list[i] = id
          sessions.set(id, record(id, now))
        } else if (phase === "get") {
          const found = sessions.get(list[i])
          if (found === undefined || found.expiresAt <= now) throw new Error("missing")
        } else if (phase === "touch") {
          const found = sessions.get(list[i])
          found.lastActiveAt = now
          found.expiresAt = now + idleMs
        } else sessions.delete(list[i])
      }
    })
  },
  sweep: async ({ n }) => {
    const sessions = new Map()
    const now = Date.now()
    for (let i = 0; i < 2 * n; i++) {
      const id = newId()
      sessions.set(id, record(id, now - (i % 2 === 0 ? idleMs + 1 : 0)))
    }
    const started = performance.now()
    for (const [id, found] of sessions) if (found.expiresAt <= now) sessions.delete(id)
    const ms = performance.now() - started
    if (sessions.size !== n) throw new Error("wrong count")
    return { "sweep ms": round3(ms) }
  },
  eviction: async ({ capacity, inserts }) => {
    const sessions = new Map()
    let started = 0
    const now = Date.now()
    for (let i = 0; i < inserts; i++) {
      if (i === capacity) started = performance.now()
      if (sessions.size >= capacity) sessions.delete(sessions.keys().next().value)
      const id = newId()
      sessions.set(id, record(id, now))
    }
    return { "µs per insert": round3(((performance.now() - started) * 1000) / (inserts - capacity)) }
  },
  heap: async ({ n }) => {
    const sessions = new Map()
    collect()
    const before = process.memoryUsage().heapUsed
    const now = Date.now()
    for (let i = 0; i < n; i++) {
      const id = newId()
      sessions.set(id, { ...record(id, now), data: { ...payload } })
    }
    collect()
    const bytes = Math.round((process.memoryUsage().heapUsed - before) / n)
    if (sessions.size !== n) throw new Error("wrong count")
    return { "bytes per session": bytes }
  }
}

// lru-cache ---------------------------------------------------------------------------------------------------------

const lru = {
  crud: async ({ n }) => {
    const cache = new LRUCache({ max: n, ttl: idleMs })
    const list = new Array(n)
    return timedPhases(n, (phase) => {
      for (let i = 0; i < n; i++) {
        if (phase === "create") {
          const id = newId()
          list[i] = id
          cache.set(id, { id, data: payload })
        } else if (phase === "get") {
          if (cache.get(list[i]) === undefined) throw new Error("missing")
        } else if (phase === "touch") cache.get(list[i], { updateAgeOnGet: true })
        else cache.delete(list[i])
      }
    })
  },
  sweep: async ({ n }) => {
    let now = 1_000_000
    const cache = new LRUCache({ max: 2 * n, ttl: idleMs, ttlResolution: 0, perf: { now: () => now } })
    for (let i = 0; i < 2 * n; i++) {
      const id = newId()
      cache.set(id, { id, data: payload }, { ttl: i % 2 === 0 ? 60_000 : idleMs })
    }
    now += 120_000
    const started = performance.now()
    cache.purgeStale()
    const ms = performance.now() - started
    if (cache.size !== n) throw new Error(`wrong count ${cache.size}`)
    return { "sweep ms": round3(ms) }
  },
  eviction: async ({ capacity, inserts }) => {
    const cache = new LRUCache({ max: capacity, ttl: idleMs })
    let started = 0
    for (let i = 0; i < inserts; i++) {
      if (i === capacity) started = performance.now()
      const id = newId()
      cache.set(id, { id, data: payload })
    }
    return { "µs per insert": round3(((performance.now() - started) * 1000) / (inserts - capacity)) }
  },
  heap: async ({ n }) => {
    const cache = new LRUCache({ max: n, ttl: idleMs })
    collect()
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < n; i++) {
      const id = newId()
      cache.set(id, { id, data: { ...payload } })
    }
    collect()
    const bytes = Math.round((process.memoryUsage().heapUsed - before) / n)
    if (cache.size !== n) throw new Error("wrong count")
    return { "bytes per session": bytes }
  }
}

// express-session MemoryStore -------------------------------------------------------------------------------------

const cookie = (expires) => ({ originalMaxAge: idleMs, expires: new Date(expires), httpOnly: true, path: "/" })

const memoryStore = () => {
  const store = new session.MemoryStore()
  return {
    store,
    set: promisify(store.set.bind(store)),
    get: promisify(store.get.bind(store)),
    touch: promisify(store.touch.bind(store)),
    destroy: promisify(store.destroy.bind(store)),
    all: promisify(store.all.bind(store)),
    length: promisify(store.length.bind(store))
  }
}

const expressMemory = {
  crud: async ({ n }) => {
    const store = memoryStore()
    const list = new Array(n)
    return timedPhases(n, async (phase) => {
      for (let i = 0; i < n; i++) {
        if (phase === "create") {
          const id = newId()
          list[i] = id
          await store.set(id, { cookie: cookie(Date.now() + idleMs), data: payload })
        } else if (phase === "get") {
          if ((await store.get(list[i])) === undefined) throw new Error("missing")
        } else if (phase === "touch") await store.touch(list[i], { cookie: cookie(Date.now() + idleMs) })
        else await store.destroy(list[i])
      }
    })
  },
  sweep: async ({ n }) => {
    const store = memoryStore()
    const now = Date.now()
    for (let i = 0; i < 2 * n; i++) {
      await store.set(newId(), { cookie: cookie(i % 2 === 0 ? now - 1000 : now + idleMs), data: payload })
    }
    // MemoryStore has no sweep: reading every session (all, or length) is what drops the expired ones.
    const started = performance.now()
    await store.all()
    const ms = performance.now() - started
    if ((await store.length()) !== n) throw new Error("wrong count")
    return { "sweep ms": round3(ms) }
  },
  heap: async ({ n }) => {
    const store = memoryStore()
    collect()
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < n; i++) await store.set(newId(), { cookie: cookie(Date.now() + idleMs), data: payload })
    collect()
    return { "bytes per session": Math.round((process.memoryUsage().heapUsed - before) / n) }
  }
}

const subjects = {
  "effect-sessions": ours,
  // The same calls with a span each (the manager's `tracing` option, what `Effect.fn` would cost every call).
  "effect-sessions, a span per call": { crud: ({ n }) => managerCrud(n, undefined, true) },
  "Map": map,
  "lru-cache": lru,
  "express-session MemoryStore": expressMemory
}

const { params, subject } = args()
const workload = subjects[subject]?.[params.workload]
if (workload === undefined) throw new Error(`no ${params.workload} workload for ${subject}`)
await report(params.runs ?? 3, () => workload(params))
process.exit(0)
