/**
 * The configuration of effect-sessions: every setting with its documented default, validated as a whole (every bad
 * field reported at once) from code values or from `SESSIONS_*` environment variables.
 */
import { Duration, type Effect, type Either, type Schema } from "effect"
import type { InvalidConfig } from "./Errors.js"
import type { ExpiryPolicy } from "./Expiry.js"
import * as Field from "./internal/configField.js"
import { formatDuration, type Rate } from "./internal/parse.js"
import { defineSettings, envName, type ReferenceRow } from "./internal/settings.js"

export type { DurationInput, Rate } from "./internal/parse.js"
export {
  durationForms,
  formatDuration,
  formatRate,
  maxDuration,
  parseDuration,
  parseRate,
  parseWholeDuration
} from "./internal/parse.js"

/** What to do when creating a session would pass a capacity limit. */
export type CapacityPolicy = "reject" | "evict-lru"

/** Every setting, with its default and what it controls. Durations accept `15m`, `1h30m`, `500ms`, `"15 minutes"`. */
export const configFields = {
  idleTimeout: Field.duration({
    default: Duration.minutes(15),
    doc: "A session with no activity for this long expires."
  }),
  maxLifetime: Field.duration({
    default: Duration.hours(24),
    doc: "A session expires this long after it was created, however active it is."
  }),
  retention: Field.duration({
    default: Duration.hours(1),
    min: Duration.zero,
    doc: "How long an ended session is kept as a tombstone (so clients learn why it ended) before it is purged."
  }),
  sweepInterval: Field.duration({
    default: Duration.seconds(30),
    doc: "Pause between two runs of the background sweeper."
  }),
  sweepBatch: Field.integer({
    default: 1000,
    min: 1,
    max: 1_000_000,
    doc: "Most sessions the sweeper expires or purges in one batch."
  }),
  maxSessions: Field.integer({
    default: 100_000,
    min: 1,
    doc: "Most live (not ended) sessions in the whole service."
  }),
  maxSessionsPerOwner: Field.integer({
    default: 100,
    min: 1,
    doc: "Most live sessions one owner may hold."
  }),
  capacityPolicy: Field.oneOf({
    literals: ["reject", "evict-lru"],
    default: "reject",
    doc: "At a capacity limit: `reject` the new session, or `evict-lru` (end the least recently active idle ones)."
  }),
  maxDataBytes: Field.integer({
    default: 65_536,
    min: 2,
    max: 64 * 1024 * 1024,
    doc: "Largest session data, in bytes of UTF-8 JSON."
  }),
  responseTimeWindow: Field.integer({
    default: 100,
    min: 0,
    max: 10_000,
    doc: "How many of the most recent response times a session keeps."
  }),
  eventBuffer: Field.integer({
    default: 1024,
    min: 1,
    max: 1_000_000,
    doc: "Events kept for replay, and the most a slow subscriber may fall behind before it misses some."
  }),
  sessionRateLimit: Field.rate({
    default: { limit: 100, window: Duration.seconds(1) },
    doc: "Calls allowed per session (token bucket)."
  }),
  ownerRateLimit: Field.rate({
    default: { limit: 1000, window: Duration.seconds(1) },
    doc: "Calls allowed per owner, across its sessions (token bucket)."
  }),
  rateLimitKeys: Field.integer({
    default: 100_000,
    min: 1,
    doc: "Most rate-limit keys remembered at once; idle keys are forgotten first."
  }),
  lockTimeout: Field.duration({
    default: Duration.seconds(5),
    doc: "How long a caller waits for a session's exclusive permit before failing `SessionBusy`."
  }),
  leaseTtl: Field.duration({
    default: Duration.seconds(30),
    doc: "How long a store lease lasts unless renewed; a crashed holder loses it after this."
  }),
  operationTimeout: Field.duration({
    default: Duration.seconds(120),
    doc: "Default deadline of work run with `withSession`."
  }),
  storeTimeout: Field.duration({
    default: Duration.seconds(5),
    doc: "Deadline of each store call; past it the call fails `StoreUnavailable` (and is retried)."
  }),
  retryBase: Field.duration({
    default: Duration.millis(50),
    doc: "First delay before retrying a transient store failure."
  }),
  retryFactor: Field.decimal({
    default: 2,
    min: 1,
    max: 10,
    doc: "Each retry delay is this many times the previous one (with jitter)."
  }),
  retryMaxAttempts: Field.integer({
    default: 5,
    min: 1,
    max: 100,
    doc: "Most attempts of one store call, the first included."
  }),
  shutdownDeadline: Field.duration({
    default: Duration.seconds(10),
    min: Duration.zero,
    doc: "On shutdown, how long in-flight work may finish before it is interrupted."
  }),
  touchCoalesce: Field.duration({
    default: Duration.seconds(1),
    min: Duration.zero,
    doc: "Touches of one session within this span are written to a durable store once (0ms: every touch)."
  })
}

type Fields = typeof configFields

/** The validated configuration. */
export interface SessionsConfig {
  readonly idleTimeout: Duration.Duration
  readonly maxLifetime: Duration.Duration
  readonly retention: Duration.Duration
  readonly sweepInterval: Duration.Duration
  readonly sweepBatch: number
  readonly maxSessions: number
  readonly maxSessionsPerOwner: number
  readonly capacityPolicy: CapacityPolicy
  readonly maxDataBytes: number
  readonly responseTimeWindow: number
  readonly eventBuffer: number
  readonly sessionRateLimit: Rate
  readonly ownerRateLimit: Rate
  readonly rateLimitKeys: number
  readonly lockTimeout: Duration.Duration
  readonly leaseTtl: Duration.Duration
  readonly operationTimeout: Duration.Duration
  readonly storeTimeout: Duration.Duration
  readonly retryBase: Duration.Duration
  readonly retryFactor: number
  readonly retryMaxAttempts: number
  readonly shutdownDeadline: Duration.Duration
  readonly touchCoalesce: Duration.Duration
}

/** Configuration as a caller writes it: a subset of the fields, durations as `Duration`, milliseconds or text. */
export type SessionsConfigInput = {
  readonly [K in keyof Fields]?: K extends "sessionRateLimit" | "ownerRateLimit" ? RateInput
    : Fields[K] extends Field.ConfigField<Duration.Duration> ? Duration.DurationInput | string
    : Fields[K] extends Field.ConfigField<number> ? number | string
    : SessionsConfig[K]
}

/** A rate as a caller writes it: `"100/1s"`, or a limit and a window. */
export type RateInput = string | { readonly limit: number; readonly window: Duration.DurationInput | string }

const settings = defineSettings<SessionsConfig>(configFields, (config) => {
  const issues: Array<Schema.FilterIssue> = []
  if (config.maxSessionsPerOwner > config.maxSessions) {
    issues.push({
      path: ["maxSessionsPerOwner"],
      message: `is ${config.maxSessionsPerOwner}, more than maxSessions (${config.maxSessions})`
    })
  }
  if (Duration.greaterThan(config.idleTimeout, config.maxLifetime)) {
    issues.push({
      path: ["idleTimeout"],
      message: `is longer than maxLifetime (${formatDuration(config.maxLifetime)}), so it would never apply`
    })
  }
  return issues
})

/** The names of the settings, in the order of the config reference. */
export const fieldNames = Object.keys(configFields) as ReadonlyArray<keyof SessionsConfig>

export { envName }

/**
 * The configuration schema. Every field is optional and takes its documented default; decoding with
 * `{ errors: "all" }` (as `makeConfig` does) reports every bad field at once.
 */
export const SessionsConfig = settings.schema as unknown as Schema.Schema<SessionsConfig, SessionsConfigInput>

/** Every default, as a validated configuration. */
export const defaultConfig: SessionsConfig = settings.defaults

/**
 * Validates a configuration written in code: fields left out take their defaults. Fails with `InvalidConfig`
 * listing every bad or unknown field.
 */
export const makeConfig = (input: SessionsConfigInput = {}): Either.Either<SessionsConfig, InvalidConfig> =>
  settings.make(input)

/** The policy `Expiry.expiresAt` needs, taken from a configuration. */
export const expiryPolicy = (config: SessionsConfig): ExpiryPolicy => ({
  idleTimeout: config.idleTimeout,
  maxLifetime: config.maxLifetime
})

/**
 * The configuration read from `SESSIONS_*` variables through Effect's `Config` (so a `ConfigProvider` can stand in
 * for the environment): `SESSIONS_IDLE_TIMEOUT=5m`, `SESSIONS_CAPACITY_POLICY=evict-lru`, ... Unset variables take
 * their defaults. Fails with `InvalidConfig` naming every bad variable at once.
 */
export const configFromEnv: Effect.Effect<SessionsConfig, InvalidConfig> = settings.fromEnv

/** One row of the config reference: the field, its environment variable, its default and what it controls. */
export type ConfigReferenceRow = ReferenceRow<keyof SessionsConfig>

/** The config reference, in field order (for the README and `effect-sessions config check`). */
export const configReference: ReadonlyArray<ConfigReferenceRow> = settings.reference

/** Building blocks for settings of one's own (the HTTP service's), with the same validation and env loading. */
export * as ConfigFields from "./internal/configField.js"
export { defineSettings, type Settings } from "./internal/settings.js"

/** Checking an adapter's own options (a store's, the HTTP service's) with the same field kinds, from code or env. */
export * as OptionChecks from "./internal/optionChecks.js"
