import * as Path from "node:path"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    // Examples import the package by name, as users do; tests resolve it to the sources.
    alias: [
      { find: /^effect-sessions\/postgres$/, replacement: Path.join(import.meta.dirname, "src/postgres.ts") },
      { find: /^effect-sessions\/sqlite$/, replacement: Path.join(import.meta.dirname, "src/sqlite.ts") },
      { find: /^effect-sessions\/http$/, replacement: Path.join(import.meta.dirname, "src/http.ts") },
      { find: /^effect-sessions\/middleware$/, replacement: Path.join(import.meta.dirname, "src/middleware.ts") },
      { find: /^effect-sessions\/cli$/, replacement: Path.join(import.meta.dirname, "src/cli.ts") },
      { find: /^effect-sessions$/, replacement: Path.join(import.meta.dirname, "src/index.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 60_000,
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      reporter: ["text", "json-summary"],
      thresholds: { lines: 90 }
    }
  }
})
