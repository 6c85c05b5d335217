import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const src = Path.join(root, "src")

/** Every module reachable from `entry` by static imports, with the bare package names it imports. */
const importGraph = (entry: string) => {
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string) => {
    if (files.has(file)) return
    files.add(file)
    const text = Fs.readFileSync(file, "utf8")
    for (const [, spec] of text.matchAll(/(?:import|export)\s[^"']*?from\s+["']([^"']+)["']/g)) {
      if (spec!.startsWith(".")) visit(Path.resolve(Path.dirname(file), spec!.replace(/\.js$/, ".ts")))
      else packages.add(spec!.startsWith("@") ? spec!.split("/").slice(0, 2).join("/") : spec!.split("/")[0]!)
    }
  }
  visit(entry)
  return { files, packages }
}

describe("package layout", () => {
  it("importing the core loads no database driver, platform or CLI package: only effect", () => {
    const { files, packages } = importGraph(Path.join(src, "index.ts"))
    expect([...packages]).toEqual(["effect"])
    expect(files.size).toBeGreaterThan(10)
  })

  it("the domain imports only effect and itself", () => {
    for (const file of Fs.readdirSync(Path.join(src, "domain"), { recursive: true })) {
      if (!String(file).endsWith(".ts")) continue
      const { files, packages } = importGraph(Path.join(src, "domain", String(file)))
      expect([...packages].filter((p) => p !== "effect")).toEqual([])
      for (const reached of files) expect(reached.startsWith(Path.join(src, "domain"))).toBe(true)
    }
  })

  it("the sqlite entry point adds better-sqlite3 and Node's own modules, nothing else", () => {
    const { packages } = importGraph(Path.join(src, "sqlite.ts"))
    expect([...packages].sort()).toEqual(["better-sqlite3", "effect", "node:crypto", "node:fs", "node:path"])
  })

  it("the postgres entry point adds pg and @effect/sql-pg (with what it stands on) and Node's own modules", () => {
    const { files, packages } = importGraph(Path.join(src, "postgres.ts"))
    expect([...packages].filter((p) => !p.startsWith("node:")).sort()).toEqual([
      "@effect/experimental",
      "@effect/sql",
      "@effect/sql-pg",
      "effect",
      "pg"
    ])
    for (const file of files) expect(file.startsWith(Path.join(src, "adapters", "sqlite"))).toBe(false)
  })

  it("importing the HTTP service loads no database driver", () => {
    const { files, packages } = importGraph(Path.join(src, "http.ts"))
    for (const driver of ["better-sqlite3", "pg", "@effect/sql", "@effect/sql-pg"]) {
      expect([...packages]).not.toContain(driver)
    }
    for (const file of files) expect(file.startsWith(Path.join(src, "adapters", "sqlite"))).toBe(false)
  })

  it("the middleware entry point adds only @effect/platform to effect: no database driver, no Node server", () => {
    const { files, packages } = importGraph(Path.join(src, "middleware.ts"))
    expect([...packages].sort()).toEqual(["@effect/platform", "effect"])
    for (const file of files) expect(file.startsWith(Path.join(src, "adapters", "sqlite"))).toBe(false)
  })

  it("no adapter imports another adapter, or anyone's internal modules but its own", () => {
    const adapters = Path.join(src, "adapters")
    for (const entry of Fs.readdirSync(adapters, { recursive: true })) {
      const file = Path.join(adapters, String(entry))
      if (!file.endsWith(".ts")) continue
      const own = Path.join(adapters, String(entry).split(Path.sep)[0]!)
      const text = Fs.readFileSync(file, "utf8")
      for (const [, spec] of text.matchAll(/(?:import|export)\s[^"']*?from\s+["'](\.[^"']+)["']/g)) {
        const target = Path.resolve(Path.dirname(file), spec!)
        const where = `${Path.relative(src, file)} imports ${Path.relative(src, target)}`
        expect(target.startsWith(Path.join(src, "domain", "internal")), where).toBe(false)
        expect(target.startsWith(Path.join(src, "services", "internal")), where).toBe(false)
        // Adapters sit on ports: never on another adapter (start-up composes them).
        expect(target.startsWith(adapters) && !target.startsWith(own), where).toBe(false)
      }
    }
  })

  it("takes effect and @effect/* as peers (so an app has one copy), each pinned exactly for development", () => {
    const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8"))
    const effectPackages = (deps: Record<string, string>) =>
      Object.keys(deps).filter((name) => name === "effect" || name.startsWith("@effect/"))
    expect(effectPackages(pkg.dependencies)).toEqual([])
    const peers = effectPackages(pkg.peerDependencies)
    expect(peers).toContain("effect")
    for (const name of peers) {
      const pinned: string = pkg.devDependencies[name]
      expect(pinned, name).toMatch(/^\d+\.\d+\.\d+$/)
      expect(pkg.peerDependencies[name], name).toBe(`^${pinned}`)
    }
    // Every package the sources import is declared, as a dependency or a peer.
    const declared = new Set([...Object.keys(pkg.dependencies), ...peers])
    for (const entry of ["index.ts", "sqlite.ts", "postgres.ts", "http.ts", "middleware.ts", "cli.ts", "bin.ts"]) {
      for (const used of importGraph(Path.join(src, entry)).packages) {
        if (!used.startsWith("node:")) expect(declared.has(used), used).toBe(true)
      }
    }
  })

  it("exports each entry point as an ES module with declarations", () => {
    const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8"))
    expect(pkg.type).toBe("module")
    expect(pkg.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" })
    expect(pkg.exports["./sqlite"]).toEqual({ types: "./dist/sqlite.d.ts", import: "./dist/sqlite.js" })
    expect(pkg.exports["./postgres"]).toEqual({ types: "./dist/postgres.d.ts", import: "./dist/postgres.js" })
    expect(pkg.exports["./middleware"]).toEqual({ types: "./dist/middleware.d.ts", import: "./dist/middleware.js" })
    expect(pkg.engines.node).toBe(">=20")
  })
})
