/**
 * HTTP throughput and latency of the session routes: effect-sessions (`dist/bin.js serve`, SQLite, JWT auth on)
 * against express 5 + express-session (memory or better-sqlite3 store, `bench/peers/express-server.mjs`), and
 * against two floors serving the same routes from a Map with no auth: a bare `@effect/platform` HttpApi on
 * NodeHttpServer (`bench/peers/httpapi-floor.mjs`, the floor of the stack) and a bare `node:http` server
 * (`bench/peers/node-floor.mjs`, the floor of Node).
 *
 *   node bench/workloads/http.mjs <subject> '{"duration":10,"warmup":2,"connections":50,"runs":3}'
 *   subject: effect-sessions | effect-sessions-middleware | express-session-memory | express-session-sqlite |
 *            httpapi-floor | node-floor
 *
 * effect-sessions-middleware is the session middleware in an app's own HttpApi (`middleware-app.mjs`): the session
 * named by its cookie, as express-session's, on SQLite, no auth.
 *
 * The server runs as a child process, so autocannon does not share its event loop. For each route in order
 * (create, get, touch): one warm-up run of `warmup` seconds, then `runs` measured runs of `duration` seconds with
 * `connections` connections, pipelining 1. Get and touch cycle through a pool of 1,000 sessions created over HTTP
 * beforehand (express names the session by its cookie, so the pool keeps each session's cookie too).
 * Payload: ~100 bytes of JSON; idle timeout 30 minutes on both sides. Any non-2xx response, error or timeout fails
 * the benchmark (exit 1). Settings passed in the environment reach the server (e.g. `SESSIONS_TOUCH_COALESCE`).
 *
 * Output, one JSON line on stdout (progress goes to stderr):
 *   {"runs":[{"create req/s":…,"create p50 ms":…,"create p99 ms":…,"get req/s":…,…,"touch p99 ms":…},…]}
 * req/s is autocannon's `requests.average`; p50/p99 are its latency percentiles, in milliseconds.
 */
import autocannon from "autocannon"
import { SignJWT } from "jose"
import { Buffer } from "node:buffer"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { clearTimeout, setTimeout } from "node:timers"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "..", "..")

const PAYLOAD = { user: "u-123456", model: "gpt-x", turns: 3, tags: ["a", "b"], note: "about a hundred bytes of json." }
const POOL_SIZE = 1000
const POOL_CONCURRENCY = 20
const ROUTES = ["create", "get", "touch"]
const DEFAULT_PARAMS = { duration: 10, warmup: 2, connections: 50, runs: 3 }
const LISTENING = /listening on (http:\/\/[^"\s]+)/
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 15_000

const log = (message) => process.stderr.write(`[http] ${message}\n`)

// ---------------------------------------------------------------------------------------------------------------
// Subjects: how to start each server, and the headers every request to it carries.

const startEffectSessions = async (dir) => {
  const secret = randomBytes(32).toString("base64url")
  const env = {
    SESSIONS_DATA_DIR: dir,
    SESSIONS_PORT: "0",
    SESSIONS_HOST: "127.0.0.1",
    SESSIONS_JWT_SECRET: secret,
    SESSIONS_IDLE_TIMEOUT: "30m",
    SESSIONS_HTTP_RATE_LIMIT: "100000000/1s",
    SESSIONS_OWNER_RATE_LIMIT: "100000000/1s",
    SESSIONS_SESSION_RATE_LIMIT: "100000/1s",
    SESSIONS_MAX_SESSIONS: "10000000",
    SESSIONS_MAX_SESSIONS_PER_OWNER: "10000000"
  }
  const server = await startChild([path.join(repoRoot, "dist", "bin.js"), "serve"], env)
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("bench")
    .setIssuedAt()
    .setExpirationTime("2h")
    .sign(Buffer.from(secret))
  return { ...server, headers: { authorization: `Bearer ${token}` } }
}

const startExpress = (store) => async (dir) => {
  const args = [path.join(repoRoot, "bench", "peers", "express-server.mjs"), store]
  if (store === "sqlite") args.push(path.join(dir, "sessions.db"))
  const server = await startChild(args, {})
  return { ...server, headers: {} }
}

/** A floor: a peer script with no argument, no auth, sessions in a Map. */
const startFloor = (script) => async () => {
  const server = await startChild([path.join(repoRoot, "bench", "peers", script)], {})
  return { ...server, headers: {} }
}

/** The session middleware in an app's own HttpApi, on a SQLite file in `dir`. */
const startMiddleware = async (dir) => {
  const args = [path.join(here, "middleware-app.mjs"), path.join(dir, "sessions.db")]
  return { ...(await startChild(args, {})), headers: {} }
}

const SUBJECTS = {
  "effect-sessions": startEffectSessions,
  "effect-sessions-middleware": startMiddleware,
  "express-session-memory": startExpress("memory"),
  "express-session-sqlite": startExpress("sqlite"),
  "httpapi-floor": startFloor("httpapi-floor.mjs"),
  "node-floor": startFloor("node-floor.mjs")
}

// ---------------------------------------------------------------------------------------------------------------
// The child server: started with node, ready once it prints its URL; its stdout is drained for its whole life.

const startChild = (args, env) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, NODE_ENV: "production", ...env },
      stdio: ["ignore", "pipe", "inherit"]
    })
    const exited = new Promise((done) => child.once("exit", done))
    const fail = (message) => {
      clearTimeout(timer)
      child.kill("SIGTERM")
      reject(new Error(message))
    }
    const timer = setTimeout(() => fail(`the server printed no URL within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS)
    child.once("error", (error) => fail(`could not start the server: ${error.message}`))
    const exitedEarly = (code, signal) => fail(`the server exited before listening (${signal ?? `code ${code}`})`)
    child.once("exit", exitedEarly)
    // Read up to the URL line, then keep the pipe flowing with nobody listening: the rest is discarded.
    let seen = ""
    const onData = (chunk) => {
      seen += chunk
      const match = LISTENING.exec(seen)
      if (match === null) return
      clearTimeout(timer)
      child.stdout.off("data", onData)
      child.off("exit", exitedEarly)
      child.stdout.resume()
      resolve({ url: match[1], stop: () => stopChild(child, exited) })
    }
    child.stdout.setEncoding("utf8").on("data", onData)
  })

const stopChild = async (child, exited) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGTERM")
  const timer = setTimeout(() => {
    log(`the server ignored SIGTERM for ${STOP_TIMEOUT_MS} ms; killing it`)
    child.kill("SIGKILL")
  }, STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

// ---------------------------------------------------------------------------------------------------------------
// Requests.

const createBody = JSON.stringify({ data: PAYLOAD })

/** Creates one session; returns its id and the headers that name it (express: the session cookie). */
const createSession = async (server) => {
  const response = await globalThis.fetch(`${server.url}/sessions`, {
    method: "POST",
    headers: { ...server.headers, "content-type": "application/json" },
    body: createBody
  })
  const text = await response.text()
  if (response.status !== 201) throw new Error(`creating a pool session answered ${response.status}: ${text}`)
  const cookie = response.headers.getSetCookie()[0]?.split(";")[0]
  return { id: JSON.parse(text).id, headers: cookie === undefined ? {} : { cookie } }
}

const createPool = async (server) => {
  const pool = []
  while (pool.length < POOL_SIZE) {
    const batch = Math.min(POOL_CONCURRENCY, POOL_SIZE - pool.length)
    pool.push(...(await Promise.all(Array.from({ length: batch }, () => createSession(server)))))
  }
  return pool
}

/** The autocannon request of a route; get and touch go round the pool, one session after the other. */
const routeRequest = (route, server, pool) => {
  if (route === "create") {
    return {
      method: "POST",
      path: "/sessions",
      headers: { ...server.headers, "content-type": "application/json" },
      body: createBody
    }
  }
  let next = 0
  const suffix = route === "touch" ? "/touch" : ""
  return {
    method: route === "touch" ? "POST" : "GET",
    headers: server.headers,
    setupRequest: (request) => {
      const session = pool[next]
      next = (next + 1) % pool.length
      return {
        ...request,
        path: `/sessions/${session.id}${suffix}`,
        headers: { ...request.headers, ...session.headers }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Runs.

const cannon = async (server, request, seconds, connections, label) => {
  const result = await autocannon({
    url: server.url,
    connections,
    pipelining: 1,
    duration: seconds,
    requests: [request]
  })
  const failures = result.non2xx + result.errors + result.timeouts
  if (failures > 0) {
    const codes = JSON.stringify(result.statusCodeStats)
    throw new Error(
      `${label}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts (status codes ${codes})`
    )
  }
  log(`${label}: ${result.requests.average} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`)
  return result
}

/** Warm-up, then the measured runs of one route; returns one `{ "<route> req/s": … }` object per run. */
const benchRoute = async (server, route, params) => {
  const pool = route === "create" ? [] : await createPool(server)
  const request = routeRequest(route, server, pool)
  if (params.warmup > 0) await cannon(server, request, params.warmup, params.connections, `${route} warm-up`)
  const runs = []
  for (let i = 1; i <= params.runs; i++) {
    const result = await cannon(server, request, params.duration, params.connections, `${route} run ${i}`)
    runs.push({
      [`${route} req/s`]: result.requests.average,
      [`${route} p50 ms`]: result.latency.p50,
      [`${route} p99 ms`]: result.latency.p99
    })
  }
  return runs
}

const parseArgs = (argv) => {
  const [subject, json = "{}"] = argv
  if (!(subject in SUBJECTS)) {
    throw new Error(`usage: http.mjs <${Object.keys(SUBJECTS).join(" | ")}> '<json params>'`)
  }
  const params = { ...DEFAULT_PARAMS, ...JSON.parse(json) }
  for (const [name, value] of Object.entries(params)) {
    if (!(name in DEFAULT_PARAMS)) throw new Error(`unknown parameter ${name} (known: ${Object.keys(DEFAULT_PARAMS)})`)
    const min = name === "warmup" ? 0 : 1
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got ${value}`)
  }
  return { subject, params }
}

const main = async () => {
  const { subject, params } = parseArgs(process.argv.slice(2))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-http-"))
  let server = null
  try {
    log(`${subject}: starting`)
    server = await SUBJECTS[subject](dir)
    log(`${subject}: listening on ${server.url}; ${JSON.stringify(params)}`)
    const runs = Array.from({ length: params.runs }, () => ({}))
    for (const route of ROUTES) {
      const routeRuns = await benchRoute(server, route, params)
      routeRuns.forEach((run, i) => Object.assign(runs[i], run))
    }
    process.stdout.write(`${JSON.stringify({ runs })}\n`)
  } finally {
    await server?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error) => {
  process.stderr.write(`[http] FAILED: ${error.message}\n`)
  process.exitCode = 1
})
