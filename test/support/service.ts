/**
 * The HTTP service for tests, started two ways from the same `SESSIONS_*` variables: as the real `effect-sessions
 * serve` process (built `dist/bin.js`) on a free port, or in this process from the same layers (so coverage sees
 * it). Either way it runs on a SQLite file in a fresh temporary directory and is driven over loopback with `fetch`.
 */
import { HttpServer } from "@effect/platform"
import { ConfigProvider, Context, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { SignJWT } from "jose"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import { connect as netConnect, type Socket } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { loadSigningKey } from "../../src/adapters/http/Auth.js"
import { layerFromSettings, settingsFromEnv } from "../../src/startup/Startup.js"

/** The built binary that the process tests run (`npm test` builds it first). */
export const binary = Path.resolve(import.meta.dirname, "..", "..", "dist", "bin.js")

/** The signing secret every test service uses (strong and random, so the service accepts it). */
export const secret = Crypto.randomBytes(32).toString("base64url")

/** A running service. */
export interface Service {
  readonly url: string
  readonly dataDir: string
  /** A bearer token for `owner` (with the admin claim if asked), valid for an hour unless `expiresIn` says otherwise. */
  readonly token: (
    owner: string,
    options?: { readonly admin?: boolean; readonly expiresIn?: number }
  ) => Promise<string>
  readonly stop: () => Promise<void>
}

/** How a test starts a service from extra variables. */
export type Start = (env?: Variables) => Promise<Service>

/** Extra `SESSIONS_*` variables; `undefined` removes one (such as the secret the tests set by default). */
export type Variables = Record<string, string | undefined>

/** A fresh temporary directory (removed by `removeDir`). */
export const makeDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-sessions-http-"))

export const removeDir = (dir: string) => Fs.rmSync(dir, { recursive: true, force: true })

/** A token signed with `key` (HS256), for any subject and claims, as a client library would make it. */
export const sign = async (
  key: string,
  subject: string,
  options: { readonly admin?: boolean; readonly expiresIn?: number; readonly claims?: Record<string, unknown> } = {}
) => {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ ...(options.admin === true ? { admin: true } : {}), ...options.claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(subject)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(Buffer.from(key))
}

const variables = (dataDir: string, env: Variables): Record<string, string> =>
  Object.fromEntries(
    Object.entries({ SESSIONS_DATA_DIR: dataDir, SESSIONS_PORT: "0", SESSIONS_JWT_SECRET: secret, ...env }).filter(
      (entry): entry is [string, string] => entry[1] !== undefined
    )
  )

/** The real `effect-sessions serve` process, with its log lines and its exit. */
export interface ServiceProcess extends Service {
  readonly child: ChildProcess.ChildProcess
  readonly logs: Array<string>
  readonly exited: Promise<number | null>
}

/** This process's variables without any `SESSIONS_*` one, so only what a test sets configures the service. */
export const inherited = () =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SESSIONS_")))

/** How the process is started, besides its variables. */
export interface ProcessOptions {
  /** The most files the process may hold open (`ulimit -n`, set by `/bin/sh` before it runs the service). */
  readonly openFiles?: number
}

/** Starts `effect-sessions serve` and waits until it says where it listens. */
export const startProcess = async (env: Variables = {}, options: ProcessOptions = {}): Promise<ServiceProcess> => {
  if (!Fs.existsSync(binary)) throw new Error(`${binary} is missing: run npm run build (npm test does)`)
  const given = env["SESSIONS_DATA_DIR"]
  const dataDir = given ?? makeDir()
  const spawnOptions: ChildProcess.SpawnOptions = {
    env: { ...inherited(), ...variables(dataDir, env) },
    stdio: ["ignore", "pipe", "pipe"]
  }
  const child = options.openFiles === undefined
    ? ChildProcess.spawn(process.execPath, [binary, "serve"], spawnOptions)
    : ChildProcess.spawn(
      "/bin/sh",
      ["-c", `ulimit -n ${options.openFiles} && exec "$0" "$@"`, process.execPath, binary, "serve"],
      spawnOptions
    )
  const logs: Array<string> = []
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = ""
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${logs.join("\n")}`)), 30_000)
    const onLine = (line: string) => {
      logs.push(line)
      const match = /listening on (http:\/\/[^"\s]+)/.exec(line)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8")
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      lines.forEach(onLine)
    })
    child.stderr!.on("data", (chunk: Buffer) => logs.push(chunk.toString("utf8")))
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`service exited with ${code}:\n${logs.join("\n")}`))
    })
  }).catch((error: unknown) => {
    if (given === undefined) removeDir(dataDir)
    throw error
  })
  return {
    url,
    dataDir,
    child,
    logs,
    exited,
    token: (owner, options) => sign(secret, owner, options),
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      await exited
      removeDir(dataDir)
    }
  }
}

/** Builds the service's layers in this process from the same variables as the binary; logs below warning are off. */
export const startInProcess = async (env: Variables = {}): Promise<Service> => {
  const dataDir = env["SESSIONS_DATA_DIR"] ?? makeDir()
  const provider = ConfigProvider.fromMap(new Map(Object.entries(variables(dataDir, env))))
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Effect.gen(function*() {
      const settings = yield* settingsFromEnv
      const key = yield* loadSigningKey(settings.service)
      return yield* Layer.buildWithScope(layerFromSettings(settings, key), scope)
    }).pipe(Effect.withConfigProvider(provider), Logger.withMinimumLogLevel(LogLevel.Warning))
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return {
    url: `http://127.0.0.1:${address.port}`,
    dataDir,
    token: (owner, options) => sign(secret, owner, options),
    stop: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      removeDir(dataDir)
    }
  }
}

/**
 * A response body as tests read it: any shape, checked by the assertions that read it (the service's own schemas
 * are what its contract is tested against, not the client's types).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Body = Record<string, any>

/** What `call` answers: the status, the headers, the body as text and, when it is JSON, parsed. */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: Body
}

/** A JSON request to the service; the body is parsed when the response is JSON. */
export const call = async (
  service: Pick<Service, "url">,
  method: string,
  path: string,
  options: { readonly token?: string | undefined; readonly body?: unknown; readonly headers?: Record<string, string> } =
    {}
): Promise<Answer> => {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
  let body: string | undefined
  if (options.body !== undefined) {
    headers["content-type"] ??= "application/json"
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body)
  }
  const response = await fetch(`${service.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
  const text = await response.text()
  const json: unknown = (response.headers.get("content-type") ?? "").includes("application/json")
    ? JSON.parse(text)
    : undefined
  return { status: response.status, headers: response.headers, text, json: json as Body }
}

/** A raw TCP connection to the service, with everything it received and whether the service closed it. */
export interface RawConnection {
  readonly socket: Socket
  /** What the service sent so far. */
  readonly received: () => string
  /** Resolves with what the service sent once the connection is closed (by either side). */
  readonly closed: Promise<string>
  readonly isClosed: () => boolean
}

/** Opens a raw TCP connection to the service (for requests no HTTP client would send) and writes `initial`. */
export const connect = (service: Pick<Service, "url">, initial = ""): Promise<RawConnection> =>
  new Promise((resolve, reject) => {
    const url = new URL(service.url)
    const socket = netConnect({ host: url.hostname, port: Number(url.port) })
    const chunks: Array<Buffer> = []
    let ended = false
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    const received = () => Buffer.concat(chunks).toString("utf8")
    const closed = new Promise<string>((done) =>
      socket.once("close", () => {
        ended = true
        done(received())
      })
    )
    socket.on("error", () => {})
    socket.once("connect", () => {
      socket.off("error", reject)
      if (initial !== "") socket.write(initial)
      resolve({ socket, received, closed, isClosed: () => ended })
    })
    socket.once("error", reject)
  })
