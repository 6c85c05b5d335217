/**
 * The Postgres store's access to its database: statements by name, transactions, "now", and the mapping of every
 * driver error to a store failure named after the operation. Typed refusals of the store rules fail the effect,
 * which rolls the transaction back.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { StoreFailure } from "../../../domain/Errors.js"
import type { SessionId } from "../../../domain/Ids.js"
import { currentEpochMillis, type EpochMillis } from "../../../domain/Session.js"
import type { SessionRow } from "../../../domain/SqlRows.js"
import type { LeaseState } from "../../../domain/StoreRules.js"
import { storeFailure } from "./errors.js"
import { sql as statements } from "./queries.js"

type Statement = keyof typeof statements

/** What the store's operations run on. */
export interface Db {
  /** Rows as objects. */
  readonly rows: <A extends object>(
    statement: Statement | string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<A>, SqlError>
  /** Rows as arrays, in the order of their columns (whole sessions: `SessionRow`). */
  readonly values: (
    statement: Statement | string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<SessionRow>, SqlError>
  /** Runs a statement for its effect. */
  readonly run: (statement: Statement | string, params?: ReadonlyArray<unknown>) => Effect.Effect<void, SqlError>
  /** `effect` in one transaction (committed if it succeeds, rolled back on any failure), as `operation`. */
  readonly transaction: <A, E>(
    operation: string,
    effect: Effect.Effect<A, E | SqlError>
  ) => Effect.Effect<A, Exclude<E, SqlError> | StoreFailure>
  /** `effect` outside a transaction, as `operation`. */
  readonly single: <A, E>(
    operation: string,
    effect: Effect.Effect<A, E | SqlError>
  ) => Effect.Effect<A, Exclude<E, SqlError> | StoreFailure>
  /** Now, from the store's `Clock`. */
  readonly now: Effect.Effect<EpochMillis>
  /** The lease on record for a session, or `null`. */
  readonly leaseOf: (id: SessionId, locked?: boolean) => Effect.Effect<LeaseState | null, SqlError>
}

const textOf = (statement: Statement | string): string =>
  statement in statements ? statements[statement as Statement] : statement

const isSqlError = (error: unknown): error is SqlError =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "SqlError"

/** The store's `Db` over a client. */
export const makeDb = (sql: SqlClient): Db => {
  const mapped = <A, E>(operation: string, effect: Effect.Effect<A, E | SqlError>) =>
    Effect.catchIf(
      effect,
      isSqlError,
      (error) => Effect.fail(storeFailure(operation, error))
    ) as Effect.Effect<A, Exclude<E, SqlError> | StoreFailure>
  const rows = <A extends object>(statement: Statement | string, params: ReadonlyArray<unknown> = []) =>
    sql.unsafe<A>(textOf(statement), params)
  return {
    rows,
    values: (statement, params = []) =>
      sql.unsafe(textOf(statement), params).values as Effect.Effect<ReadonlyArray<SessionRow>, SqlError>,
    run: (statement, params = []) => Effect.asVoid(sql.unsafe(textOf(statement), params).raw),
    transaction: (operation, effect) => mapped(operation, sql.withTransaction(effect)),
    single: mapped,
    now: currentEpochMillis,
    leaseOf: (id, locked = false) =>
      Effect.map(
        rows<{ holder: string; token: number; expires_at: number }>(locked ? "lockedLease" : "leaseOf", [id]),
        (found) =>
          found.length === 0
            ? null
            : { holder: found[0]!.holder, token: found[0]!.token, expiresAt: found[0]!.expires_at }
      )
  }
}
