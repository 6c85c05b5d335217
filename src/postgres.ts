/** effect-sessions on Postgres: the store many service processes share (`effect-sessions/postgres`). */
export * as Backup from "./adapters/postgres/Backup.js"
export * as PostgresStore from "./adapters/postgres/PostgresStore.js"
