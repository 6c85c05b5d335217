import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, TestClock } from "effect"
import { SignJWT } from "jose"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  cachedVerifier,
  describeSource,
  existingSigningKey,
  loadSigningKey,
  mintToken,
  secretFile,
  secretFileExposed,
  secretWeakness,
  type SigningKey,
  verifyToken
} from "../../src/adapters/http/Auth.js"
import { defaultServiceConfig } from "../../src/adapters/http/ServiceConfig.js"
import type { OwnerId } from "../../src/index.js"
import { tempDir } from "../support/sqlite.js"

const strong = Crypto.randomBytes(32).toString("base64url")
const key: SigningKey = { key: Buffer.from(strong), source: { _tag: "Environment" } }
const open = {
  jwtIssuer: null,
  jwtAudience: null,
  jwtMaxLifetime: defaultServiceConfig.jwtMaxLifetime,
  jwtClockSkew: defaultServiceConfig.jwtClockSkew
}
const env = (vars: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars))))

describe("the JWT secret", () => {
  it("accepts random secrets and refuses short, common, repetitive or sequential ones", () => {
    expect(secretWeakness(strong)).toBeUndefined()
    expect(secretWeakness(Crypto.randomBytes(32).toString("hex"))).toBeUndefined()
    expect(secretWeakness("short")).toContain("5 bytes long; at least 32")
    expect(secretWeakness("my-super-long-jwt-secret-for-production-use")).toContain("\"secret\"")
    expect(secretWeakness("abababababababababababababababababab")).toContain("fewer than 10 distinct")
    expect(secretWeakness("abcdefghijklmnopqrstuvwxyz0123456789")).toContain("long run")
    expect(secretWeakness("aaaaaaaaaabbbbbbbbbbccddeeffgghhiijj")).toContain("bits of randomness")
  })

  it.scoped("comes from SESSIONS_JWT_SECRET, and a weak one stops the start with how to make a good one", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const config = { ...defaultServiceConfig, dataDir: dir }
      const loaded = yield* loadSigningKey(config).pipe(env({ SESSIONS_JWT_SECRET: strong }))
      expect(loaded.source._tag).toBe("Environment")
      expect(Buffer.from(loaded.key).toString()).toBe(strong)
      const error = yield* Effect.flip(loadSigningKey(config).pipe(env({ SESSIONS_JWT_SECRET: "changeme" })))
      expect(error._tag).toBe("InvalidConfig")
      expect(error.message).toContain("SESSIONS_JWT_SECRET: is too weak")
      expect(error.message).toContain("randomBytes(32)")
      expect(error.message).not.toContain("changeme\"")
      expect(Fs.existsSync(secretFile(dir))).toBe(false)
    }))

  it.scoped("is generated on first start into the data directory, readable by its owner only, then reused", () =>
    Effect.gen(function*() {
      const dir = Path.join(yield* tempDir, "data")
      const config = { ...defaultServiceConfig, dataDir: dir }
      const first = yield* loadSigningKey(config).pipe(env({}))
      expect(first.source).toEqual({ _tag: "Generated", file: secretFile(dir) })
      expect(secretWeakness(Buffer.from(first.key).toString())).toBeUndefined()
      if (process.platform !== "win32") {
        expect(Fs.statSync(secretFile(dir)).mode & 0o777).toBe(0o600)
        // A data directory the service creates is its owner's alone too (the database goes there).
        expect(Fs.statSync(dir).mode & 0o777).toBe(0o700)
      }
      expect(secretFileExposed(secretFile(dir))).toBe(false)
      const second = yield* loadSigningKey(config).pipe(env({}))
      expect(second.source._tag).toBe("File")
      expect(Buffer.from(second.key)).toEqual(Buffer.from(first.key))
      if (process.platform !== "win32") {
        Fs.chmodSync(secretFile(dir), 0o644)
        expect(secretFileExposed(secretFile(dir))).toBe(true)
      }
      Fs.writeFileSync(secretFile(dir), "password1234567890password1234567890")
      expect((yield* Effect.flip(loadSigningKey(config).pipe(env({})))).message).toContain("too weak")
    }))
  it.scoped("is only read for minting: never created, and where it came from is said without the secret", () =>
    Effect.gen(function*() {
      const dir = Path.join(yield* tempDir, "data")
      const config = { ...defaultServiceConfig, dataDir: dir }
      const missing = yield* Effect.flip(existingSigningKey(config).pipe(env({})))
      expect(missing._tag).toBe("SigningKeyMissing")
      expect(missing.message).toContain(Path.resolve(secretFile(dir)))
      expect(missing.message).toContain("SESSIONS_JWT_SECRET")
      expect(missing.message).toContain("SESSIONS_DATA_DIR")
      expect(missing.message).toContain("start the service once")
      expect(missing.message).not.toContain("\n")
      expect(Fs.existsSync(dir)).toBe(false)

      const fromEnv = yield* existingSigningKey(config).pipe(env({ SESSIONS_JWT_SECRET: strong }))
      expect(describeSource(fromEnv.source)).toBe("SESSIONS_JWT_SECRET")
      expect(Fs.existsSync(dir)).toBe(false)
      const weak = yield* Effect.flip(existingSigningKey(config).pipe(env({ SESSIONS_JWT_SECRET: "changeme" })))
      expect(weak.message).toContain("too weak")

      const generated = yield* loadSigningKey(config).pipe(env({}))
      const read = yield* existingSigningKey(config).pipe(env({}))
      expect(read.source).toEqual({ _tag: "File", file: secretFile(dir) })
      expect(Buffer.from(read.key)).toEqual(Buffer.from(generated.key))
      const said = describeSource(read.source)
      expect(said).toContain(Path.resolve(secretFile(dir)))
      expect(said).not.toContain(Buffer.from(read.key).toString())
    }))
})

describe("tokens", () => {
  it.effect("a minted token verifies to its owner and admin flag", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(Duration.days(20_000))
      const token = yield* mintToken(key, open, { owner: "alice" as OwnerId, admin: true, ttl: Duration.hours(1) })
      expect(yield* verifyToken(key, open, token)).toEqual({ subject: "alice", admin: true })
      const plain = yield* mintToken(key, open, { owner: "bob" as OwnerId, admin: false, ttl: Duration.hours(1) })
      expect(yield* verifyToken(key, open, plain)).toEqual({ subject: "bob", admin: false })
    }))

  it.effect("expiry is judged by Clock: valid until exp, refused after", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(Duration.days(20_000))
      const token = yield* mintToken(key, open, { owner: "alice" as OwnerId, admin: false, ttl: Duration.minutes(5) })
      yield* TestClock.adjust("4 minutes")
      yield* verifyToken(key, open, token)
      yield* TestClock.adjust("2 minutes")
      expect(yield* Effect.flip(verifyToken(key, open, token))).toBe("the token has expired")
    }))

  it.effect("a remembered token still expires by Clock, and any other text is verified anew", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(Duration.days(20_000))
      const verify = cachedVerifier(key, open, 2)
      const token = yield* mintToken(key, open, { owner: "alice" as OwnerId, admin: false, ttl: Duration.minutes(5) })
      expect(yield* verify(token)).toEqual({ subject: "alice", admin: false })
      expect(yield* verify(token)).toEqual({ subject: "alice", admin: false })
      // A forged signature on the same claims is not the remembered text.
      const [header, body] = token.split(".")
      expect(yield* Effect.flip(verify(`${header}.${body}.${"A".repeat(43)}`))).toBe("the token is not valid")
      // More tokens than the capacity: the oldest is forgotten and verified again when it comes back.
      for (const owner of ["bob", "carol", "dave"]) {
        const other = yield* mintToken(key, open, { owner: owner as OwnerId, admin: true, ttl: Duration.hours(1) })
        expect(yield* verify(other)).toEqual({ subject: owner, admin: true })
      }
      expect(yield* verify(token)).toEqual({ subject: "alice", admin: false })
      yield* TestClock.adjust("6 minutes")
      expect(yield* Effect.flip(verify(token))).toBe("the token has expired")
    }))

  it.effect("refuses forged, unsigned, wrong-issuer, expiry-less and subject-less tokens", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(Duration.days(20_000))
      const now = Math.floor(Duration.toSeconds(Duration.days(20_000)))
      const other: SigningKey = { key: Crypto.randomBytes(32), source: { _tag: "Environment" } }
      const forged = yield* mintToken(other, open, { owner: "alice" as OwnerId, admin: true, ttl: Duration.hours(1) })
      expect(yield* Effect.flip(verifyToken(key, open, forged))).toBe("the token is not valid")
      const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")
      const body = Buffer.from(JSON.stringify({ sub: "alice", admin: true, exp: now + 60 })).toString("base64url")
      expect(yield* Effect.flip(verifyToken(key, open, `${header}.${body}.`))).toBe("the token is not valid")
      const scoped = { ...open, jwtIssuer: "https://auth.example.com", jwtAudience: "sessions" }
      const unscoped = yield* mintToken(key, open, { owner: "alice" as OwnerId, admin: false, ttl: Duration.hours(1) })
      expect(yield* Effect.flip(verifyToken(key, scoped, unscoped))).toContain("claims are not accepted")
      const right = yield* mintToken(key, scoped, { owner: "alice" as OwnerId, admin: false, ttl: Duration.hours(1) })
      expect((yield* verifyToken(key, scoped, right)).subject).toBe("alice")
      const sign = (claims: Record<string, unknown>) =>
        Effect.promise(() => new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(key.key))
      expect(yield* Effect.flip(verifyToken(key, open, yield* sign({ sub: "alice" })))).toContain("claims")
      expect(yield* Effect.flip(verifyToken(key, open, yield* sign({ exp: now + 60 })))).toContain("claims")
      expect(yield* Effect.flip(verifyToken(key, open, yield* sign({ sub: "has space", exp: now + 60 })))).toBe(
        "the token's subject is not a valid owner id"
      )
      expect(yield* Effect.flip(verifyToken(key, open, "not.a.token"))).toBe("the token is not valid")
    }))
})

/** A token signed with `key` over exactly `payload` (JSON text), so claims jose would never write can be tested. */
const rawToken = (payload: string) => {
  const header = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url")
  const body = `${header}.${Buffer.from(payload).toString("base64url")}`
  return `${body}.${Crypto.createHmac("sha256", key.key).update(body).digest("base64url")}`
}

describe("token time claims", () => {
  const start = Duration.toMillis(Duration.days(20_000))
  const now = Math.floor(start / 1000)
  const day = 86_400
  const refusal = (token: string) => Effect.flip(verifyToken(key, open, token))

  it.effect("refuses an iat or nbf ahead of the clock by more than the skew, and accepts one within it", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const ahead = rawToken(JSON.stringify({ sub: "alice", iat: now + 365 * day, exp: now + 366 * day }))
      const reason = yield* refusal(ahead)
      expect(reason).toContain("issued in the future")
      expect(reason).not.toContain(ahead)
      expect(yield* refusal(rawToken(JSON.stringify({ sub: "alice", iat: now + 120, exp: now + 3600 })))).toContain(
        "issued in the future"
      )
      const within = rawToken(JSON.stringify({ sub: "alice", iat: now + 30, exp: now + 3600 }))
      expect(yield* verifyToken(key, open, within)).toEqual({ subject: "alice", admin: false })
      expect(yield* refusal(rawToken(JSON.stringify({ sub: "alice", nbf: now + 120, exp: now + 3600 })))).toContain(
        "not valid yet"
      )
      const nbfWithin = rawToken(JSON.stringify({ sub: "alice", nbf: now + 30, exp: now + 3600 }))
      expect((yield* verifyToken(key, open, nbfWithin)).subject).toBe("alice")
      // The skew is a setting: with none, a token issued a second ahead is refused.
      const strict = { ...open, jwtClockSkew: Duration.zero }
      const second = rawToken(JSON.stringify({ sub: "alice", iat: now + 1, exp: now + 3600 }))
      expect(yield* Effect.flip(verifyToken(key, strict, second))).toContain("issued in the future")
    }))

  it.effect("refuses an exp further than the longest lifetime from iat, or from now without iat", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      expect(yield* refusal(rawToken(JSON.stringify({ sub: "alice", iat: now, exp: 1e300 })))).toBe(
        "the token is valid for longer than the 30d allowed"
      )
      expect(yield* refusal(rawToken(JSON.stringify({ sub: "alice", exp: 1e300 })))).toContain("longer than the 30d")
      expect(yield* refusal(rawToken(JSON.stringify({ sub: "alice", iat: now, exp: now + 31 * day })))).toContain(
        "longer than"
      )
      const longest = rawToken(JSON.stringify({ sub: "alice", iat: now, exp: now + 30 * day }))
      expect((yield* verifyToken(key, open, longest)).subject).toBe("alice")
      // Minted at the longest lifetime, a token is accepted; the setting is what decides.
      const minted = yield* mintToken(key, open, { owner: "alice" as OwnerId, admin: false, ttl: Duration.days(30) })
      expect((yield* verifyToken(key, open, minted)).subject).toBe("alice")
      const tight = { ...open, jwtMaxLifetime: Duration.days(1) }
      expect(yield* Effect.flip(verifyToken(key, tight, minted))).toBe(
        "the token is valid for longer than the 1d allowed"
      )
    }))

  it.effect("refuses exp, iat and nbf that are not finite numbers", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      for (
        const payload of [
          `{"sub":"alice","exp":1e400}`,
          `{"sub":"alice","exp":"${now + 60}"}`,
          `{"sub":"alice","exp":${now + 60},"iat":"yesterday"}`,
          `{"sub":"alice","exp":${now + 60},"iat":-1e400}`,
          `{"sub":"alice","exp":${now + 60},"nbf":null}`,
          `{"sub":"alice","exp":${now + 60},"nbf":-1e400}`
        ]
      ) {
        const reason = yield* refusal(rawToken(payload))
        expect(reason, payload).toMatch(/^the token's (exp|iat|nbf) is not a (finite )?number$/)
      }
    }))

  it.effect("a remembered token is refused by the same checks as a fresh one, at every use", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const verify = cachedVerifier(key, open)
      const forever = rawToken(JSON.stringify({ sub: "alice", exp: 1e300 }))
      expect(yield* Effect.flip(verify(forever))).toContain("longer than")
      expect(yield* Effect.flip(verify(forever))).toContain("longer than")
      const token = yield* mintToken(key, open, { owner: "alice" as OwnerId, admin: false, ttl: Duration.hours(1) })
      expect((yield* verify(token)).subject).toBe("alice")
      expect((yield* verify(token)).subject).toBe("alice")
      // The clock is set back an hour: the token's iat is now far ahead of it, remembered or not.
      yield* TestClock.setTime(start - 3_600_000)
      expect(yield* Effect.flip(verifyToken(key, open, token))).toContain("issued in the future")
      expect(yield* Effect.flip(verify(token))).toContain("issued in the future")
    }))
})
