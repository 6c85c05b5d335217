/**
 * The floor of Node for the HTTP benchmark: a bare `node:http` server, no framework, no auth, the sessions in a
 * `Map` (1,000 pre-filled at start, each create adds one). The same routes as the service's, the least each can do:
 *
 *   POST /sessions            reads the JSON body, stores `{ id, data, createdAt, expiresAt }`, answers 201 with it
 *   GET  /sessions/:id        a Map lookup, the session as JSON (404 on a miss)
 *   POST /sessions/:id/touch  a Map lookup and write of a new `expiresAt`, the session as JSON (404 on a miss)
 *
 *   node bench/peers/node-floor.mjs
 *
 * Listens on 127.0.0.1, any free port, and prints `listening on http://127.0.0.1:<port>` on stdout. Stops on SIGTERM.
 */
import { randomUUID } from "node:crypto"
import * as Http from "node:http"

const IDLE_TIMEOUT_MS = 30 * 60 * 1000
const PREFILL = 1000
const SESSION_PATH = /^\/sessions\/([^/]+)(\/touch)?$/

const sessions = new Map()
const newSession = (data) => {
  const now = Date.now()
  const session = { id: randomUUID(), data, createdAt: now, expiresAt: now + IDLE_TIMEOUT_MS }
  sessions.set(session.id, session)
  return session
}
for (let i = 0; i < PREFILL; i++) newSession({ user: `u-${i}`, turns: 0 })

const send = (res, status, body) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const server = Http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/sessions") {
    const chunks = []
    req.on("data", (chunk) => chunks.push(chunk))
    req.on("end", () => {
      let body
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch {
        return send(res, 400, { error: "invalid JSON" })
      }
      send(res, 201, newSession(body?.data))
    })
    return
  }
  const match = SESSION_PATH.exec(req.url ?? "")
  const touch = match?.[2] !== undefined
  if (match === null || req.method !== (touch ? "POST" : "GET")) return send(res, 404, { error: "no route" })
  const session = sessions.get(match[1])
  if (session === undefined) return send(res, 404, { error: "not found" })
  if (touch) session.expiresAt = Date.now() + IDLE_TIMEOUT_MS
  req.resume()
  send(res, 200, session)
})

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`)
})
process.once("SIGTERM", () => {
  server.close()
  server.closeAllConnections()
  process.exit(0)
})
