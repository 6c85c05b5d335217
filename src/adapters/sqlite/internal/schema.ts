/**
 * The SQLite schema of effect-sessions and its versioned migrations, kept in code. A database records its version in
 * `PRAGMA user_version` and its owner in `PRAGMA application_id`; opening one written by a newer version fails
 * without touching it.
 */
import type Database from "better-sqlite3"
import { Either } from "effect"
import { StoreError } from "../../../domain/Errors.js"

/** `PRAGMA application_id` of an effect-sessions database ("ESES"). */
export const applicationId = 0x45534553

const live = "status IN ('active', 'waiting')"

/** The migrations, in order: migration `i` (from 0) takes a database from version `i` to `i + 1`. */
const migrations: ReadonlyArray<string> = [
  `
  CREATE TABLE sessions (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    idle_timeout INTEGER NOT NULL,
    max_lifetime INTEGER NOT NULL,
    ended_at INTEGER,
    end_reason TEXT,
    message_count INTEGER NOT NULL,
    response_times TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX sessions_id ON sessions (id);
  CREATE UNIQUE INDEX sessions_live_name ON sessions (owner, name) WHERE name IS NOT NULL AND ${live};
  CREATE INDEX sessions_owner ON sessions (owner, seq);
  CREATE INDEX sessions_waiting ON sessions (seq) WHERE status = 'waiting';
  CREATE INDEX sessions_due ON sessions (expires_at) WHERE ${live};
  CREATE INDEX sessions_recency ON sessions (last_active_at) WHERE ${live};
  CREATE INDEX sessions_ended ON sessions (ended_at) WHERE ended_at IS NOT NULL;

  -- Sessions by status, kept by the store in the same transaction as each change (one update per batch, not per row).
  CREATE TABLE session_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO session_counts (status, n) VALUES ('active', 0), ('waiting', 0), ('closed', 0), ('expired', 0), ('evicted', 0);

  CREATE TABLE leases (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE active_sessions (
    owner TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE INDEX active_sessions_session ON active_sessions (session_id);

  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO meta (key, value) VALUES ('lease_token', 0);

  CREATE TABLE quarantine (
    seq INTEGER PRIMARY KEY,
    id TEXT,
    row TEXT NOT NULL,
    reason TEXT NOT NULL,
    quarantined_at INTEGER NOT NULL
  );
  `,
  `
  -- Live sessions by owner, kept like session_counts: the per-owner capacity check reads one row instead of counting
  -- the owner's sessions on every insert. Owners with none live have no row.
  CREATE TABLE owner_live_counts (owner TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO owner_live_counts (owner, n) SELECT owner, count(*) FROM sessions WHERE ${live} GROUP BY owner;
  `
]

/** The schema version this build of effect-sessions writes and reads. */
export const schemaVersion = migrations.length

const ourTables = new Set([
  "sessions",
  "session_counts",
  "owner_live_counts",
  "leases",
  "active_sessions",
  "meta",
  "quarantine"
])

/**
 * Brings the database to `schemaVersion`, each migration in its own immediate transaction (so two processes opening
 * a new file never both migrate). Fails with a `StoreError` naming both versions when the database is newer than this
 * build, and when the file belongs to another application; in both cases nothing is written.
 */
export const migrate = (db: Database.Database): Either.Either<number, StoreError> => {
  const appId = db.pragma("application_id", { simple: true }) as number
  if (appId !== 0 && appId !== applicationId) {
    return Either.left(
      new StoreError({
        operation: "open",
        reason: `${db.name} is not an effect-sessions database (application_id ${appId}); refusing to change it`
      })
    )
  }
  const version = db.pragma("user_version", { simple: true }) as number
  if (version > schemaVersion) {
    return Either.left(
      new StoreError({
        operation: "open",
        reason: `${db.name} has schema version ${version}, written by a newer effect-sessions; this version reads up ` +
          `to schema version ${schemaVersion}. Upgrade effect-sessions; the database was left unchanged`
      })
    )
  }
  if (version === 0) {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>)
      .map((row) => row.name)
      .filter((name) => !name.startsWith("sqlite_") && !ourTables.has(name))
    if (tables.length > 0) {
      return Either.left(
        new StoreError({
          operation: "open",
          reason: `${db.name} holds other tables (${tables.join(", ")}); effect-sessions needs a database of its own`
        })
      )
    }
  }
  for (let next = version; next < schemaVersion; next++) {
    db.transaction(() => {
      // Another process may have migrated between our read and our write lock.
      const current = db.pragma("user_version", { simple: true }) as number
      if (current !== next) return
      db.exec(migrations[next]!)
      db.pragma(`user_version = ${next + 1}`)
      db.pragma(`application_id = ${applicationId}`)
    }).immediate()
  }
  return Either.right(schemaVersion)
}
