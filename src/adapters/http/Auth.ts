/**
 * Authentication of the HTTP service: the JWT secret (checked for strength; generated on the service's first start,
 * only ever read for minting), bearer tokens verified with `jose` (HS256, `exp` required, time claims within the
 * clock skew and the longest lifetime, `iss`/`aud` when configured), and tokens minted for operators.
 * A token's `sub` is the owner it acts for; `"admin": true` opens `/admin`.
 */
import { Clock, Config, Duration, Effect, Either, Option, Redacted, Schema } from "effect"
import { SignJWT } from "jose"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { InvalidConfig } from "../../domain/Errors.js"
import type { OwnerId } from "../../domain/Ids.js"
import type { TokenChecks } from "./internal/tokens.js"
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
  const bits = entropyBits(secret)
  return bits < 128 ? `it looks like about ${Math.floor(bits)} bits of randomness; 128 are needed` : undefined
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

/** Where a key came from, in words safe to print (the variable's name or the file's path, never the secret). */
export const describeSource = (source: SecretSource): string =>
  source._tag === "Environment" ? secretVariable : `the secret in ${Path.resolve(source.file)}`

/** What the configured secret is: found, unusable (too weak, or unreadable: `reason` says which), or missing. */
export type SecretReading =
  | { readonly _tag: "Found"; readonly key: SigningKey }
  | { readonly _tag: "Unusable"; readonly source: SecretSource; readonly reason: string; readonly weak: boolean }
  | { readonly _tag: "Missing"; readonly file: string }

/** No secret to sign tokens with: the variable is unset and the data directory has no secret file. */
export class SigningKeyMissing extends Schema.TaggedError<SigningKeyMissing>()("SigningKeyMissing", {
  file: Schema.String
}) {
  override get message() {
    const file = Path.resolve(this.file)
    return `no token signing secret: ${secretVariable} is not set and ${file} does not exist; start the service ` +
      `once (it generates that file), or set ${secretVariable}, or SESSIONS_DATA_DIR to the service's data directory`
  }
}

const invalid = (field: string, reason: string) => new InvalidConfig({ issues: [{ field, reason }] })

const checked = (secret: string, source: SecretSource): SecretReading => {
  const weakness = secretWeakness(secret)
  if (weakness === undefined) return { _tag: "Found", key: { key: Buffer.from(secret, "utf8"), source } }
  const reason = `${source._tag === "Environment" ? "" : `the secret in ${source.file} `}is too weak: ${weakness}`
  return { _tag: "Unusable", source, reason, weak: true }
}

const reasonOf = (error: unknown) => error instanceof Error ? error.message : String(error)

/**
 * Reads the secret from `SESSIONS_JWT_SECRET`, else from the secret file in the data directory, and checks its
 * strength. Creates and changes nothing: `Missing` when there is neither.
 */
export const readSecret = (config: Pick<ServiceConfig, "dataDir">): Effect.Effect<SecretReading> =>
  Effect.map(Effect.either(Config.option(Config.redacted(secretVariable))), (fromEnv): SecretReading => {
    const source = { _tag: "Environment" } as const
    if (Either.isLeft(fromEnv)) return { _tag: "Unusable", source, reason: reasonOf(fromEnv.left), weak: false }
    if (Option.isSome(fromEnv.right)) return checked(Redacted.value(fromEnv.right.value), source)
    const file = secretFile(config.dataDir)
    try {
      if (!Fs.existsSync(file)) return { _tag: "Missing", file }
      return checked(Fs.readFileSync(file, "utf8").trim(), { _tag: "File", file })
    } catch (error) {
      return { _tag: "Unusable", source: { _tag: "File", file }, reason: reasonOf(error), weak: false }
    }
  })

/** The key of a secret that was found, or `InvalidConfig` for one that is weak or unreadable. */
const usable = (reading: Exclude<SecretReading, { _tag: "Missing" }>): Effect.Effect<SigningKey, InvalidConfig> =>
  reading._tag === "Found"
    ? Effect.succeed(reading.key)
    : Effect.fail(invalid(secretVariable, reading.weak ? `${reading.reason}; ${howToGenerate}` : reading.reason))

/**
 * The service's signing key: `readSecret`'s, else a new random secret written to the data directory (mode 0600) on
 * first start. A weak secret fails `InvalidConfig` saying how to make a good one; so does a secret file that cannot
 * be read or written.
 */
export const loadSigningKey = (config: ServiceConfig): Effect.Effect<SigningKey, InvalidConfig> =>
  Effect.flatMap(readSecret(config), (reading) =>
    reading._tag !== "Missing" ? usable(reading) : Effect.try({
      try: (): SigningKey => {
        Fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
        const secret = Crypto.randomBytes(32).toString("base64url")
        Fs.writeFileSync(reading.file, `${secret}\n`, { mode: 0o600, flag: "wx" })
        return { key: Buffer.from(secret, "utf8"), source: { _tag: "Generated", file: reading.file } }
      },
      catch: (error) => invalid(secretVariable, reasonOf(error))
    }))

/**
 * The key to mint tokens with: `readSecret`'s, never a new one (a new secret would sign tokens the service refuses).
 * Fails `SigningKeyMissing` when there is none, `InvalidConfig` when it is weak or unreadable.
 */
export const existingSigningKey = (
  config: Pick<ServiceConfig, "dataDir">
): Effect.Effect<SigningKey, InvalidConfig | SigningKeyMissing> =>
  Effect.gen(function*() {
    const reading = yield* readSecret(config)
    return reading._tag === "Missing" ? yield* new SigningKeyMissing({ file: reading.file }) : yield* usable(reading)
  })

/** Whether a secret file can be read by others than its owner (never on Windows, where modes do not apply). */
export const secretFileExposed = (file: string): boolean =>
  process.platform !== "win32" && Fs.existsSync(file) && (Fs.statSync(file).mode & 0o077) !== 0

export { cachedVerifier, type TokenChecks, type TokenRefusal, verifyToken } from "./internal/tokens.js"

/** A token for `owner` (an admin one with `admin`), valid for `ttl` from now by `Clock`. */
export const mintToken = (
  key: SigningKey,
  config: Pick<TokenChecks, "jwtIssuer" | "jwtAudience">,
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
