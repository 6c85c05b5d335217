/**
 * The acknowledged writes of a scenario, and the check that none was lost: every session acknowledged is stored at
 * its last acknowledged version or a later one; at that same version its data and status are the acknowledged
 * ones; an acknowledged end is never undone. Writes that failed or got no answer may have landed or not, so they
 * only ever raise the version.
 */
import { isDeepStrictEqual } from "node:util"

/** A session as an acknowledgement showed it (the fields that a write makes durable). */
export interface Ack {
  readonly id: string
  readonly version: number
  readonly status: string
  readonly data: unknown
}

/** A session as the store holds it, read without faults. */
export type Stored = Ack

const ended = (status: string) => status === "closed" || status === "expired" || status === "evicted"

/** The last acknowledged state of each session. */
export class Ledger {
  private readonly last = new Map<string, Ack>()
  /** How many acknowledgements were recorded (writes and reads that returned the session). */
  acknowledged = 0

  /** Records what a successful call returned. A later acknowledgement of the same version replaces an earlier one. */
  record(ack: Ack): void {
    this.acknowledged++
    const previous = this.last.get(ack.id)
    if (previous === undefined || ack.version >= previous.version) {
      this.last.set(ack.id, { id: ack.id, version: ack.version, status: ack.status, data: ack.data })
    }
  }

  /** Forgets a session (purged by design, so it can no longer be checked). */
  forget(id: string): void {
    this.last.delete(id)
  }

  get sessions(): number {
    return this.last.size
  }

  ids(): Array<string> {
    return [...this.last.keys()]
  }

  /**
   * What was lost, compared with `stored` (the store's state of each session, `undefined` when missing): one line
   * per violation, so an assertion shows them all (an empty list: nothing lost).
   */
  lost(stored: (id: string) => Stored | undefined): Array<string> {
    const problems: Array<string> = []
    for (const ack of this.last.values()) {
      const now = stored(ack.id)
      if (now === undefined) {
        problems.push(`${ack.id}: acknowledged at version ${ack.version} (${ack.status}), missing from the store`)
      } else if (now.version < ack.version) {
        problems.push(`${ack.id}: acknowledged at version ${ack.version}, stored at ${now.version}`)
      } else if (now.version === ack.version && !isDeepStrictEqual(now.data, ack.data)) {
        problems.push(`${ack.id}: version ${ack.version} stored with other data than acknowledged`)
      } else if (now.version === ack.version && now.status !== ack.status) {
        problems.push(`${ack.id}: version ${ack.version} stored as ${now.status}, acknowledged as ${ack.status}`)
      } else if (ended(ack.status) && !ended(now.status)) {
        problems.push(`${ack.id}: acknowledged as ${ack.status}, stored as ${now.status} (an end was undone)`)
      }
    }
    return problems
  }
}
