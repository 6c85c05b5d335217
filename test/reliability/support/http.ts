/**
 * An HTTP client for the reliability scenarios, on `node:http` so that it sees what `fetch` hides: whether the
 * request had been written when the connection failed (a reset of a written request is a lost answer, a refused
 * connection is a clean refusal), over keep-alive connections like a real client's pool.
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import type { Body } from "../../support/service.js"

/** What became of one request: an answer, or a connection failure and whether the request had been written. */
export type Outcome =
  | {
    readonly _tag: "Answered"
    readonly status: number
    readonly headers: Http.IncomingHttpHeaders
    readonly text: string
    readonly json: Body | undefined
  }
  | { readonly _tag: "Failed"; readonly code: string; readonly written: boolean }

export interface RequestOptions {
  readonly token?: string | undefined
  /** A JSON value (serialised), or a string sent as it is. */
  readonly body?: unknown
  readonly headers?: Record<string, string> | undefined
  readonly agent?: Http.Agent | undefined
  /** Gives up (outcome `Failed`, code `TIMEOUT`) after this many milliseconds. */
  readonly timeout?: number | undefined
}

/** Sends one request to `url` + `path` and reports what became of it; never rejects. */
export const request = (url: string, method: string, path: string, options: RequestOptions = {}): Promise<Outcome> =>
  new Promise((resolve) => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
    let payload: Buffer | undefined
    if (options.body !== undefined) {
      headers["content-type"] ??= "application/json"
      payload = Buffer.from(typeof options.body === "string" ? options.body : JSON.stringify(options.body))
      headers["content-length"] = String(payload.length)
    }
    let written = false
    let settled = false
    const settle = (outcome: Outcome) => {
      if (!settled) {
        settled = true
        resolve(outcome)
      }
    }
    const req = Http.request(`${url}${path}`, { method, headers, agent: options.agent ?? false }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on(
        "error",
        (error: NodeJS.ErrnoException) => settle({ _tag: "Failed", code: error.code ?? error.message, written })
      )
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let json: Body | undefined
        if ((res.headers["content-type"] ?? "").includes("json")) {
          try {
            json = JSON.parse(text) as Body
          } catch {
            json = undefined
          }
        }
        settle({ _tag: "Answered", status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
    })
    req.on("finish", () => {
      written = true
    })
    req.on(
      "error",
      (error: NodeJS.ErrnoException) => settle({ _tag: "Failed", code: error.code ?? error.message, written })
    )
    if (options.timeout !== undefined) {
      req.setTimeout(options.timeout, () => {
        settle({ _tag: "Failed", code: "TIMEOUT", written })
        req.destroy()
      })
    }
    req.end(payload)
  })

/** A keep-alive connection pool of one socket, as one client of a real application holds. */
export const keepAlive = () => new Http.Agent({ keepAlive: true, maxSockets: 1 })

/** The resident memory of process `pid` in bytes, from /proc (Linux). */
export const residentBytes = (pid: number): number => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = /VmRSS:\s+(\d+) kB/.exec(status)
  if (kib === null) throw new Error(`no VmRSS for process ${pid}`)
  return Number(kib[1]) * 1024
}

/** What a client that never finished its body got: the status line's code (if any), the text, and when it ended. */
export interface Stalled {
  readonly status: number | undefined
  readonly text: string
  /** Milliseconds until the service answered or closed the connection (`undefined`: neither within `wait`). */
  readonly endedAfter: number | undefined
}

/**
 * Sends a request whose body is announced as `declared` bytes but stops after `sent` bytes, keeps the connection
 * open, and reports what the service did within `wait` milliseconds.
 */
export const stalledBody = (
  url: string,
  path: string,
  options: { readonly token: string; readonly declared: number; readonly sent: string; readonly wait: number }
): Promise<Stalled> =>
  new Promise((resolve) => {
    const target = new URL(url)
    const started = Date.now()
    const socket = Net.connect(Number(target.port), target.hostname)
    let text = ""
    let done = false
    const finish = (endedAfter: number | undefined) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      resolve({ status: match === null ? undefined : Number(match[1]), text, endedAfter })
    }
    const timer = setTimeout(() => finish(undefined), options.wait)
    socket.on("connect", () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Bearer ${options.token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${options.declared}\r\n\r\n${options.sent}`
      )
    })
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8")
      // A whole answer: headers and as much body as they announce.
      const head = text.indexOf("\r\n\r\n")
      const length = /content-length: (\d+)/i.exec(text)
      if (head >= 0 && length !== null && Buffer.byteLength(text.slice(head + 4)) >= Number(length[1])) {
        finish(Date.now() - started)
      }
    })
    socket.on("close", () => finish(Date.now() - started))
    socket.on("error", () => finish(Date.now() - started))
  })
