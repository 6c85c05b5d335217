/**
 * effect-sessions/sqlite: the SQLite store (the embedded default). Importing it loads better-sqlite3; the core entry
 * point does not.
 */
export * as Backup from "./adapters/sqlite/Backup.js"
export * as SqliteStore from "./adapters/sqlite/SqliteStore.js"
