/** SQLite's errors as effect-sessions' store failures: busy or locked is transient, everything else permanent. */
import { StoreError, StoreUnavailable } from "../../../domain/Errors.js"

const codeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : ""

/** Whether SQLite reported a lock held by another connection (`SQLITE_BUSY*`, `SQLITE_LOCKED*`). */
export const isBusy = (error: unknown): boolean => {
  const code = codeOf(error)
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")
}

/**
 * `error` as a store failure of `operation`: `StoreUnavailable` when the database is busy or locked (retrying can
 * help), `StoreError` for everything else (constraints, I/O, corruption, a full disk).
 */
export const storeFailure = (operation: string, error: unknown): StoreUnavailable | StoreError => {
  const code = codeOf(error)
  const message = error instanceof Error ? error.message : String(error)
  const reason = code === "" ? message : `${code}: ${message}`
  return isBusy(error) ? new StoreUnavailable({ operation, reason }) : new StoreError({ operation, reason })
}
