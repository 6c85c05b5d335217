/**
 * The connections of the HTTP server, each either quiet (no request in flight: still sending its first request's
 * headers, or idle between keep-alive requests) or busy. At most `maxConnections` are open: a new one is admitted by
 * closing the one quiet the longest, and refused only when every other one is busy, so slow or idle connections
 * can never lock real clients out. On shutdown, quiet connections are closed only once quiet for a grace period, so
 * none is closed while a request may be on its way.
 */
import { Metric } from "effect"
import type * as Http from "node:http"
import type * as Net from "node:net"
import { setImmediate } from "node:timers"

const open = Metric.gauge("http_connections_open", { description: "HTTP connections open" })
const shed = Metric.counter("http_connections_shed_total", {
  description: "HTTP connections closed at the connection limit (evicted: quiet the longest; refused: all others busy)",
  incremental: true
})
const evicted = Metric.tagged(shed, "reason", "evicted")
const refused = Metric.tagged(shed, "reason", "refused")

/** The least time between two reports of connections closed at the limit (the metrics count every one). */
const reportInterval = 10_000

/** Counts of connections closed at the limit since the last report. */
export interface Shed {
  readonly evicted: number
  readonly refused: number
}

/** The connections of one server (see the module's description). */
export class Connections {
  /** Connections with no request in flight, in the order they became so (oldest first), with when. */
  private readonly quiet = new Map<Net.Socket, number>()
  /** Connections with requests in flight, with how many (more than one when a client pipelines). */
  private readonly busy = new Map<Net.Socket, number>()
  private shedSinceReport = { evicted: 0, refused: 0 }
  private reportedAt = -Infinity

  /**
   * Tracks `server`'s connections from now on. `now` reads the clock (milliseconds); `onShed` is told how many
   * connections were closed at the limit, at most once every 10 seconds (the first burst at once).
   */
  constructor(
    server: Http.Server,
    private readonly max: number,
    private readonly now: () => number,
    private readonly onShed: (shed: Shed) => void
  ) {
    server.on("connection", (socket: Net.Socket) => this.admit(socket))
    server.on(
      "request",
      (request: Http.IncomingMessage, response: Http.ServerResponse) => this.started(request.socket, response)
    )
  }

  /** How many connections are open. */
  get size(): number {
    return this.quiet.size + this.busy.size
  }

  private admit(socket: Net.Socket): void {
    if (this.size >= this.max) {
      const oldest = this.quiet.keys().next()
      if (oldest.done === true) {
        socket.destroy()
        this.report("refused")
        return
      }
      this.forget(oldest.value)
      oldest.value.destroy()
      this.report("evicted")
    }
    this.quiet.set(socket, this.now())
    open.unsafeUpdate(this.size, [])
    socket.once("close", () => {
      this.forget(socket)
      open.unsafeUpdate(this.size, [])
    })
  }

  private report(reason: keyof Shed): void {
    ;(reason === "evicted" ? evicted : refused).unsafeUpdate(1, [])
    const now = this.now()
    this.shedSinceReport = { ...this.shedSinceReport, [reason]: this.shedSinceReport[reason] + 1 }
    if (now - this.reportedAt < reportInterval) return
    this.reportedAt = now
    // After the current burst of connections (this turn of the event loop), in one report.
    setImmediate(() => {
      const shed = this.shedSinceReport
      this.shedSinceReport = { evicted: 0, refused: 0 }
      this.onShed(shed)
    })
  }

  private forget(socket: Net.Socket): void {
    if (!this.quiet.delete(socket)) this.busy.delete(socket)
  }

  private started(socket: Net.Socket, response: Http.ServerResponse): void {
    const inFlight = this.busy.get(socket)
    if (inFlight === undefined && !this.quiet.delete(socket)) return
    this.busy.set(socket, (inFlight ?? 0) + 1)
    let done = false
    const finished = () => {
      if (done) return
      done = true
      const left = this.busy.get(socket)
      if (left === undefined) return
      if (left > 1) return void this.busy.set(socket, left - 1)
      this.busy.delete(socket)
      if (!socket.destroyed) this.quiet.set(socket, this.now())
    }
    response.once("finish", finished)
    response.once("close", finished)
  }

  /**
   * Closes the connections quiet since `since` or earlier: during a drain, those that have had time to see the
   * `Connection: close` of their last response, or that no client is using.
   */
  closeQuietSince(since: number): void {
    for (const [socket, quietSince] of this.quiet) {
      if (quietSince > since) break
      this.forget(socket)
      socket.destroy()
    }
  }

  /** Closes every connection, busy ones included (the shutdown deadline passed). */
  closeAll(): void {
    for (const socket of [...this.quiet.keys(), ...this.busy.keys()]) socket.destroy()
    this.quiet.clear()
    this.busy.clear()
  }
}
