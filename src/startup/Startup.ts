/**
 * Start-up wiring of the ready service, shared by `effect-sessions serve` and the CLI: the settings read from
 * `SESSIONS_*` variables (the service's, the sessions' and the SQLite store's, checked together), and the whole
 * service built from them: the SQLite store and its backup writer, the manager over it, the HTTP service. The one
 * place that chooses which adapters a service runs on.
 */
import { HttpServer } from "@effect/platform"
import type { ServeError } from "@effect/platform/HttpServerError"
import { Effect, Either, Layer, Option } from "effect"
import { loadSigningKey, secretFileExposed, type SigningKey } from "../adapters/http/Auth.js"
import * as Server from "../adapters/http/Server.js"
import { defaultServiceConfig, type ServiceConfig, serviceConfigFromEnv } from "../adapters/http/ServiceConfig.js"
import * as Backup from "../adapters/sqlite/Backup.js"
import * as SqliteStore from "../adapters/sqlite/SqliteStore.js"
import { configFromEnv, type SessionsConfig } from "../domain/Config.js"
import { InvalidConfig, type StoreFailure } from "../domain/Errors.js"
import * as SessionManager from "../services/SessionManager.js"

/** Everything the service reads from `SESSIONS_*` variables. */
export interface Settings {
  readonly service: ServiceConfig
  readonly sessions: SessionsConfig
  readonly sqlite: SqliteStore.SqliteStoreOptions
}

/**
 * The service's, the sessions' and the SQLite store's settings from `SESSIONS_*` variables, checked together:
 * `InvalidConfig` lists every bad variable of all three at once.
 */
export const settingsFromEnv: Effect.Effect<Settings, InvalidConfig> = Effect.gen(function*() {
  const service = yield* Effect.either(serviceConfigFromEnv)
  const sessions = yield* Effect.either(configFromEnv)
  const dataDir = Either.isRight(service) ? service.right.dataDir : defaultServiceConfig.dataDir
  const sqlite = yield* Effect.either(SqliteStore.optionsFromEnvIn(dataDir))
  if (Either.isRight(service) && Either.isRight(sessions) && Either.isRight(sqlite)) {
    return { service: service.right, sessions: sessions.right, sqlite: sqlite.right }
  }
  const seen = new Set<string>()
  const failures = [Either.getLeft(service), Either.getLeft(sessions), Either.getLeft(sqlite)]
  const issues = failures.flatMap((failure) => Option.isSome(failure) ? failure.value.issues : [])
    .filter((issue) => {
      const key = `${issue.field}\n${issue.reason}`
      return seen.has(key) ? false : (seen.add(key), true)
    })
  return yield* Effect.fail(new InvalidConfig({ issues }))
})

/** Logs where the service listens, and, when the secret was just generated, how to mint a first token. */
const announce = (settings: Settings, key: SigningKey) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const address = server.address._tag === "TcpAddress"
      ? `http://${server.address.hostname}:${server.address.port}`
      : server.address.path
    yield* Effect.logInfo(`effect-sessions listening on ${address}`).pipe(
      Effect.annotateLogs({ database: settings.sqlite.filename, docs: `${address}/docs` })
    )
    if (key.source._tag === "Generated") {
      yield* Effect.logInfo(
        `generated a JWT signing secret in ${key.source.file} (mode 0600); mint a token with: ` +
          "effect-sessions token --owner alice (from a clone: npm run cli -- token --owner alice)"
      )
    }
  }))

/**
 * The whole service from its settings: the SQLite store (with its backup writer in `<data dir>/backups`), the manager
 * over it, and the HTTP service, each closed in turn (HTTP first) when the layer is released.
 */
export const layerFromSettings = (
  settings: Settings,
  key: SigningKey
): Layer.Layer<HttpServer.HttpServer, ServeError | StoreFailure> =>
  announce(settings, key).pipe(
    Layer.provideMerge(
      Server.layer({ config: settings.service, key, shutdownDeadline: settings.sessions.shutdownDeadline })
    ),
    Layer.provide(
      Layer.merge(
        SessionManager.layer(settings.sessions),
        Backup.layer({
          database: settings.sqlite.filename,
          directory: Backup.backupDirectory(settings.service.dataDir)
        })
      )
    ),
    Layer.provide(SqliteStore.layer(settings.sqlite))
  )

/**
 * Runs the service configured from the environment until the process is told to stop: settings, signing key
 * (generated on first start), store, manager, HTTP. Fails `InvalidConfig` (every bad setting) before listening.
 */
export const serveFromEnv: Effect.Effect<never, InvalidConfig | ServeError | StoreFailure> = Effect.gen(function*() {
  const settings = yield* settingsFromEnv
  const key = yield* loadSigningKey(settings.service)
  if (key.source._tag === "File" && secretFileExposed(key.source.file)) {
    yield* Effect.logWarning(`${key.source.file} can be read by other users; run: chmod 600 ${key.source.file}`)
  }
  return yield* Layer.launch(layerFromSettings(settings, key))
})
