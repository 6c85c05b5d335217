/**
 * The peer of the HTTP benchmark: express 5 with express-session, serving routes equivalent to the service's
 * (create, get, touch) so `bench/workloads/http.mjs` can drive both the same way.
 *
 *   node bench/peers/express-server.mjs memory
 *   node bench/peers/express-server.mjs sqlite <dbfile>
 *
 * The session is named by its cookie (express-session's way); the id in the path must match it, else 404.
 * Listens on 127.0.0.1, any free port, and prints `listening on http://127.0.0.1:<port>` on stdout.
 * Stops on SIGTERM.
 */
import express from "express"
import session from "express-session"

const IDLE_TIMEOUT_MS = 30 * 60 * 1000

/** The store named on the command line, with a `close` for shutdown. */
const openStore = async (kind, dbFile) => {
  if (kind === "memory") return { store: new session.MemoryStore(), close: () => {} }
  if (kind === "sqlite" && dbFile) {
    const { default: Database } = await import("better-sqlite3")
    const { default: sqliteStore } = await import("better-sqlite3-session-store")
    const db = new Database(dbFile)
    // Like the service's SQLite store.
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    // `expired.clear: false` is ignored by this version (it always schedules its 15-minute sweep); harmless here.
    const SqliteStore = sqliteStore(session)
    return { store: new SqliteStore({ client: db, expired: { clear: false } }), close: () => db.close() }
  }
  throw new Error("usage: express-server.mjs memory | sqlite <dbfile>")
}

const saveSession = (req) =>
  new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())))

/** The session the cookie names, if it is the one in the path and holds data. */
const sessionOf = (req) => (req.sessionID === req.params.id && req.session.data !== undefined ? req.session : null)

const makeApp = (store) => {
  const app = express()
  app.use(
    session({
      secret: "effect-sessions bench peer",
      store,
      resave: false,
      saveUninitialized: false,
      rolling: false,
      cookie: { maxAge: IDLE_TIMEOUT_MS }
    })
  )
  app.post("/sessions", express.json(), async (req, res) => {
    req.session.data = req.body?.data
    await saveSession(req)
    res.status(201).json({ id: req.sessionID })
  })
  app.get("/sessions/:id", (req, res) => {
    const found = sessionOf(req)
    if (found === null) return res.status(404).json({ error: "not found" })
    res.json(found.data)
  })
  app.post("/sessions/:id/touch", async (req, res) => {
    const found = sessionOf(req)
    if (found === null) return res.status(404).json({ error: "not found" })
    found.touch()
    await saveSession(req)
    res.json({ id: req.sessionID, expires: found.cookie.expires })
  })
  return app
}

const main = async () => {
  const [kind, dbFile] = process.argv.slice(2)
  const { store, close } = await openStore(kind, dbFile)
  const server = makeApp(store).listen(0, "127.0.0.1", () => {
    process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`)
  })
  process.once("SIGTERM", () => {
    server.close()
    server.closeAllConnections()
    close()
    process.exit(0)
  })
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`)
  process.exit(1)
})
