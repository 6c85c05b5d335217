/**
 * Every layer of effect-sessions built from plain values, as an app writes them: durations as text, fields left out
 * keeping their defaults. A bad value fails the layer with `InvalidConfig` naming every bad field, before anything is
 * opened. `test/examples.test.ts` builds each one; the README quotes it.
 */
import { SessionManager } from "effect-sessions"
import { type Auth, Server } from "effect-sessions/http"
import { PostgresStore } from "effect-sessions/postgres"
import { SqliteStore } from "effect-sessions/sqlite"

export const Manager = SessionManager.layer({ idleTimeout: "15m", capacityPolicy: "evict-lru" })

export const Sqlite = (filename: string) => SqliteStore.layer({ filename, busyTimeout: "1s" })

export const Postgres = (url: string, schema: string) => PostgresStore.layer({ url, schema, statementTimeout: "5s" })

export const Http = (key: Auth.SigningKey) =>
  Server.layer({ config: { host: "127.0.0.1", port: 0 }, key, shutdownDeadline: "10s" })

// Fails InvalidConfig with two issues, busyTimeout and maxPendingTouches; no file is created.
export const Broken = SqliteStore.layer({ filename: "data/sessions.db", busyTimeout: "soon", maxPendingTouches: 0 })
