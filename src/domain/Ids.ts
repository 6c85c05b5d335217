/**
 * The identifiers of the domain: `SessionId` (128 random bits), `OwnerId` and `SessionName`, each a branded schema
 * with a validator that fails with `InvalidInput` naming the field, what was wrong and what is allowed.
 */
import { Effect, Either, Schema } from "effect"
import type { InvalidInput } from "./Errors.js"
import { checkText, textProblem, type TextRule } from "./internal/text.js"

const isBase64Url = (code: number) =>
  (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) ||
  code === 0x2d || code === 0x5f

const isVisibleAscii = (code: number) => code >= 0x21 && code <= 0x7e

const isPrintableAscii = (code: number) => code >= 0x20 && code <= 0x7e

const sessionIdRule: TextRule = {
  min: 22,
  max: 22,
  // 16 bytes in base64url without padding: the 22nd character carries only 2 bits, so it is one of A, Q, g, w.
  pattern: /^[A-Za-z0-9_-]{21}[AQgw]$/,
  allowed: isBase64Url,
  expected: "22 base64url characters (128 bits), as returned by create"
}

const ownerIdRule: TextRule = {
  min: 1,
  max: 128,
  pattern: /^[\x21-\x7e]{1,128}$/,
  allowed: isVisibleAscii,
  expected: "1-128 visible ASCII characters (no spaces or control characters)"
}

const sessionNameRule: TextRule = {
  min: 1,
  max: 64,
  pattern: /^[A-Za-z0-9_-]{1,64}$/,
  allowed: isBase64Url,
  expected: "1-64 characters of A-Z a-z 0-9 _ -"
}

const sessionKindRule: TextRule = {
  min: 1,
  max: 64,
  pattern: /^[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?$/,
  allowed: isPrintableAscii,
  expected: "1-64 printable ASCII characters, not starting or ending with a space"
}

const textSchema = (rule: TextRule, identifier: string) =>
  Schema.String.pipe(
    Schema.filter((value) => textProblem(rule, value) === undefined, {
      identifier,
      description: rule.expected,
      message: (issue) => `${identifier} ${textProblem(rule, issue.actual) ?? "is invalid"}; expected ${rule.expected}`
    })
  )

/** A session's id: 128 bits from a CSPRNG, encoded as 22 base64url characters. Unguessable, so safe in URLs. */
export const SessionId = textSchema(sessionIdRule, "SessionId").pipe(Schema.brand("SessionId"))
export type SessionId = typeof SessionId.Type

/** The user, tenant or client that owns sessions: 1-128 visible ASCII characters. */
export const OwnerId = textSchema(ownerIdRule, "OwnerId").pipe(Schema.brand("OwnerId"))
export type OwnerId = typeof OwnerId.Type

/** A session's name: 1-64 of `[A-Za-z0-9_-]`, unique per owner among sessions that have not ended. */
export const SessionName = textSchema(sessionNameRule, "SessionName").pipe(Schema.brand("SessionName"))
export type SessionName = typeof SessionName.Type

/** A free label for what a session is ("chat", "agent-run", "terminal"): 1-64 printable ASCII characters. */
export const SessionKind = textSchema(sessionKindRule, "SessionKind").pipe(Schema.brand("SessionKind"))
export type SessionKind = typeof SessionKind.Type

/** Validates a session id given by a caller. */
export const validateSessionId = (value: unknown, field = "id"): Either.Either<SessionId, InvalidInput> =>
  checkText<SessionId>(sessionIdRule, field, value)

/** Validates an owner id given by a caller. */
export const validateOwnerId = (value: unknown, field = "owner"): Either.Either<OwnerId, InvalidInput> =>
  checkText<OwnerId>(ownerIdRule, field, value)

/** Validates a session name given by a caller. */
export const validateSessionName = (value: unknown, field = "name"): Either.Either<SessionName, InvalidInput> =>
  checkText<SessionName>(sessionNameRule, field, value)

/** Validates a session kind given by a caller. */
export const validateSessionKind = (value: unknown, field = "kind"): Either.Either<SessionKind, InvalidInput> =>
  checkText<SessionKind>(sessionKindRule, field, value)

const ID_BYTES = 16
// Random bytes are drawn from the CSPRNG in blocks: one system call serves 256 ids.
const POOL_BYTES = ID_BYTES * 256
let pool = new Uint8Array(0)
let poolOffset = 0

const randomIdBytes = (): Uint8Array => {
  if (poolOffset + ID_BYTES > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES))
    poolOffset = 0
  }
  const bytes = pool.subarray(poolOffset, poolOffset + ID_BYTES)
  poolOffset += ID_BYTES
  return bytes
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
const digits: ReadonlyArray<number> = Array.from(alphabet, (c) => c.charCodeAt(0))

/** 16 bytes in unpadded base64url: 22 characters. */
const encodeId = (b: Uint8Array): string => {
  const out = new Array<number>(22)
  let o = 0
  for (let i = 0; i < 15; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!
    out[o++] = digits[n >>> 18]!
    out[o++] = digits[(n >>> 12) & 63]!
    out[o++] = digits[(n >>> 6) & 63]!
    out[o++] = digits[n & 63]!
  }
  out[20] = digits[b[15]! >>> 2]!
  out[21] = digits[(b[15]! & 3) << 4]!
  return String.fromCharCode(...out)
}

/** A fresh session id from 128 CSPRNG bits (Web Crypto `getRandomValues`). */
export const makeSessionId = (): SessionId => {
  // Never a leading "-": a command line would read such an id as an option (`effect-sessions close -Nv…`). Drawing
  // again when it happens keeps every other id equally likely and costs 0.02 of its 128 random bits.
  for (;;) {
    const id = encodeId(randomIdBytes())
    if (!id.startsWith("-")) return id as SessionId
  }
}

/** A fresh session id, as an effect. */
export const generateSessionId: Effect.Effect<SessionId> = Effect.sync(makeSessionId)

/** The default kind of a session created without one. */
export const defaultKind = "default" as SessionKind

/** Whether `value` is a well-formed owner id. */
export const isOwnerId = (value: unknown): value is OwnerId =>
  typeof value === "string" && ownerIdRule.pattern.test(value)

/** Whether each character code below 128 is one of base64url's 64. */
const base64UrlCodes: ReadonlyArray<boolean> = Array.from(
  { length: 128 },
  (_, code) => alphabet.includes(String.fromCharCode(code))
)

/**
 * Whether `value` is a well-formed session id (for routing and lookups that must not throw): exactly what
 * `sessionIdRule.pattern` accepts, checked character by character, since every call on a session checks its id.
 */
export const isSessionId = (value: unknown): value is SessionId => {
  if (typeof value !== "string" || value.length !== 22) return false
  for (let i = 0; i < 21; i++) {
    if (base64UrlCodes[value.charCodeAt(i)] !== true) return false
  }
  // The 22nd character carries only 2 bits: A, Q, g or w.
  const last = value.charCodeAt(21)
  return last === 65 || last === 81 || last === 103 || last === 119
}
