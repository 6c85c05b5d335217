/**
 * Start-up wiring of the ready service, shared by `effect-sessions serve` and the CLI: the settings read from
 * `SESSIONS_*` variables (the service's, the sessions' and the store's, checked together), and the whole service
 * built from them: the store (Postgres when `SESSIONS_PG_URL` is set, else SQLite, unless `serve --store` says) and
 * its backup writer, the manager over it, the HTTP service. The one place that chooses which adapters a service runs
 * on (with `internal/stores.ts`).
 */
import { HttpServer } from "@effect/platform"
import type { ServeError } from "@effect/platform/HttpServerError"
import { Config, Effect, Either, Layer, Option } from "effect"
import { loadSigningKey, secretFileExposed, type SigningKey } from "../adapters/http/Auth.js"
import * as Server from "../adapters/http/Server.js"
import { defaultServiceConfig, type ServiceConfig, serviceConfigFromEnv } from "../adapters/http/ServiceConfig.js"
import * as PostgresStore from "../adapters/postgres/PostgresStore.js"
import * as SqliteStore from "../adapters/sqlite/SqliteStore.js"
import { configFromEnv, type SessionsConfig } from "../domain/Config.js"
import { InvalidConfig, type StoreFailure } from "../domain/Errors.js"
import { backupDirectory } from "../internal/BackupFiles.js"
import * as SessionManager from "../services/SessionManager.js"
import { type Store, type StoreKind, storeOf, type StoreSettings } from "./internal/stores.js"

export { type Store, type StoreKind, storeOf, storeReference, type StoreSettings } from "./internal/stores.js"

/** Everything the service reads from `SESSIONS_*` variables. */
export interface Settings {
  readonly service: ServiceConfig
  readonly sessions: SessionsConfig
  /** The SQLite store's options (read whichever store is chosen). */
  readonly sqlite: SqliteStore.SqliteStoreOptions
  /** The store the service runs on: Postgres when `SESSIONS_PG_URL` is set (or asked for), else SQLite. */
  readonly store: StoreSettings
}

const noUrl = {
  field: "SESSIONS_PG_URL",
  reason: "is not set, and --store postgres needs it: the database's URL, like postgres://user@host:5432/database"
}

/** The Postgres options when they are asked for or `SESSIONS_PG_URL` is set; `None` when SQLite is chosen. */
const postgresFromEnv = (store: StoreKind | undefined) =>
  Effect.gen(function*() {
    if (store === "sqlite") return Option.none()
    const url = yield* Effect.orElseSucceed(Config.option(Config.string("SESSIONS_PG_URL")), Option.none)
    const given = Option.isSome(url) && url.value.trim() !== ""
    if (store === undefined && !given) return Option.none()
    const options = yield* Effect.either(PostgresStore.optionsFromEnv)
    if (given) return yield* Effect.map(options, Option.some)
    // Asked for without a URL: say so plainly, with whatever else is wrong with the Postgres variables.
    const others = Either.isLeft(options) ? options.left.issues.filter((issue) => issue.field !== noUrl.field) : []
    return yield* Effect.fail(new InvalidConfig({ issues: [noUrl, ...others] }))
  })

/**
 * The service's, the sessions' and the store's settings from `SESSIONS_*` variables, checked together:
 * `InvalidConfig` lists every bad variable at once. The store is Postgres when `SESSIONS_PG_URL` is set, else
 * SQLite; `store` overrides (`postgres` without `SESSIONS_PG_URL` fails `InvalidConfig` naming it).
 */
export const settingsWith = (
  options: { readonly store?: StoreKind | undefined } = {}
): Effect.Effect<Settings, InvalidConfig> =>
  Effect.gen(function*() {
    const service = yield* Effect.either(serviceConfigFromEnv)
    const sessions = yield* Effect.either(configFromEnv)
    const dataDir = Either.isRight(service) ? service.right.dataDir : defaultServiceConfig.dataDir
    const sqlite = yield* Effect.either(SqliteStore.optionsFromEnvIn(dataDir))
    const postgres = yield* Effect.either(postgresFromEnv(options.store))
    if (Either.isRight(service) && Either.isRight(sessions) && Either.isRight(sqlite) && Either.isRight(postgres)) {
      const store: StoreSettings = Option.match(postgres.right, {
        onNone: () => ({ _tag: "Sqlite", options: sqlite.right }),
        onSome: (options) => ({ _tag: "Postgres", options })
      })
      return { service: service.right, sessions: sessions.right, sqlite: sqlite.right, store }
    }
    const seen = new Set<string>()
    const failures = [
      Either.getLeft(service),
      Either.getLeft(sessions),
      Either.getLeft(sqlite),
      Either.getLeft(postgres)
    ]
    const issues = failures.flatMap((failure) => Option.isSome(failure) ? failure.value.issues : [])
      .filter((issue) => {
        const key = `${issue.field}\n${issue.reason}`
        return seen.has(key) ? false : (seen.add(key), true)
      })
    return yield* Effect.fail(new InvalidConfig({ issues }))
  })

/** The settings from `SESSIONS_*` variables, the store chosen by them (see `settingsWith`). */
export const settingsFromEnv: Effect.Effect<Settings, InvalidConfig> = settingsWith()

/** The store the settings chose. */
export const storeOfSettings = (settings: Settings): Store => storeOf(settings.store)

/** Logs where the service listens, and, when the secret was just generated, how to mint a first token. */
const announce = (settings: Settings, key: SigningKey) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const address = server.address._tag === "TcpAddress"
      ? `http://${server.address.hostname}:${server.address.port}`
      : server.address.path
    const store = storeOfSettings(settings)
    yield* Effect.logInfo(`effect-sessions listening on ${address} (store ${store.kind})`).pipe(
      Effect.annotateLogs({ store: store.kind, database: store.location, docs: `${address}/docs` })
    )
    if (key.source._tag === "Generated") {
      yield* Effect.logInfo(
        `generated a JWT signing secret in ${key.source.file} (mode 0600); mint a token with: ` +
          "effect-sessions token --owner alice (from a clone: npm run cli -- token --owner alice)"
      )
    }
  }))

/**
 * The whole service from its settings: the chosen store (with its backup writer in `<data dir>/backups`), the
 * manager over it, and the HTTP service, each closed in turn (HTTP first) when the layer is released.
 */
export const layerFromSettings = (
  settings: Settings,
  key: SigningKey
): Layer.Layer<HttpServer.HttpServer, ServeError | StoreFailure | InvalidConfig> => {
  const store = storeOfSettings(settings)
  return announce(settings, key).pipe(
    Layer.provideMerge(
      Server.layer({ config: settings.service, key, shutdownDeadline: settings.sessions.shutdownDeadline })
    ),
    Layer.provide(
      Layer.merge(
        SessionManager.layer(settings.sessions),
        store.backupLayer(backupDirectory(settings.service.dataDir))
      )
    ),
    Layer.provide(store.layer)
  )
}

/**
 * Runs the service configured from the environment until the process is told to stop: settings, signing key
 * (generated on first start), store, manager, HTTP. Fails `InvalidConfig` (every bad setting) before listening.
 * `store` overrides the store the variables choose.
 */
export const serveWith = (
  options: { readonly store?: StoreKind | undefined } = {}
): Effect.Effect<never, InvalidConfig | ServeError | StoreFailure> =>
  Effect.gen(function*() {
    const settings = yield* settingsWith(options)
    const key = yield* loadSigningKey(settings.service)
    if (key.source._tag === "File" && secretFileExposed(key.source.file)) {
      yield* Effect.logWarning(`${key.source.file} can be read by other users; run: chmod 600 ${key.source.file}`)
    }
    return yield* Layer.launch(layerFromSettings(settings, key))
  })

/** Runs the service configured from the environment (see `serveWith`). */
export const serveFromEnv: Effect.Effect<never, InvalidConfig | ServeError | StoreFailure> = serveWith()
