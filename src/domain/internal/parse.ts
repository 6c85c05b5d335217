/** Parsing and printing of durations ("15m", "1h30m", "500ms", "15 minutes") and rates ("100/1s"). */
import { Duration, Either, Option } from "effect"

const unitMillis: Readonly<Record<string, number>> = {
  ms: 1,
  millis: 1,
  milli: 1,
  s: 1_000,
  sec: 1_000,
  second: 1_000,
  seconds: 1_000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000
}

const part = /(\d+(?:\.\d+)?)\s*([a-z]+)/g
const whole = /^(?:\s*\d+(?:\.\d+)?\s*[a-z]+)+\s*$/

/** A duration as a caller may write it: a `Duration`, milliseconds, or text in one of the `durationForms`. */
export type DurationInput = Duration.DurationInput | string

/** The forms a duration may be written in, for error messages. */
export const durationForms = `a duration like 500ms, 30s, 15m, 1h30m, 7d or "15 minutes"`

/** The longest duration anything takes: 36,500 days (about 100 years), so instants computed from one stay dates. */
export const maxDuration = Duration.days(36_500)

const maxMillis = Duration.toMillis(maxDuration)

/** `millis` as a duration if it is at most `maxDuration`. */
const bounded = (millis: number, shown: string): Either.Either<Duration.Duration, string> =>
  millis <= maxMillis
    ? Either.right(Duration.millis(millis))
    : Either.left(`${shown} is longer than the longest duration allowed (36500d, about 100 years)`)

const parseDurationText = (text: string): Either.Either<Duration.Duration, string> => {
  const lower = text.trim().toLowerCase()
  if (!whole.test(lower)) return Either.left(`got ${JSON.stringify(text)}`)
  let millis = 0
  for (const [, amount, unit] of lower.matchAll(part)) {
    const scale = unitMillis[unit!]
    if (scale === undefined) return Either.left(`unknown unit "${unit}" in ${JSON.stringify(text)}`)
    millis += Number(amount) * scale
  }
  return Number.isFinite(millis) ? bounded(millis, JSON.stringify(text)) : Either.left(`got ${JSON.stringify(text)}`)
}

/** A decoded duration if it is finite and at most `maxDuration`. */
const finite = (duration: Duration.Duration): Either.Either<Duration.Duration, string> =>
  Duration.isFinite(duration)
    ? Duration.toMillis(duration) <= maxMillis ? Either.right(duration) : bounded(Duration.toMillis(duration), "it")
    : Either.left("got an infinite duration")

/**
 * A duration from a `Duration`, a number of milliseconds, or text in one of the `durationForms` (what Effect's own
 * `Duration.decode` takes, like `"15 minutes"`, included), finite and at most `maxDuration`. Fails with the reason
 * in words. This is the one parser of durations: settings, per-session limits and the HTTP and CLI inputs all use it.
 */
export const parseDuration = (input: unknown): Either.Either<Duration.Duration, string> => {
  if (typeof input === "string") return parseDurationText(input)
  if (typeof input === "number") {
    return Number.isFinite(input) && input >= 0 ? bounded(input, `${input}ms`) : Either.left(`got the number ${input}`)
  }
  if (Duration.isDuration(input)) return finite(input)
  return Option.match(Duration.decodeUnknown(input), {
    onNone: () => Either.left(`got ${input === null ? "null" : typeof input}`),
    onSome: finite
  })
}

/**
 * A duration that becomes a stored limit or setting: `parseDuration`'s, longer than zero (or zero, with
 * `allowZero`) and in whole milliseconds, the rule the session record's decoder applies.
 */
export const parseWholeDuration = (
  input: unknown,
  allowZero = false
): Either.Either<Duration.Duration, string> =>
  Either.flatMap(parseDuration(input), (duration) => {
    const millis = Duration.toMillis(duration)
    if (!Number.isInteger(millis)) return Either.left(`is ${millis}ms; it must be whole milliseconds`)
    if (millis === 0 && !allowZero) return Either.left("must be longer than zero")
    return Either.right(duration)
  })

const printUnits: ReadonlyArray<readonly [string, number]> = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1]
]

/** A duration in the short form `parseDuration` reads back ("15m", "1h30m", "50ms", "0ms"). */
export const formatDuration = (duration: Duration.Duration): string => {
  let rest = Duration.toMillis(duration)
  if (rest === 0) return "0ms"
  let text = ""
  for (const [unit, size] of printUnits) {
    if (rest >= size) {
      const count = unit === "ms" ? rest : Math.floor(rest / size)
      text += `${count}${unit}`
      rest -= count * size
    }
  }
  return text
}

/** A rate: at most `limit` events per `window`. */
export interface Rate {
  readonly limit: number
  readonly window: Duration.Duration
}

/** The forms a rate may be written in, for error messages. */
export const rateForms = "a rate like 100/s, 100/1s or 20/1m (events per duration)"

/** A rate from `{ limit, window }` or text `N/duration` ("100/s" reads as 100 per second). */
export const parseRate = (input: unknown): Either.Either<Rate, string> => {
  if (typeof input === "object" && input !== null && "limit" in input && "window" in input) {
    const limit = input.limit
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
      return Either.left(`limit must be a whole number of at least 1, got ${String(limit)}`)
    }
    return Either.flatMap(
      parseDuration(input.window),
      (window) =>
        Duration.toMillis(window) > 0 ? Either.right({ limit, window }) : Either.left("window must be longer than zero")
    )
  }
  if (typeof input !== "string") return Either.left(`got ${input === null ? "null" : typeof input}`)
  const match = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(input)
  if (match === null) return Either.left(`got ${JSON.stringify(input)}`)
  const limit = Number(match[1])
  const windowText = /^[a-z]+$/i.test(match[2]!) ? `1${match[2]}` : match[2]!
  return Either.flatMap(parseDurationText(windowText), (window) =>
    limit < 1 || Duration.toMillis(window) <= 0
      ? Either.left(`got ${JSON.stringify(input)}: the count and the window must both be above zero`)
      : Either.right({ limit, window }))
}

/** A rate in the form `parseRate` reads back ("100/1s"). */
export const formatRate = (rate: Rate): string => `${rate.limit}/${formatDuration(rate.window)}`
