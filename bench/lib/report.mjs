/**
 * `bench/RESULTS.md` from one run: the targets with the measured values and ratios (met or not), then one table per
 * workload with each subject's median, spread and ratio against effect-sessions, and the charts.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

const ours = "effect-sessions"

const find = (run, workload, subject) =>
  run.results.find((result) => result.workload === workload && result.subject === subject && result.metrics)

const value = (run, workload, subject, metric) => find(run, workload, subject)?.metrics[metric]?.median

const format = (number) =>
  number === undefined
    ? "n/a"
    : Math.abs(number) >= 100
    ? Math.round(number).toLocaleString("en-US")
    : Number(number.toPrecision(3)).toString()

const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? undefined : a / b)

/** Every target of the benchmark issue, computed from the run: [workload, target, measured, met]. */
export const targets = (run) => {
  const rows = []
  const add = (workload, target, measured, met) =>
    rows.push([workload, target, measured, met === undefined ? "n/a" : met ? "met" : "**missed**"])
  const memory = "express-session MemoryStore"
  for (const op of ["get", "touch", "create", "close"]) {
    const floor = op === "get" || op === "touch" ? 1_000_000 : 300_000
    const mine = value(run, "crud", ours, `${op} ops/s`)
    const theirs = ratio(mine, value(run, "crud", memory, `${op} ops/s`))
    add(
      `memory ${op}`,
      `>= ${format(floor)} ops/s and >= 3x MemoryStore`,
      `${format(mine)} ops/s, ${format(theirs)}x MemoryStore`,
      mine === undefined || theirs === undefined ? undefined : mine >= floor && theirs >= 3
    )
  }
  const sweepSmall = value(run, "sweep 1000", ours, "sweep ms")
  add(
    "sweep 1,000 expired",
    "<= 1 ms",
    `${format(sweepSmall)} ms`,
    sweepSmall === undefined ? undefined : sweepSmall <= 1
  )
  const big = run.results.map((result) => result.workload).find((name) => /^sweep \d{5,}$/.test(name))
  if (big !== undefined) {
    const mine = value(run, big, ours, "sweep ms")
    const theirs = value(run, big, "lru-cache", "sweep ms")
    const n = Number(big.split(" ")[1])
    add(
      `sweep ${format(n)} of ${format(2 * n)}`,
      "<= lru-cache purgeStale",
      `${format(mine)} ms vs ${format(theirs)} ms (${format(ratio(mine, theirs))}x)`,
      mine === undefined || theirs === undefined ? undefined : mine <= theirs
    )
  }
  /** A target on ours / peer for one metric of one workload, met when `met(ratio)`. */
  const versus = (label, target, workload, metric, peer, met) => {
    const r = ratio(value(run, workload, ours, metric), value(run, workload, peer, metric))
    add(label, target, r === undefined ? "n/a" : `${format(r)}x`, r === undefined ? undefined : met(r))
  }
  versus("eviction", "<= 3x lru-cache per insert", "eviction", "µs per insert", "lru-cache", (r) => r <= 3)
  const heap = value(run, "heap", ours, "bytes per session")
  add("heap per session", "<= 512 bytes", `${format(heap)} bytes`, heap === undefined ? undefined : heap <= 512)
  const raw = "raw better-sqlite3"
  const store = "better-sqlite3-session-store"
  const sqliteGet = value(run, "sqlite crud", ours, "get ops/s")
  const getVsStore = ratio(sqliteGet, value(run, "sqlite crud", store, "get ops/s"))
  const getVsRaw = ratio(sqliteGet, value(run, "sqlite crud", raw, "get ops/s"))
  add(
    "SQLite get through the manager",
    ">= 2x better-sqlite3-session-store, >= 0.6x raw better-sqlite3",
    `${format(getVsStore)}x the store, ${format(getVsRaw)}x raw`,
    getVsStore === undefined || getVsRaw === undefined ? undefined : getVsStore >= 2 && getVsRaw >= 0.6
  )
  versus("SQLite create", ">= 0.8x raw better-sqlite3", "sqlite crud", "create ops/s", raw, (r) => r >= 0.8)
  versus(
    "SQLite create, 50 concurrent callers (synchronous=FULL)",
    ">= 5x raw one-transaction-per-op",
    "sqlite create c=50 full",
    "create ops/s",
    raw,
    (r) => r >= 5
  )
  versus("SQLite acknowledged touch", ">= 3x raw per-op touch", "sqlite crud", "touch ops/s", raw, (r) => r >= 3)
  const sweepN = find(run, "sqlite sweep", ours)?.params?.n
  versus(
    `SQLite sweep of ${format(sweepN)}`,
    "<= 1.5x raw indexed DELETE",
    "sqlite sweep",
    "sweep ms",
    raw,
    (r) => r <= 1.5
  )
  const express = "express-session-sqlite"
  for (const route of ["create", "get", "touch"]) {
    const mine = value(run, "http", ours, `${route} req/s`)
    const vsExpress = ratio(mine, value(run, "http", express, `${route} req/s`))
    const vsFloor = ratio(mine, value(run, "http", "httpapi-floor", `${route} req/s`))
    const vsNode = ratio(mine, value(run, "http", "node-floor", `${route} req/s`))
    const floors = `${format(vsFloor)}x the HttpApi floor, ${format(vsNode)}x node:http`
    if (route === "create") {
      add(
        "HTTP create on SQLite, 50 connections",
        ">= 2x express + express-session on SQLite (group commit)",
        `${format(vsExpress)}x express-session; ${floors}`,
        vsExpress === undefined ? undefined : vsExpress >= 2
      )
    } else {
      add(
        `HTTP ${route} on SQLite (JWT on)`,
        ">= 0.8x the bare HttpApi floor, and >= 1.2x express + express-session on SQLite",
        `${floors}; ${format(vsExpress)}x express-session`,
        vsFloor === undefined || vsExpress === undefined ? undefined : vsFloor >= 0.8 && vsExpress >= 1.2
      )
    }
    const p99 = value(run, "http", ours, `${route} p99 ms`)
    const theirs = value(run, "http", express, `${route} p99 ms`)
    add(
      `HTTP ${route} p99, 50 connections`,
      "no worse than express + express-session's p99",
      `${format(p99)} ms vs ${format(theirs)} ms`,
      p99 === undefined || theirs === undefined ? undefined : p99 <= theirs
    )
  }
  for (const workload of postgresWorkloads(run)) {
    const r = ratio(value(run, workload, "@effect/sql-pg", "get ops/s"), value(run, workload, "raw pg", "get ops/s"))
    add(
      `Postgres ${workload.slice("postgres ".length)}: @effect/sql SELECT by id`,
      ">= 0.8x raw pg, same SELECT (else @effect/sql limits throughput)",
      `${format(r)}x`,
      r === undefined ? undefined : r >= 0.8
    )
  }
  for (const subject of [ours, "effect-sessions SQLite"]) {
    const p99 = value(run, "latency under sweep", subject, "get p99 ms (during sweep)")
    add(
      `p99 of get during a sweep of ${format(find(run, "latency under sweep", subject)?.params?.n)} (${
        subject === ours ? "memory" : "SQLite"
      })`,
      "<= 5 ms",
      `${format(p99)} ms (${format(value(run, "latency under sweep", subject, "get p99 ms (no sweep)"))} ms without)`,
      p99 === undefined ? undefined : p99 <= 5
    )
  }
  return rows
}

const table = (header, rows) =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`)
  ]
    .join("\n")

/** Lower is better for times, latencies and sizes; higher for throughput. */
const lowerIsBetter = (metric) => / ms|µs|bytes/.test(metric) && !/gets during/.test(metric)

const workloadTable = (run, workload) => {
  const results = run.results.filter((result) => result.workload === workload)
  const metrics = [...new Set(results.flatMap((result) => Object.keys(result.metrics ?? {})))]
  const mine = results.find((result) => result.subject === ours || result.subject === "effect-sessions SQLite")
  const rows = results.map((result) => {
    if (result.metrics === undefined) return [result.subject, ...metrics.map(() => "failed")]
    return [
      result.subject,
      ...metrics.map((metric) => {
        const m = result.metrics[metric]
        if (m === undefined) return "-"
        const spread = m.median === 0 ? 0 : Math.round(((m.max - m.min) / m.median) * 100)
        const versus = result.subject.startsWith(ours) || mine?.metrics?.[metric] === undefined
          ? ""
          : ` (ours ${
            format(
              lowerIsBetter(metric) ? m.median / mine.metrics[metric].median : mine.metrics[metric].median / m.median
            )
          }x)`
        return `${format(m.median)} ±${spread}%${versus}`
      })
    ]
  })
  return table(["subject", ...metrics], rows)
}

/** The Postgres workloads of the run (`postgres c=<callers>`), fewest callers first. */
const postgresWorkloads = (
  run
) => [...new Set(run.results.map((result) => result.workload).filter((name) => name.startsWith("postgres ")))]

const postgresOps = ["create", "get", "touch", "update", "close"]
const storeAlone = "effect-sessions store alone"

/** `ops/s ±spread% (p50 / p99 ms)` of one subject's operation. */
const opCell = (run, workload, subject, op) => {
  const m = find(run, workload, subject)?.metrics
  const ops = m?.[`${op} ops/s`]
  if (ops === undefined) return "-"
  const spread = ops.median === 0 ? 0 : Math.round(((ops.max - ops.min) / ops.median) * 100)
  return `${format(ops.median)} ±${spread}% (${format(m[`${op} p50 ms`]?.median)} / ${
    format(m[`${op} p99 ms`]?.median)
  } ms)`
}

/**
 * The Postgres section: per number of callers, each operation's ops/s and latency for every subject, with the
 * ratios (ours against raw pg and connect-pg-simple, the manager against the store alone), then @effect/sql-pg's
 * SELECT and UPDATE against raw pg's, the same statements.
 */
export const postgresSection = (run) => {
  const workloads = postgresWorkloads(run)
  if (workloads.length === 0) return []
  const ops = (workload, subject, op) => value(run, workload, subject, `${op} ops/s`)
  const x = (a, b) => `${format(ratio(a, b))}x`
  const subjects = [ours, storeAlone, "raw pg", "connect-pg-simple"]
  const params = find(run, workloads[0], ours)?.params ?? find(run, workloads[0], "raw pg")?.params ?? {}
  return [
    "## Postgres",
    "",
    `Each subject in its own process on a schema of its own, pre-filled with ${
      format(params.sessions)
    } sessions, a pool of ${format(params.pool)} connections; ` +
    "every call acknowledged (committed) before the caller makes its next. Cells: ops/s ± spread (p50 / p99 ms). " +
    "effect-sessions is `SessionManager` over `PostgresStore.layer({ events: false })`; the store alone is the same " +
    "store's `SessionStore` calls; raw pg is one autocommitted statement per call through a `pg.Pool` on the " +
    "store's own table (INSERT, SELECT by id, UPDATE by id): the floor; connect-pg-simple is express-session's " +
    "Postgres store (`set`, `get`, `touch`, `destroy`). Ratios are of ops/s (above 1: the first is faster).",
    "",
    ...workloads.flatMap((workload) => [
      `### ${workload} (${
        workload === "postgres c=1" ? "one caller" : `${workload.slice("postgres c=".length)} concurrent callers`
      })`,
      "",
      table(
        [
          "operation",
          ...subjects,
          "ours / raw pg",
          "ours / connect-pg-simple",
          "manager / store alone"
        ],
        postgresOps.map((op) => [
          op,
          ...subjects.map((subject) => opCell(run, workload, subject, op)),
          x(ops(workload, ours, op), ops(workload, "raw pg", op)),
          x(ops(workload, ours, op), ops(workload, "connect-pg-simple", op)),
          x(ops(workload, ours, op), ops(workload, storeAlone, op))
        ])
      ),
      ""
    ]),
    "### @effect/sql against the pg driver",
    "",
    "The same statement (raw pg's SELECT by id, and its UPDATE for touch) through `@effect/sql-pg`'s `PgClient` " +
    "(`sql.unsafe(text, params)`, over the same kind of pool) and through `pg` directly. The rule: more than 20% " +
    "below raw pg means @effect/sql measurably limits throughput.",
    "",
    table(
      ["callers", "statement", "@effect/sql-pg", "raw pg", "@effect/sql-pg / raw pg", "verdict"],
      workloads.flatMap((workload) =>
        [["get", "SELECT by id"], ["touch", "UPDATE by id"]].map(([op, statement]) => {
          const r = ratio(ops(workload, "@effect/sql-pg", op), ops(workload, "raw pg", op))
          return [
            workload.slice("postgres c=".length),
            statement,
            opCell(run, workload, "@effect/sql-pg", op),
            opCell(run, workload, "raw pg", op),
            `${format(r)}x`,
            r === undefined
              ? "n/a"
              : r < 0.8
              ? `**limits throughput** (${Math.round((1 - r) * 100)}% below)`
              : "within 20%"
          ]
        })
      )
    ),
    ""
  ]
}

const httpRoutes = ["create", "get", "touch"]
/** The HTTP peers ours is set against: the two floors, then express + express-session. */
const httpPeers = [
  ["httpapi-floor", "HttpApi floor"],
  ["node-floor", "node:http floor"],
  ["express-session-memory", "express-session memory"],
  ["express-session-sqlite", "express-session SQLite"]
]

/** autocannon's version: the installed one, else the one bench/package.json pins. */
const autocannonVersion = () => {
  const bench = Path.join(import.meta.dirname, "..")
  for (
    const [file, read] of [
      [Path.join(bench, "node_modules", "autocannon", "package.json"), (json) => json.version],
      [Path.join(bench, "package.json"), (json) => json.devDependencies?.autocannon]
    ]
  ) {
    try {
      const version = read(JSON.parse(Fs.readFileSync(file, "utf8")))
      if (version !== undefined) return version
    } catch {
      // next source
    }
  }
  return "unknown version"
}

/**
 * After the generic HTTP table: per route, ours against each floor and against express + express-session (ratios
 * of req/s, above 1: ours is faster), then how the figures were made.
 */
export const httpSection = (run) => {
  const results = run.results.filter((result) => result.workload === "http")
  if (results.length === 0) return []
  const params = results.find((result) => result.params !== undefined)?.params ?? {}
  const reqs = (subject, route) => value(run, "http", subject, `${route} req/s`)
  const cell = (subject, route) => {
    const r = reqs(subject, route)
    return r === undefined ? "n/a" : `${format(r)} (p99 ${format(value(run, "http", subject, `${route} p99 ms`))} ms)`
  }
  return [
    "#### HTTP: effect-sessions against the floors and express-session",
    "",
    "req/s (p99) of each subject, then effect-sessions' req/s divided by each peer's (above 1: ours is faster; " +
    "n/a: the subject is not in this run).",
    "",
    table(
      [
        "route",
        "effect-sessions",
        ...httpPeers.map(([, label]) => label),
        ...httpPeers.map(([, label]) => `ours / ${label}`)
      ],
      httpRoutes.map((route) => [
        route,
        cell(ours, route),
        ...httpPeers.map(([subject]) => cell(subject, route)),
        ...httpPeers.map(([subject]) => {
          const r = ratio(reqs(ours, route), reqs(subject, route))
          return r === undefined ? "n/a" : `${format(r)}x`
        })
      ])
    ),
    "",
    ...middlewareTable(run, reqs, cell),
    "#### How the HTTP figures were made",
    "",
    `Load generator: autocannon ${autocannonVersion()}, in the benchmark's process; each server a child process ` +
    `of its own on 127.0.0.1. Per subject and route (create, then get, then touch): one warm-up of ${
      format(params.warmup)
    } s, then ${format(params.runs ?? 3)} measured runs of ${format(params.duration)} s each, ${
      format(params.connections)
    } connections, pipelining 1; the figure is the median run (req/s is autocannon's average over the run, ` +
    "p50/p99 its latency percentiles). Any non-2xx answer, error or timeout fails the subject. What each request " +
    "does: **create** is `POST /sessions` with ~100 bytes of JSON (`{ data }`), answered 201; **get** is " +
    "`GET /sessions/:id` and **touch** `POST /sessions/:id/touch`, both going round a pool of 1,000 sessions made " +
    "over HTTP before the route's runs. **effect-sessions** is `dist/bin.js serve` on its SQLite store with auth on: " +
    "every request carries a bearer JWT (HS256) that is verified per request, and goes through the rate limits " +
    "(set far above the load) and the request guards, then the manager and the store. **express-session** is " +
    "express 5 + express-session (MemoryStore or better-sqlite3-session-store), no auth: the session is named by " +
    "its signed cookie, as express-session does. The floors do no auth and keep sessions in a Map (1,000 " +
    "pre-filled; create adds one, get reads one, touch writes a new expiry): the **HttpApi floor** is a bare " +
    "`@effect/platform` HttpApi (`HttpApiBuilder`, path and body schemas, no middleware) on `@effect/platform-node`'s " +
    "NodeHttpServer, the same versions as the service (the floor of the stack it is built on); the **node:http " +
    "floor** is a bare `node:http` handler (the floor of Node). **effect-sessions-middleware** is the session " +
    "middleware (`effect-sessions/middleware`) in an HttpApi app of its own (`bench/workloads/middleware-app.mjs`) " +
    "on the SQLite store, no auth: the session named by its cookie, as express-session's; its get and touch are " +
    "both the middleware's read, which touches the session.",
    ""
  ]
}

/** The session middleware against express-session, route by route, when the run has it. */
const middlewareTable = (run, reqs, cell) => {
  const subject = "effect-sessions-middleware"
  if (httpRoutes.every((route) => reqs(subject, route) === undefined)) return []
  const against = [["express-session-sqlite", "express-session SQLite"], ["httpapi-floor", "HttpApi floor"]]
  return [
    "#### HTTP: the session middleware in an app's own HttpApi, against express-session",
    "",
    table(
      ["route", "middleware", ...against.map(([, label]) => `middleware / ${label}`)],
      httpRoutes.map((route) => [
        route,
        cell(subject, route),
        ...against.map(([peer]) => {
          const r = ratio(reqs(subject, route), reqs(peer, route))
          return r === undefined ? "n/a" : `${format(r)}x`
        })
      ])
    ),
    ""
  ]
}

/** The per-workload sections: a table of every metric per subject; the Postgres workloads in their own section. */
export const workloadSections = (run) => {
  const workloads = [...new Set(run.results.map((result) => result.workload))].filter(
    (workload) => !workload.startsWith("postgres ")
  )
  return [
    ...(workloads.length === 0 ? [] : ["## Workloads", ""]),
    ...workloads.flatMap((workload) => [
      `### ${workload}`,
      "",
      ...(workload.startsWith("sqlite create c=")
        ? [
          `${
            format(find(run, workload, ours)?.params?.n)
          } creates from 50 concurrent callers through \`SessionManager\` ` +
          `over the SQLite store at synchronous=${workload.split(" ").at(-1).toUpperCase()}, each acknowledged only ` +
          "once the transaction holding it committed (group commit: the writes that arrive while one transaction is " +
          "written go into the next together); raw better-sqlite3 makes one transaction per create, the same " +
          "synchronous level, one at a time.",
          ""
        ]
        : []),
      workloadTable(run, workload),
      "",
      ...(workload === "http" ? httpSection(run) : [])
    ]),
    ...postgresSection(run)
  ]
}

/** The targets that the run has figures for, as a table (for a partial run). */
export const targetLines = (run) => {
  const rows = targets(run).filter((row) => row[3] !== "n/a")
  return rows.length === 0 ? [] : ["## Targets measured", "", table(["workload", "target", "measured", ""], rows), ""]
}

/** Writes the report. */
export const writeResults = (run, charts, file) => {
  const failures = run.results.filter((result) => result.error !== undefined)
  const text = [
    "# effect-sessions benchmarks",
    "",
    `${
      run.mode === "quick"
        ? "Quick run (`npm run bench:quick`: smaller sizes, 1 s HTTP runs; the full run's figures are the ones to quote)"
        : "Full run (`npm run bench`)"
    }` +
    ` of ${run.date.slice(0, 10)}: Node ${run.node}, ${run.cpu}, ${run.memory}, ${run.seconds} s in all. ` +
    "Each (workload, subject) pair ran in its own process: a warm-up, then three runs; every figure is the median, " +
    "± the spread (max - min) as a share of it. \"ours Nx\" is how many times better effect-sessions did than that " +
    "subject on that figure in this run (below 1: worse). Raw numbers: [`results.json`](results.json).",
    "",
    "## Targets",
    "",
    table(["workload", "target", "measured", ""], targets(run)),
    "",
    ...(failures.length === 0
      ? []
      : [
        "## Failures",
        "",
        ...failures.map((f) => `- ${f.workload}, ${f.subject}: \`${f.error.replace(/\n/g, " ")}\``),
        ""
      ]),
    "## Charts",
    "",
    ...charts.map((chart) => `![${chart.title}](charts/${chart.file})`),
    "",
    ...workloadSections(run)
  ].join("\n")
  Fs.writeFileSync(file, text)
}

/**
 * Puts the targets table of a full run into the README, between the `bench:start` and `bench:end` markers, so the
 * README always shows the latest full run.
 */
export const updateReadme = (run, file) => {
  const text = Fs.readFileSync(file, "utf8")
  const start = "<!-- bench:start -->"
  const end = "<!-- bench:end -->"
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from < 0 || to < from) return false
  const block = [
    start,
    "",
    `Full run of ${run.date.slice(0, 10)} (Node ${run.node}, ${run.cpu}, ${run.seconds} s): effect-sessions against ` +
    "the peers measured in the same run; every row is a target of the benchmark suite.",
    "",
    table(["workload", "target", "measured", ""], targets(run)),
    "",
    end
  ].join("\n")
  Fs.writeFileSync(file, text.slice(0, from) + block + text.slice(to + end.length))
  return true
}
