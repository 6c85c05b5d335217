import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, TestClock } from "effect"
import { SignJWT } from "jose"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  cachedVerifier,
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
const open = { jwtIssuer: null, jwtAudience: null }
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
      const scoped = { jwtIssuer: "https://auth.example.com", jwtAudience: "sessions" }
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
