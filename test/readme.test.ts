import { HttpApi } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { SessionsApi } from "../src/adapters/http/Api.js"
import { statusTable } from "../src/adapters/http/HttpErrors.js"
import { serviceConfigReference } from "../src/adapters/http/ServiceConfig.js"
import * as PostgresStore from "../src/adapters/postgres/PostgresStore.js"
import * as SqliteStore from "../src/adapters/sqlite/SqliteStore.js"
import { configReference, makeConfig, MemoryStore, SessionManager } from "../src/index.js"
import { examples } from "./readme/snippets.js"

const readme = Fs.readFileSync(Path.join(import.meta.dirname, "..", "README.md"), "utf8")

describe("README", () => {
  it("documents every setting with its environment variable, default and meaning", () => {
    for (
      const row of [...configReference, ...serviceConfigReference, ...SqliteStore.reference, ...PostgresStore.reference]
    ) {
      expect(readme).toContain(`| \`${row.field}\` | \`${row.env}\` | \`${row.default}\` | ${row.doc} |`)
    }
  })

  it("lists every route of the API in the endpoint table", () => {
    const routes: Array<string> = []
    HttpApi.reflect(SessionsApi, {
      onGroup: () => {},
      onEndpoint: ({ endpoint }) =>
        routes.push(`| \`${endpoint.method} ${endpoint.path.replace(/:(\w+)/g, "{$1}")}\` |`)
    })
    expect(routes.length).toBeGreaterThan(20)
    for (const route of routes) expect(readme).toContain(route)
  })

  it("gives each error the status the service answers with", () => {
    const byStatus = new Map<number, Array<string>>()
    for (const [tag, status] of statusTable()) byStatus.set(status, [...(byStatus.get(status) ?? []), `\`${tag}\``])
    for (const [status, tags] of byStatus) expect(readme).toContain(`| ${status} | ${tags.join(", ")} |`)
  })

  it("gives the test command that CI runs", () => {
    const ci = Fs.readFileSync(Path.join(import.meta.dirname, "..", ".ci", "run"), "utf8")
    expect(readme).toContain("`npm test`")
    expect(readme).toContain("| Run the service | `npm start`")
    expect(ci).toMatch(/^npm ci$/m)
    expect(ci).toMatch(/^npm test$/m)
  })
})

/** Text with runs of white space folded, so quoting may wrap differently without changing a character of code. */
const folded = (text: string) => text.replace(/\s+/g, " ").trim()

describe("README snippets", () => {
  it("quotes every TypeScript block exactly from the example file named on its first line", () => {
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!)
    expect(blocks.length).toBeGreaterThanOrEqual(2)
    for (const block of blocks) {
      const [first, ...rest] = block.split("\n")
      const source = /^\/\/ (examples\/[\w./-]+\.ts)$/.exec(first!)
      expect(source, `a TypeScript block must name its example file: ${first}`).not.toBeNull()
      const file = Fs.readFileSync(Path.join(import.meta.dirname, "..", source![1]!), "utf8")
      expect(folded(file)).toContain(folded(rest.join("\n")))
    }
  })

  const table = readme.slice(readme.indexOf("| Call | What it does | Example |"))
  const cells = [...table.slice(0, table.indexOf("\n\n")).matchAll(/^\| `(\w+)`.*\| `([^`]+)` \|$/gm)]
  const snippets = Fs.readFileSync(Path.join(import.meta.dirname, "readme", "snippets.ts"), "utf8")

  it("shows in the SessionManager table only examples that snippets.ts holds verbatim", () => {
    expect(cells.length).toBeGreaterThanOrEqual(13)
    for (const [, , code] of cells) expect(snippets).toContain(code)
  })

  it.scoped("runs every example of the SessionManager table against a real manager", () =>
    Effect.gen(function*() {
      const layer = SessionManager.layer(Either.getOrThrow(makeConfig()), { sweeper: false }).pipe(
        Layer.provide(MemoryStore.layer)
      )
      const sessions = yield* Layer.build(layer).pipe(Effect.map((context) =>
        context.unsafeMap.get(
          SessionManager.SessionManager.key
        ) as SessionManager.SessionManagerShape
      ))
      const s = yield* sessions.create({ owner: "alice" })
      const page = yield* sessions.list({ owner: "alice" })
      yield* sessions.recordActivity(s.id, { messages: 1 })
      const run = examples({ sessions, id: s.id, s, data: { step: 1 }, page, lastSeenSeq: 0 })
      const order = [
        "create",
        "get",
        "list",
        "touch",
        "recordActivity",
        "update",
        "wait",
        "activate",
        "withSession",
        "events",
        "ownerStats",
        "sweep",
        "regenerate",
        "close",
        "remove"
      ] as const
      for (const name of order) {
        const exit = yield* Effect.exit(run[name]() as Effect.Effect<unknown, unknown>)
        expect(Exit.isSuccess(exit), `${name}: ${Exit.isFailure(exit) ? String(exit.cause) : ""}`).toBe(true)
      }
      // Every example of snippets.ts ran, one per row of the table.
      expect(Object.keys(run).sort()).toEqual([...order].sort())
      expect(order.length).toBe(cells.length)
    }))
})
