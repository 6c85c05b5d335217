/**
 * Postgres's errors as effect-sessions' store failures. Transient (`StoreUnavailable`, retried by the manager):
 * serialization failures, deadlocks, lock and statement timeouts, a server shutting down or out of connections, and
 * every connection failure. Permanent (`StoreError`): constraints, syntax, permissions and everything else.
 */
import { StoreError, StoreUnavailable } from "../../../domain/Errors.js"

/** SQLSTATE codes (and classes, by their first two characters) that retrying can cure. */
const transientCodes = new Set(["40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300", "53400"])
const transientClasses = new Set(["08"])
/** Node's socket errors, and the driver's messages for a connection that went away. */
const transientMessages = [
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN/,
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection error|Failed to acquire connection/i
]

const field = (error: unknown, name: string): string | undefined => {
  if (typeof error !== "object" || error === null || !(name in error)) return undefined
  const value = (error as Record<string, unknown>)[name]
  return typeof value === "string" ? value : undefined
}

/** The innermost cause of a driver error (`SqlError` wraps the driver's in `cause`). */
const rootOf = (error: unknown): unknown => {
  let current = error
  for (let depth = 0; depth < 5; depth++) {
    if (typeof current !== "object" || current === null || !("cause" in current) || current.cause === undefined) break
    current = current.cause
  }
  return current
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** Whether `error` is a condition retrying can cure. */
export const isTransient = (error: unknown): boolean => {
  const root = rootOf(error)
  const code = field(root, "code")
  if (code !== undefined && (transientCodes.has(code) || transientClasses.has(code.slice(0, 2)))) return true
  const text = `${messageOf(error)} ${messageOf(root)}`
  return transientMessages.some((pattern) => pattern.test(text))
}

/** The SQLSTATE of a driver error, if it has one. */
export const sqlState = (error: unknown): string | undefined => field(rootOf(error), "code")

/** `error` as a store failure of `operation`, its SQLSTATE named in the reason. */
export const storeFailure = (operation: string, error: unknown): StoreUnavailable | StoreError => {
  const root = rootOf(error)
  const code = field(root, "code")
  const message = messageOf(root)
  const reason = code === undefined ? message : `${code}: ${message}`
  return isTransient(error) ? new StoreUnavailable({ operation, reason }) : new StoreError({ operation, reason })
}
