import { HttpApi } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { SessionsApi } from "../src/adapters/http/Api.js"
import { statusTable } from "../src/adapters/http/HttpErrors.js"
import { serviceConfigReference } from "../src/adapters/http/ServiceConfig.js"
import * as SqliteStore from "../src/adapters/sqlite/SqliteStore.js"
import { configReference } from "../src/index.js"

const readme = Fs.readFileSync(Path.join(import.meta.dirname, "..", "README.md"), "utf8")

describe("README", () => {
  it("documents every setting with its environment variable, default and meaning", () => {
    for (const row of [...configReference, ...serviceConfigReference, ...SqliteStore.reference]) {
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
