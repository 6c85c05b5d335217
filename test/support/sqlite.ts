/** SQLite stores for tests: each build gets a database file in a fresh temporary directory, removed afterwards. */
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { SqliteStore } from "../../src/sqlite.js"

/** A fresh temporary directory for the scope, removed when it closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-sessions-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A SQLite store on a new file in a temporary directory; options other than the file name may be given. */
export const sqliteLayer = (options: Omit<SqliteStore.SqliteStoreOptions, "filename"> = {}) =>
  Layer.unwrapScoped(
    Effect.map(tempDir, (dir) => SqliteStore.layer({ ...options, filename: Path.join(dir, "sessions.db") }))
  )
