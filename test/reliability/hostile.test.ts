/**
 * Hostile input against the real service process (`dist/bin.js serve`): a seeded fast-check fuzzer sends 10,000
 * requests (see support/hostile.ts), then floods past the rate limits, and slow clients start bodies they never
 * finish. Requirements: no 5xx, no crash, no read or write across owners, bounded memory, and every 4xx a typed
 * error that does not echo the request.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Crypto from "node:crypto"
import { allErrors } from "../../src/adapters/http/HttpErrors.js"
import { secret, sign, startProcess } from "../support/service.js"
import { report, Tally } from "./support/figures.js"
import { arbitraries, type Probe, type TokenKind } from "./support/hostile.js"
import { type Outcome, request, residentBytes, stalledBody } from "./support/http.js"
import { scaled } from "./support/profile.js"
import { seeded } from "./support/random.js"

const maxBodyBytes = 65_536
const audience = "effect-sessions-reliability"
const requestTimeout = 2_000
const tags = new Set(Object.keys(allErrors))
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/** Violations by kind, each with its first few examples. */
class Violations {
  readonly byKind = new Map<string, { count: number; examples: Array<string> }>()
  /** Counts by kind and by the category of request that showed it. */
  readonly tally = new Tally()
  add(kind: string, example: string, category = "") {
    this.tally.add(category === "" ? kind : `${kind} (${category})`)
    const entry = this.byKind.get(kind) ?? { count: 0, examples: [] }
    entry.count++
    if (entry.examples.length < 5) entry.examples.push(example.slice(0, 400))
    this.byKind.set(kind, entry)
  }
  toJSON() {
    return Object.fromEntries(this.byKind)
  }
}

const describeProbe = (probe: Probe, outcome: Outcome) =>
  `${probe.category}: ${probe.method} ${probe.path.slice(0, 120)} (${probe.token}) -> ${
    outcome._tag === "Answered" ? `${outcome.status} ${outcome.text.slice(0, 200)}` : outcome.code
  }`

describe("hostile HTTP input", () => {
  it(
    "10,000 fuzzed requests, floods and stalled bodies: no 5xx, no crash, no leak across owners, no echo",
    async () => {
      const random = seeded("hostile")
      const service = await startProcess({
        SESSIONS_MAX_BODY_BYTES: String(maxBodyBytes),
        SESSIONS_JWT_AUDIENCE: audience,
        SESSIONS_HTTP_RATE_LIMIT: "100/1s",
        SESSIONS_REQUEST_TIMEOUT: `${requestTimeout}ms`,
        SESSIONS_MAX_SESSIONS: "1000000",
        SESSIONS_MAX_SESSIONS_PER_OWNER: "1000000"
      })
      try {
        const valid = (subject: string, options: { readonly admin?: boolean; readonly expiresIn?: number } = {}) =>
          sign(secret, subject, { ...options, claims: { aud: audience } })
        const subjects = await Promise.all(Array.from({ length: 100 }, (_, i) => valid(`fuzz-${i}`)))
        const now = Math.floor(Date.now() / 1000)
        const forged: Record<Exclude<TokenKind, "valid" | "none" | "not-bearer">, string> = {
          admin: await valid("fuzz-admin", { admin: true }),
          "alg-none": `${base64url({ alg: "none", typ: "JWT" })}.${
            base64url({ sub: "fuzz-0", aud: audience, exp: now + 3600 })
          }.`,
          "wrong-key": await sign(Crypto.randomBytes(32).toString("base64url"), "fuzz-0", {
            claims: { aud: audience }
          }),
          expired: await sign(secret, "fuzz-0", { expiresIn: -60, claims: { aud: audience } }),
          "wrong-audience": await sign(secret, "fuzz-0", { claims: { aud: "another-service" } }),
          "no-audience": await sign(secret, "fuzz-0"),
          garbage: "eyJhbGciOiJIUzI1NiJ9.not-json.c2ln",
          huge: "A".repeat(8_000)
        }
        const authorization = (probe: Probe): Record<string, string> => {
          switch (probe.token) {
            case "valid":
              return { authorization: `Bearer ${subjects[probe.subject]!}` }
            case "none":
              return {}
            case "not-bearer":
              return { authorization: `Basic ${Buffer.from(`fuzz-0:${probe.marker}`).toString("base64")}` }
            default:
              return { authorization: `Bearer ${forged[probe.token]}` }
          }
        }

        // The victim: an owner whose sessions every other owner tries to read and write.
        const victim = await valid("victim")
        const victimSecret = `VICTIM${Crypto.randomBytes(8).toString("hex")}`
        const victimIds: Array<string> = []
        for (let i = 0; i < 20; i++) {
          const created = await request(service.url, "POST", "/sessions", {
            token: victim,
            body: { data: { victimSecret, i } }
          })
          expect(created).toMatchObject({ _tag: "Answered", status: 201 })
          victimIds.push(String(created._tag === "Answered" ? created.json?.["id"] : ""))
        }
        for (let i = 0; i < 200; i++) await request(service.url, "GET", "/healthz")
        const rssBefore = residentBytes(service.child.pid!)

        const violations = new Violations()
        const statuses = new Tally()
        const byCategory = new Tally()
        const check = (probe: Probe, outcome: Outcome) => {
          byCategory.add(probe.category)
          if (outcome._tag === "Failed") {
            statuses.add(probe.overLimit ? "closed (body over the limit)" : `failed ${outcome.code}`)
            if (!probe.overLimit) violations.add("no answer", describeProbe(probe, outcome), probe.category)
            return
          }
          statuses.add(String(outcome.status))
          if (outcome.status >= 500) violations.add("5xx", describeProbe(probe, outcome), probe.category)
          if (outcome.text.includes(victimSecret)) {
            violations.add(
              "victim data leaked",
              describeProbe(probe, outcome),
              probe.category
            )
          }
          if (probe.crossOwner && outcome.status !== 404) {
            violations.add(
              "cross-owner not 404",
              describeProbe(probe, outcome),
              probe.category
            )
          }
          if (outcome.status >= 400 && outcome.status < 500) {
            if (!tags.has(String(outcome.json?.["_tag"]))) {
              violations.add(
                "4xx not a typed error",
                describeProbe(probe, outcome),
                probe.category
              )
            }
            if (outcome.text.includes(probe.marker)) {
              violations.add(
                "4xx echoes the request",
                describeProbe(probe, outcome),
                probe.category
              )
            }
          }
          const listed = outcome.status === 200 && Array.isArray(outcome.json?.["sessions"])
            ? outcome.json["sessions"]
            : []
          for (const session of listed as Array<{ owner: string }>) {
            if (probe.token === "valid" && session.owner !== `fuzz-${probe.subject}`) {
              violations.add("listing shows another owner's session", describeProbe(probe, outcome), probe.category)
            }
          }
        }

        // Clients that start a body and never finish it, while the fuzzer runs.
        const stalled = Promise.all(
          Array.from({ length: 4 }, (_, i) =>
            stalledBody(service.url, "/sessions", {
              token: subjects[i]!,
              declared: 1_000,
              sent: "{\"kind\":\"stall",
              wait: requestTimeout + 5_000
            }))
        )

        const probes = fc.sample(arbitraries({ maxBodyBytes, victimIds }), {
          seed: random.seed,
          numRuns: scaled(10_000)
        })
        let next = 0
        const started = Date.now()
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (next < probes.length) {
            const probe = probes[next++]!
            const outcome = await request(service.url, probe.method, probe.path, {
              headers: { ...probe.headers, ...authorization(probe) },
              body: probe.body,
              timeout: 30_000
            })
            check(probe, outcome)
          }
        }))
        const fuzzSeconds = (Date.now() - started) / 1000

        // Floods past the per-subject limits: refused with 429 RateLimited and a Retry-After, never anything worse.
        const floods = new Tally()
        const flood = async (path: string, token: string, count: number) => {
          let sent = 0
          await Promise.all(Array.from({ length: 25 }, async () => {
            while (sent++ < count) {
              const outcome = await request(service.url, "GET", path, { token, timeout: 30_000 })
              floods.add(`${path} ${outcome._tag === "Answered" ? outcome.status : outcome.code}`)
              if (outcome._tag === "Answered" && outcome.status === 429) {
                if (outcome.json?.["_tag"] !== "RateLimited") violations.add("429 not RateLimited", outcome.text)
                if (outcome.headers["retry-after"] === undefined) {
                  violations.add("429 without Retry-After", outcome.text)
                }
              }
              if (outcome._tag !== "Answered" || outcome.status >= 500) {
                violations.add("flood: 5xx or no answer", String(outcome._tag))
              }
            }
          }))
        }
        await flood("/sessions", await valid("flooder"), 600)
        await flood("/admin/stats", forged.admin, 60)
        expect(floods.get("/sessions 429")).toBeGreaterThan(0)
        expect(floods.get("/admin/stats 429")).toBeGreaterThan(0)

        for (const answer of await stalled) {
          statuses.add(
            `stalled body: ${answer.status ?? (answer.endedAfter === undefined ? "no answer" : "closed unanswered")}`
          )
          if (answer.status === undefined || answer.status < 400 || answer.status >= 500) {
            violations.add("stalled body not answered with a 4xx", JSON.stringify(answer).slice(0, 300))
          }
        }

        // Alive, answering, memory bounded, and the victim's sessions untouched.
        expect(service.child.exitCode).toBeNull()
        expect(await request(service.url, "GET", "/healthz")).toMatchObject({ _tag: "Answered", status: 200 })
        const rssAfter = residentBytes(service.child.pid!)
        for (const id of victimIds) {
          const read = await request(service.url, "GET", `/sessions/${id}`, { token: victim })
          expect(read).toMatchObject({ _tag: "Answered", status: 200, json: { version: 1, data: { victimSecret } } })
        }
        const sent = probes.length + floods.total + 4
        report("hostile", {
          seed: random.seed,
          requests: sent,
          fuzzSeconds,
          statuses: statuses.toJSON(),
          categories: byCategory.toJSON(),
          floods: floods.toJSON(),
          rssBeforeMiB: Math.round(rssBefore / 2 ** 20),
          rssAfterMiB: Math.round(rssAfter / 2 ** 20),
          violations: violations.tally.toJSON()
        })
        expect(sent).toBeGreaterThanOrEqual(10_000)
        expect(violations.toJSON()).toEqual({})
        // Generous: the service may grow caches, but not with the traffic it refused.
        expect(rssAfter).toBeLessThan(rssBefore + 256 * 2 ** 20)
      } finally {
        await service.stop()
      }
    },
    240_000
  )
})
