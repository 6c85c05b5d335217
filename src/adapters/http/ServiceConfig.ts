/**
 * The settings of the HTTP service (besides the session settings and the SQLite ones): where it listens and keeps
 * its files, how tokens are checked, which browser origins may call it, and its per-caller limits. Read from
 * `SESSIONS_*` variables like every other setting; invalid values are reported all at once.
 */
import { Duration, type Either } from "effect"
import {
  ConfigFields as Field,
  defineSettings,
  type DurationInput,
  type Rate,
  type RateInput
} from "../../domain/Config.js"
import type { InvalidConfig } from "../../domain/Errors.js"

/** A browser origin the allow-list accepts: scheme, host and optional port. */
export const originPattern = /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?$/

/** What an allowed origin looks like, for errors. */
export const originExpected = "an origin like https://app.example.com"

/** The HTTP service's settings. */
export interface ServiceConfig {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly jwtIssuer: string | null
  readonly jwtAudience: string | null
  readonly jwtMaxLifetime: Duration.Duration
  readonly jwtClockSkew: Duration.Duration
  readonly corsOrigins: ReadonlyArray<string>
  readonly httpRateLimit: Rate
  readonly adminRateLimit: Rate
  readonly maxBodyBytes: number
  readonly requestTimeout: Duration.Duration
  readonly headersTimeout: Duration.Duration
  readonly keepAliveTimeout: Duration.Duration
  readonly maxConnections: number
  readonly anonymousRateLimit: Rate
  readonly maxStreamsPerSubject: number
}

/**
 * The settings as a caller writes them in code: a subset of the fields, durations as `Duration`, milliseconds or text
 * (`"30s"`), rates as `"600/1m"` or `{ limit, window }`, numbers as numbers or digits, lists as arrays or
 * comma-separated text. A validated `ServiceConfig` is one too.
 */
export type ServiceConfigInput = {
  readonly [K in keyof ServiceConfig]?: ServiceConfig[K] extends Duration.Duration ? DurationInput
    : ServiceConfig[K] extends Rate ? RateInput
    : ServiceConfig[K] extends number ? number | string
    : ServiceConfig[K] extends ReadonlyArray<string> ? ReadonlyArray<string> | string
    : ServiceConfig[K]
}

const settings = defineSettings<ServiceConfig>({
  host: Field.text({
    default: "127.0.0.1",
    pattern: /^[A-Za-z0-9.:[\]-]{1,253}$/,
    expected: "a host name or IP address",
    doc: "Address to listen on (`0.0.0.0` for every interface)."
  }),
  port: Field.integer({
    default: 8080,
    min: 0,
    max: 65_535,
    doc: "Port to listen on (0: a free port the system picks)."
  }),
  dataDir: Field.text({
    default: ".data",
    pattern: /^[^\0]{1,4096}$/,
    expected: "a directory path",
    doc: "Directory of the database (unless `SESSIONS_SQLITE_FILE` says otherwise) and of the generated JWT secret."
  }),
  jwtIssuer: Field.optionalText({
    pattern: /^[\x21-\x7e]{1,256}$/,
    expected: "a token issuer",
    doc: "When set, tokens must carry this `iss`."
  }),
  jwtAudience: Field.optionalText({
    pattern: /^[\x21-\x7e]{1,256}$/,
    expected: "a token audience",
    doc: "When set, tokens must carry this `aud`."
  }),
  jwtMaxLifetime: Field.duration({
    default: Duration.days(30),
    min: Duration.minutes(1),
    doc: "Longest a token may be valid: `exp` at most this long after `iat` (after now if it has none); " +
      "`token --ttl` may not ask for more."
  }),
  jwtClockSkew: Field.duration({
    default: Duration.seconds(60),
    min: Duration.zero,
    doc: "How far a token's `iat` and `nbf` may be ahead of this server's clock (issuers' clocks differ)."
  }),
  corsOrigins: Field.list({
    default: [],
    pattern: originPattern,
    expected: originExpected,
    doc: "Browser origins allowed to call the API (comma-separated); requests from other origins are refused (403)."
  }),
  httpRateLimit: Field.rate({
    default: { limit: 600, window: Duration.minutes(1) },
    doc: "Requests allowed per token subject on the session routes."
  }),
  adminRateLimit: Field.rate({
    default: { limit: 20, window: Duration.minutes(1) },
    doc: "Requests allowed per token subject on `/admin` (a budget of its own)."
  }),
  maxBodyBytes: Field.integer({
    default: 262_144,
    min: 1024,
    max: 64 * 1024 * 1024,
    doc: "Largest request body, in bytes (413 above it)."
  }),
  requestTimeout: Field.duration({
    default: Duration.seconds(30),
    doc:
      "Deadline of a request's work; past it the work is cancelled and the client gets 504 (408 when its body had not arrived)."
  }),
  headersTimeout: Field.duration({
    default: Duration.seconds(10),
    doc: "How long a connection may take to send a request's headers before it is closed."
  }),
  keepAliveTimeout: Field.duration({
    default: Duration.seconds(5),
    doc: "How long an idle keep-alive connection stays open waiting for its next request."
  }),
  maxConnections: Field.integer({
    default: 512,
    min: 1,
    max: 1_000_000,
    doc: "Most connections open at once; a new one past it closes the one longest without a request in flight."
  }),
  anonymousRateLimit: Field.rate({
    default: { limit: 300, window: Duration.minutes(1) },
    doc: "Requests allowed per client address without a valid token (health, metrics, docs, refused tokens)."
  }),
  maxStreamsPerSubject: Field.integer({
    default: 8,
    min: 1,
    max: 10_000,
    doc: "Most event streams one token subject may hold open at once (429 past it)."
  })
})

/** The service's settings from `SESSIONS_*` variables. */
export const serviceConfigFromEnv = settings.fromEnv

/**
 * The service's settings from code values; fields left out take their defaults. Fails with `InvalidConfig` listing
 * every bad or unknown field.
 */
export const makeServiceConfig = (input: ServiceConfigInput = {}): Either.Either<ServiceConfig, InvalidConfig> =>
  settings.make(input)

/** Every default. */
export const defaultServiceConfig: ServiceConfig = settings.defaults

/** The reference table of the service's settings (README, `effect-sessions config check`). */
export const serviceConfigReference = settings.reference
