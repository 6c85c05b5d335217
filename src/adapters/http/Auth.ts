/**
 * Authentication of the HTTP service: the JWT secret (checked for strength, or generated on first start), bearer
 * tokens verified with `jose` (HS256, `exp` required, `iss`/`aud` when configured), and tokens minted for operators.
 * A token's `sub` is the owner it acts for; `"admin": true` opens `/admin`.
 */
import { Clock, Config, Duration, Effect, Either, Option, Redacted } from "effect"
import { type JWTPayload, jwtVerify, SignJWT } from "jose"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { InvalidConfig } from "../../domain/Errors.js"
import { type OwnerId, validateOwnerId } from "../../domain/Ids.js"
import type { ServiceConfig } from "./ServiceConfig.js"

/** Who a request comes from: the token's subject, and whether it may use `/admin`. */
export interface Principal {
  readonly subject: OwnerId
  readonly admin: boolean
}

/** The environment variable holding the JWT secret. */
export const secretVariable = "SESSIONS_JWT_SECRET"

/** The file, in the data directory, that holds a generated secret. */
export const secretFile = (dataDir: string) => Path.join(dataDir, "jwt-secret")

/** How to make a good secret, for error messages. */
export const howToGenerate =
  "generate one with: node -e \"console.log(require('node:crypto').randomBytes(32).toString('base64url'))\""

const weakWords = ["secret", "password", "passwd", "changeme", "change-me", "example", "default", "qwerty", "letmein"]

/** Estimated bits of entropy of `text`, from its character frequencies (Shannon). */
const entropyBits = (text: string): number => {
  const counts = new Map<string, number>()
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1)
  let bits = 0
  for (const n of counts.values()) bits -= n * Math.log2(n / text.length)
  return bits
}

/** The longest run of characters each one code point above the previous ("abcd", "1234"). */
const longestSequence = (text: string): number => {
  let longest = 1
  let run = 1
  for (let i = 1; i < text.length; i++) {
    run = text.charCodeAt(i) === text.charCodeAt(i - 1) + 1 ? run + 1 : 1
    longest = Math.max(longest, run)
  }
  return longest
}

/**
 * Why `secret` is not good enough to sign tokens, or nothing: it must be at least 32 bytes, hold no common word,
 * and look random (at least 128 bits by its character frequencies, at least 10 distinct characters, no long runs).
 */
export const secretWeakness = (secret: string): string | undefined => {
  const bytes = Buffer.byteLength(secret, "utf8")
  if (bytes < 32) return `it is ${bytes} bytes long; at least 32 are needed`
  const lower = secret.toLowerCase()
  const word = weakWords.find((w) => lower.includes(w))
  if (word !== undefined) return `it contains the common word "${word}"`
  if (new Set(secret).size < 10) return "it uses fewer than 10 distinct characters"
  if (longestSequence(secret) >= 8) return "it contains a long run like abcdefgh or 12345678"
  if (entropyBits(secret) < 128) {
    return `it looks like about ${Math.floor(entropyBits(secret))} bits of randomness; 128 are needed`
  }
  return undefined
}

/** Where the secret in use came from. */
export type SecretSource =
  | { readonly _tag: "Environment" }
  | { readonly _tag: "File"; readonly file: string }
  | { readonly _tag: "Generated"; readonly file: string }

/** The key that signs and verifies tokens, and where it came from. */
export interface SigningKey {
  readonly key: Uint8Array
  readonly source: SecretSource
}

const invalid = (field: string, reason: string) => new InvalidConfig({ issues: [{ field, reason }] })

/**
 * The signing key: from `SESSIONS_JWT_SECRET`, else from the secret file in the data directory, else a new random
 * secret written there (mode 0600) on first start. A weak secret fails `InvalidConfig` saying how to make a good one;
 * so does a secret file that cannot be read or written.
 */
export const loadSigningKey = (config: ServiceConfig): Effect.Effect<SigningKey, InvalidConfig> =>
  Effect.gen(function*() {
    const fromEnv = yield* Config.option(Config.redacted(secretVariable)).pipe(
      Effect.mapError((error) => invalid(secretVariable, String(error)))
    )
    if (Option.isSome(fromEnv)) {
      const secret = Redacted.value(fromEnv.value)
      const weakness = secretWeakness(secret)
      if (weakness !== undefined) {
        return yield* Effect.fail(invalid(secretVariable, `is too weak: ${weakness}; ${howToGenerate}`))
      }
      return { key: Buffer.from(secret, "utf8"), source: { _tag: "Environment" } }
    }
    const file = secretFile(config.dataDir)
    return yield* Effect.try({
      try: (): SigningKey => {
        if (Fs.existsSync(file)) {
          const secret = Fs.readFileSync(file, "utf8").trim()
          const weakness = secretWeakness(secret)
          if (weakness !== undefined) {
            throw new Error(`the secret in ${file} is too weak: ${weakness}; ${howToGenerate}`)
          }
          return { key: Buffer.from(secret, "utf8"), source: { _tag: "File", file } }
        }
        Fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
        const secret = Crypto.randomBytes(32).toString("base64url")
        Fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: "wx" })
        return { key: Buffer.from(secret, "utf8"), source: { _tag: "Generated", file } }
      },
      catch: (error) => invalid(secretVariable, error instanceof Error ? error.message : String(error))
    })
  })

/** Whether a secret file can be read by others than its owner (never on Windows, where modes do not apply). */
export const secretFileExposed = (file: string): boolean =>
  process.platform !== "win32" && Fs.existsSync(file) && (Fs.statSync(file).mode & 0o077) !== 0

/** Why a token was refused, in words safe to return to the caller (never the token itself). */
export type TokenRefusal = string

/**
 * The principal of a bearer token: HS256 signature, `exp` present and not passed (by `Clock`), `iss` and `aud` as
 * configured, `sub` a valid owner id. Fails with why, in words.
 */
export const verifyToken = (
  key: SigningKey,
  config: Pick<ServiceConfig, "jwtIssuer" | "jwtAudience">,
  token: string
): Effect.Effect<Principal, TokenRefusal> => Effect.map(verifyClaims(key, config, token), ({ principal }) => principal)

/** `verifyToken`, with the claims it verified. */
const verifyClaims = (
  key: SigningKey,
  config: Pick<ServiceConfig, "jwtIssuer" | "jwtAudience">,
  token: string
): Effect.Effect<{ readonly principal: Principal; readonly payload: JWTPayload }, TokenRefusal> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.tryPromise({
      try: () =>
        jwtVerify(token, key.key, {
          algorithms: ["HS256"],
          requiredClaims: ["exp", "sub"],
          currentDate: new Date(now),
          ...(config.jwtIssuer === null ? {} : { issuer: config.jwtIssuer }),
          ...(config.jwtAudience === null ? {} : { audience: config.jwtAudience })
        }),
      catch: (error) => {
        const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
        return code === "ERR_JWT_EXPIRED"
          ? "the token has expired"
          : code === "ERR_JWT_CLAIM_VALIDATION_FAILED"
          ? `the token's claims are not accepted (${(error as Error).message})`
          : "the token is not valid"
      }
    }).pipe(
      Effect.flatMap(({ payload }) =>
        Either.match(validateOwnerId(payload.sub), {
          onLeft: () => Effect.fail("the token's subject is not a valid owner id"),
          onRight: (subject) => Effect.succeed({ principal: { subject, admin: payload.admin === true }, payload })
        })
      )
    ))

/**
 * `verifyToken` with a bounded memory of tokens already verified: a caller presents the same bearer token on every
 * request, and checking its HMAC again (asynchronously, through WebCrypto) costs more than the rest of a typical
 * request. A remembered token is only its exact text, so a changed signature or claim is verified anew; its expiry
 * is checked against `Clock` at every use, and the oldest entry is forgotten past `capacity`.
 */
export const cachedVerifier = (
  key: SigningKey,
  config: Pick<ServiceConfig, "jwtIssuer" | "jwtAudience">,
  capacity = 10_000
) => {
  const verified = new Map<string, { readonly principal: Principal; readonly expiresAt: number }>()
  const remember = (token: string, principal: Principal, expiresAt: number) => {
    if (verified.size >= capacity) verified.delete(verified.keys().next().value!)
    verified.set(token, { principal, expiresAt })
  }
  return (token: string): Effect.Effect<Principal, TokenRefusal> =>
    Effect.clockWith((clock) => {
      const known = verified.get(token)
      if (known !== undefined) {
        if (clock.unsafeCurrentTimeMillis() < known.expiresAt) return Effect.succeed(known.principal)
        verified.delete(token)
      }
      return Effect.tap(verifyClaims(key, config, token), ({ payload, principal }) => {
        if (payload.nbf === undefined && typeof payload.exp === "number") remember(token, principal, payload.exp * 1000)
      }).pipe(Effect.map(({ principal }) => principal))
    })
}

/** A token for `owner` (an admin one with `admin`), valid for `ttl` from now by `Clock`. */
export const mintToken = (
  key: SigningKey,
  config: Pick<ServiceConfig, "jwtIssuer" | "jwtAudience">,
  claims: { readonly owner: OwnerId; readonly admin: boolean; readonly ttl: Duration.Duration }
): Effect.Effect<string> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const seconds = Math.floor(now / 1000)
    let jwt = new SignJWT(claims.admin ? { admin: true } : {})
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(claims.owner)
      .setIssuedAt(seconds)
      .setExpirationTime(seconds + Math.ceil(Duration.toSeconds(claims.ttl)))
    if (config.jwtIssuer !== null) jwt = jwt.setIssuer(config.jwtIssuer)
    if (config.jwtAudience !== null) jwt = jwt.setAudience(config.jwtAudience)
    return Effect.promise(() => jwt.sign(key.key))
  })
