/**
 * Verification of bearer tokens: the checks of `verifyToken` (signature, time claims, issuer, audience, subject),
 * and a bounded memory of the tokens already verified, so a caller presenting the same token on every request has
 * its signature checked once.
 */
import { Clock, Duration, Effect, Either } from "effect"
import { type JWTPayload, jwtVerify } from "jose"
import * as Crypto from "node:crypto"
import { formatDuration } from "../../../domain/Config.js"
import { validateOwnerId } from "../../../domain/Ids.js"
import type { Principal, SigningKey } from "../Auth.js"
import type { ServiceConfig } from "../ServiceConfig.js"

const reasonOf = (error: unknown) => error instanceof Error ? error.message : String(error)

/** Why a token was refused, in words safe to return to the caller (never the token itself). */
export type TokenRefusal = string

/** What a token is checked against besides its signature. */
export type TokenChecks = Pick<ServiceConfig, "jwtIssuer" | "jwtAudience" | "jwtMaxLifetime" | "jwtClockSkew">

/** A token's time claims as they came (`timingRefusal` checks their types). */
type TimeClaims = { readonly [claim in "exp" | "iat" | "nbf"]?: unknown }

/**
 * Why a token's time claims are refused at `now` (epoch milliseconds), or nothing: each of `exp`, `iat` and `nbf`
 * present is a finite number; `exp` is present and not passed; `iat` and `nbf` are at most `jwtClockSkew` ahead;
 * `exp` is at most `jwtMaxLifetime` after `iat` (after now when there is none).
 */
const timingRefusal = (claims: TimeClaims, now: number, checks: TokenChecks): TokenRefusal | undefined => {
  const millis: Partial<Record<keyof TimeClaims, number>> = {}
  for (const claim of ["exp", "iat", "nbf"] as const) {
    const value = claims[claim]
    if (value === undefined) continue
    if (typeof value !== "number" || !Number.isFinite(value)) return `the token's ${claim} is not a finite number`
    millis[claim] = value * 1000
  }
  const { exp, iat, nbf } = millis
  const [skew, max] = [Duration.toMillis(checks.jwtClockSkew), Duration.toMillis(checks.jwtMaxLifetime)]
  if (exp === undefined) return "the token has no expiry (exp)"
  if (exp <= now) return "the token has expired"
  if (iat !== undefined && iat > now + skew) return "the token was issued in the future (iat ahead of the clock)"
  if (nbf !== undefined && nbf > now + skew) return "the token is not valid yet (nbf)"
  if (exp - (iat ?? now) > max) {
    return `the token is valid for longer than the ${formatDuration(checks.jwtMaxLifetime)} allowed`
  }
  return undefined
}

/** Words for a failure of `jose`'s verification. */
const joseRefusal = (error: unknown): TokenRefusal => {
  const { claim, code, reason }: Record<string, unknown> = Object.assign({}, error)
  if (code === "ERR_JWT_EXPIRED") return "the token has expired"
  if (code !== "ERR_JWT_CLAIM_VALIDATION_FAILED") return "the token is not valid"
  if (reason === "invalid") return `the token's ${String(claim)} is not a number`
  if (claim === "nbf") return "the token is not valid yet (nbf)"
  return `the token's claims are not accepted (${reasonOf(error)})`
}

/**
 * The principal of a bearer token: HS256 signature, `exp` present and not passed (by `Clock`), the time claims
 * within `jwtClockSkew` and `jwtMaxLifetime`, `iss` and `aud` as configured, `sub` a valid owner id. Fails with why,
 * in words.
 */
export const verifyToken = (
  key: SigningKey,
  checks: TokenChecks,
  token: string
): Effect.Effect<Principal, TokenRefusal> =>
  Effect.flatMap(
    Clock.currentTimeMillis,
    (now) => Effect.map(verifyClaims(key, checks, token, now), (v) => v.principal)
  )

/** `verifyToken` at `now` (epoch milliseconds), with the claims it verified. */
const verifyClaims = (
  key: SigningKey,
  checks: TokenChecks,
  token: string,
  now: number
): Effect.Effect<{ readonly principal: Principal; readonly payload: JWTPayload }, TokenRefusal> =>
  Effect.tryPromise({
    try: () =>
      jwtVerify(token, key.key, {
        algorithms: ["HS256"],
        requiredClaims: ["exp", "sub"],
        currentDate: new Date(now),
        // jose allows one tolerance for nbf and exp alike; `timingRefusal` then judges exp strictly.
        clockTolerance: Math.floor(Duration.toSeconds(checks.jwtClockSkew)),
        ...(checks.jwtIssuer === null ? {} : { issuer: checks.jwtIssuer }),
        ...(checks.jwtAudience === null ? {} : { audience: checks.jwtAudience })
      }),
    catch: joseRefusal
  }).pipe(
    Effect.flatMap(({ payload }) => {
      const refusal = timingRefusal(payload, now, checks)
      if (refusal !== undefined) return Effect.fail(refusal)
      return Either.match(validateOwnerId(payload.sub), {
        onLeft: () => Effect.fail("the token's subject is not a valid owner id"),
        onRight: (subject) => Effect.succeed({ principal: { subject, admin: payload.admin === true }, payload })
      })
    })
  )

/** Tokens already verified (see `verifiedTokens`). */
export interface VerifiedTokens {
  /**
   * The principal of `token` if it was verified before and its time claims still pass at `now` (epoch
   * milliseconds); `undefined` otherwise (never verified, forgotten, or refused now: `verify` then says why).
   */
  readonly known: (token: string, now: number) => Principal | undefined
  /** `verifyToken` at `now`, remembering the token when it passes. */
  readonly verify: (token: string, now: number) => Effect.Effect<Principal, TokenRefusal>
}

/**
 * A bounded memory of verified tokens: a caller presents the same bearer token on every request, and checking its
 * HMAC again (asynchronously, through WebCrypto) costs more than the rest of a typical request. A remembered token is
 * found by its exact text only, so a changed signature or claim is verified anew; entries are keyed by the SHA-256
 * digest of the text, so a lookup never compares a caller's text with a valid token's character by character (its
 * timing tells nothing about a valid token: a digest cannot be steered toward another's). The time claims of a remembered token are judged at every use by the
 * same rules as `verifyToken` (a token refused so is forgotten), and the oldest entry is forgotten past `capacity`.
 */
export const verifiedTokens = (key: SigningKey, checks: TokenChecks, capacity: number): VerifiedTokens => {
  const digest = (token: string) => Crypto.createHash("sha256").update(token).digest("base64")
  const verified = new Map<string, { readonly principal: Principal; readonly claims: TimeClaims }>()
  const refusalOf = (id: string, now: number): TokenRefusal | undefined => {
    const known = verified.get(id)
    if (known === undefined) return undefined
    const refusal = timingRefusal(known.claims, now, checks)
    if (refusal !== undefined) verified.delete(id)
    return refusal
  }
  return {
    known: (token, now) => {
      const id = digest(token)
      const known = verified.get(id)
      return known !== undefined && timingRefusal(known.claims, now, checks) === undefined ? known.principal : undefined
    },
    verify: (token, now) => {
      const id = digest(token)
      const refusal = refusalOf(id, now)
      if (refusal !== undefined) return Effect.fail(refusal)
      const known = verified.get(id)
      if (known !== undefined) return Effect.succeed(known.principal)
      return Effect.map(verifyClaims(key, checks, token, now), ({ payload: { exp, iat, nbf }, principal }) => {
        if (verified.size >= capacity) verified.delete(verified.keys().next().value!)
        verified.set(id, { principal, claims: { exp, iat, nbf } })
        return principal
      })
    }
  }
}

/** `verifyToken` with a memory of verified tokens (see `verifiedTokens`), at most `capacity` of them. */
export const cachedVerifier = (key: SigningKey, checks: TokenChecks, capacity = 10_000) => {
  const memory = verifiedTokens(key, checks, capacity)
  return (token: string): Effect.Effect<Principal, TokenRefusal> =>
    Effect.clockWith((clock) => memory.verify(token, clock.unsafeCurrentTimeMillis()))
}
