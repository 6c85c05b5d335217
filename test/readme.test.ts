import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { configReference } from "../src/index.js"

const readme = Fs.readFileSync(Path.join(import.meta.dirname, "..", "README.md"), "utf8")

describe("README", () => {
  it("documents every setting with its environment variable, default and meaning", () => {
    for (const row of configReference) {
      expect(readme).toContain(`| \`${row.field}\` | \`${row.env}\` | \`${row.default}\` | ${row.doc} |`)
    }
  })

  it("gives the test command that CI runs", () => {
    const ci = Fs.readFileSync(Path.join(import.meta.dirname, "..", ".ci", "run"), "utf8")
    expect(readme).toContain("`npm test`")
    expect(ci).toMatch(/^npm ci$/m)
    expect(ci).toMatch(/^npm test$/m)
  })
})
