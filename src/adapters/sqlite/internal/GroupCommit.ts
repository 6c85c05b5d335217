/**
 * Group commit: the writes that callers make while a batch is pending share one transaction. Each write runs in a
 * savepoint of its own, so a write that fails (a refusal of the rules, a constraint, an exception) is rolled back
 * alone and fails only its caller; every caller is answered once the transaction holding its write has committed,
 * in arrival order.
 */
import type Database from "better-sqlite3"
import { Effect, Either } from "effect"
import { StoreError, type StoreFailure, StoreUnavailable } from "../../../domain/Errors.js"
import { storeFailure } from "./errors.js"
import type { PendingActivity } from "./PendingActivity.js"

/** The outcome of one write: its value, its typed refusal, or a store failure. */
type Outcome = Either.Either<unknown, unknown>

/** One write waiting for its batch. */
interface Write {
  readonly operation: string
  readonly body: () => Outcome
  /** Answers a caller waiting on another's batch; absent for the one that runs the batch (it reads `outcome`). */
  answer: ((outcome: Outcome) => void) | undefined
  /** Set when the caller was interrupted before the write's batch ran: it is then never applied. */
  withdrawn: boolean
  outcome: Outcome | undefined
}

/** Most writes in one transaction; the ones past it go into the next. */
export const maxBatch = 256

/** What a store's batches have done so far (read by its tests and diagnostics). */
export interface GroupCommitStats {
  /** Writes applied (committed or refused), whatever the size of their batch. */
  writes: number
  /** Transactions that committed a batch of writes, a batch of one included. */
  commits: number
}

/**
 * The writer queue of one connection. Bounded by `maxBatch`: the write that fills it commits the batch on its
 * caller's own step instead of waiting for the writer, so a burst is written rather than buffered, and nothing is
 * dropped or blocked.
 */
export class GroupCommit {
  readonly stats: GroupCommitStats = { writes: 0, commits: 0 }
  private queue: Array<Write> = []
  private readonly begin: Database.Statement
  private readonly commit: Database.Statement
  private readonly rollback: Database.Statement
  private readonly savepoint: Database.Statement
  private readonly release: Database.Statement
  private readonly rollbackTo: Database.Statement

  constructor(
    private readonly db: Database.Database,
    private readonly pending: PendingActivity,
    /** Called when queued writes have lost the caller that was to commit them: the caller schedules `drain` soon. */
    private readonly wake: () => void
  ) {
    this.begin = db.prepare("BEGIN IMMEDIATE")
    this.commit = db.prepare("COMMIT")
    this.rollback = db.prepare("ROLLBACK")
    this.savepoint = db.prepare("SAVEPOINT batched_write")
    this.release = db.prepare("RELEASE batched_write")
    this.rollbackTo = db.prepare("ROLLBACK TO batched_write")
  }

  /** Writes waiting for their batch. */
  get size(): number {
    return this.queue.length
  }

  /**
   * Queues a write and waits for the batch that holds it to commit, then answers with the write's outcome: its value,
   * its typed refusal (`body` returned a `Left`; its changes were rolled back alone), or a `StoreFailure` (it threw,
   * or its transaction could not begin or commit). The first write of a batch leads it: its caller yields once, so
   * every fiber ready to run can queue its write too, then commits them all; the others wait for that commit. An
   * interrupted caller withdraws its write if its batch has not run yet; once it has run, the write is committed
   * whole or not at all.
   */
  submit<A, E>(operation: string, body: () => Either.Either<A, E>): Effect.Effect<A, E | StoreFailure> {
    return Effect.suspend(() => {
      const write: Write = { operation, body, answer: undefined, withdrawn: false, outcome: undefined }
      this.queue.push(write)
      if (this.queue.length === 1) return this.lead<A, E>(write)
      return Effect.async<A, E | StoreFailure>((resume) => {
        write.answer = (outcome) => resume(outcome as Either.Either<A, E | StoreFailure>)
        // A full batch is committed at once, by the write that filled it: the queue never holds more than one batch.
        if (this.queue.length >= maxBatch) this.drain()
        return Effect.sync(() => this.withdraw(write))
      })
    })
  }

  /** The first write's caller: one yield for the others to queue, then the batch (unless something ran it already). */
  private lead<A, E>(write: Write): Effect.Effect<A, E | StoreFailure> {
    return Effect.yieldNow().pipe(
      Effect.zipRight(Effect.sync(() => {
        if (write.outcome === undefined) this.drain()
        return write.outcome as Either.Either<A, E | StoreFailure>
      })),
      Effect.flatten,
      Effect.onInterrupt(() => Effect.sync(() => this.withdraw(write)))
    )
  }

  /** Takes back a write whose caller was interrupted before its batch ran; the writer commits the others queued. */
  private withdraw(write: Write): void {
    if (write.outcome !== undefined) return
    write.withdrawn = true
    const at = this.queue.indexOf(write)
    if (at >= 0) this.queue.splice(at, 1)
    if (this.queue.length > 0) this.wake()
  }

  /**
   * Runs a write at once, on the calling thread: alone when nothing is queued (in its own transaction, no added step),
   * otherwise last in the batch of the writes queued before it, which it commits with them.
   */
  now<A, E>(operation: string, body: () => Either.Either<A, E>): Either.Either<A, E | StoreFailure> {
    if (this.queue.length === 0) return this.alone(operation, body)
    const write: Write = { operation, body, answer: undefined, withdrawn: false, outcome: undefined }
    this.queue.push(write)
    this.drain()
    return write.outcome as Either.Either<A, E | StoreFailure>
  }

  /** Commits every queued write before running `body` on its own (for work that cannot share a transaction). */
  alone<A, E>(operation: string, body: () => Either.Either<A, E>): Either.Either<A, E | StoreFailure> {
    this.drain()
    return this.single(operation, body)
  }

  /** A write in a transaction of its own (the one its body opens). */
  private single<A, E>(operation: string, body: () => Either.Either<A, E>): Either.Either<A, E | StoreFailure> {
    const outcome = run(operation, body)
    this.stats.writes++
    this.stats.commits++
    return outcome
  }

  /** Commits every queued write, at most `maxBatch` per transaction, in arrival order, and answers their callers. */
  drain(): void {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, maxBatch).filter((write) => !write.withdrawn)
      let settled = batch.length
      if (batch.length === 1) {
        const write = batch[0]!
        write.outcome = this.single(write.operation, write.body)
      } else if (batch.length > 1) {
        try {
          settled = this.together(batch)
        } catch (error) {
          // A statement of the batch's own (a savepoint's release, a rollback) failed: none of the batch is kept.
          this.abandon()
          for (const write of batch) write.outcome = Either.left(storeFailure(write.operation, error))
        }
      }
      for (let i = 0; i < settled; i++) batch[i]!.answer?.(batch[i]!.outcome!)
    }
  }

  /**
   * One transaction for the batch: a savepoint per write, then the commit that makes them durable together. Returns
   * how many of the batch's writes have their outcome (all, unless the transaction ended midway: the rest are queued
   * again, first in line).
   */
  private together(batch: ReadonlyArray<Write>): number {
    const mark = this.pending.mark()
    try {
      this.begin.run()
    } catch (error) {
      this.pending.settle()
      for (const write of batch) write.outcome = Either.left(storeFailure(write.operation, error))
      return batch.length
    }
    for (let i = 0; i < batch.length; i++) {
      const write = batch[i]!
      write.outcome = this.inSavepoint(write)
      if (!this.db.inTransaction) {
        // SQLite ended the whole transaction on an error (I/O, a full disk): the writes before this one went with it.
        this.pending.undo(mark)
        this.pending.settle()
        const failure = Either.isLeft(write.outcome) && isStoreFailure(write.outcome.left)
          ? write.outcome.left
          : undefined
        const reason = `rolled back with its batch: ${failure?.reason ?? "the transaction ended"}`
        for (const lost of Either.isLeft(write.outcome) ? batch.slice(0, i) : batch.slice(0, i + 1)) {
          const operation = lost.operation
          lost.outcome = Either.left(
            failure instanceof StoreUnavailable
              ? new StoreUnavailable({ operation, reason })
              : new StoreError({ operation, reason })
          )
        }
        // The writes after it have not run: they go into a transaction of their own, first in line.
        this.queue.unshift(...batch.slice(i + 1))
        return i + 1
      }
    }
    try {
      this.commit.run()
      this.stats.commits++
      this.stats.writes += batch.length
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run()
      this.pending.undo(mark)
      for (const write of batch) write.outcome = Either.left(storeFailure(write.operation, error))
    }
    this.pending.settle()
    return batch.length
  }

  /** Rolls back whatever of a batch is still open, rows and buffered activity. */
  private abandon(): void {
    try {
      if (this.db.inTransaction) this.rollback.run()
    } catch {
      // Every caller of the batch gets the first error; a failed rollback adds nothing to it.
    }
    // The batch's transaction is the outermost one: its journal starts at zero.
    this.pending.undo(0)
    this.pending.settle()
  }

  /** One write in its savepoint: kept if it succeeds, rolled back (rows and buffered activity) if not. */
  private inSavepoint(write: Write): Outcome {
    const mark = this.pending.mark()
    this.savepoint.run()
    const outcome = run(write.operation, write.body)
    if (!this.db.inTransaction) return outcome
    if (Either.isRight(outcome)) {
      this.release.run()
    } else {
      this.rollbackTo.run()
      this.release.run()
      this.pending.undo(mark)
    }
    return outcome
  }
}

const isStoreFailure = (error: unknown): error is StoreFailure =>
  error instanceof StoreError || error instanceof StoreUnavailable

/** Runs a write's body, its exceptions (busy, locked, I/O, constraints) turned into store failures. */
const run = <A, E>(operation: string, body: () => Either.Either<A, E>): Either.Either<A, E | StoreFailure> => {
  try {
    return body()
  } catch (error) {
    return Either.left(storeFailure(operation, error))
  }
}
