import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import {
  isEnded,
  type LifecycleEvent,
  lifecycleEvents,
  makeSessionId,
  type SessionStatus,
  statuses,
  transition
} from "../../src/index.js"

// The table of DESIGN.md, written out independently of the implementation: a status, or the error's tag.
const table: Record<SessionStatus, Record<LifecycleEvent, string>> = {
  active: {
    activity: "active",
    wait: "waiting",
    resume: "InvalidTransition",
    close: "closed",
    expire: "expired",
    evict: "evicted"
  },
  waiting: {
    activity: "waiting",
    wait: "InvalidTransition",
    resume: "active",
    close: "closed",
    expire: "expired",
    evict: "evicted"
  },
  closed: {
    activity: "SessionEnded",
    wait: "SessionEnded",
    resume: "SessionEnded",
    close: "SessionEnded",
    expire: "closed",
    evict: "closed"
  },
  expired: {
    activity: "SessionEnded",
    wait: "SessionEnded",
    resume: "SessionEnded",
    close: "SessionEnded",
    expire: "expired",
    evict: "expired"
  },
  evicted: {
    activity: "SessionEnded",
    wait: "SessionEnded",
    resume: "SessionEnded",
    close: "SessionEnded",
    expire: "evicted",
    evict: "evicted"
  }
}

const id = makeSessionId()
const outcome = (status: SessionStatus, event: LifecycleEvent) =>
  Either.match(transition({ id, status }, event), { onLeft: (error) => error._tag as string, onRight: (to) => to })

describe("Lifecycle.transition", () => {
  it("matches every cell of the transition table", () => {
    for (const status of statuses) {
      for (const event of lifecycleEvents) {
        expect([status, event, outcome(status, event)]).toEqual([
          status,
          event,
          table[status][event]
        ])
      }
    }
  })

  it("names the session, the status and the event in its errors", () => {
    const refused = transition({ id, status: "active" }, "resume")
    expect(Either.getLeft(refused).pipe((e) => e._tag === "Some" && e.value)).toMatchObject({
      _tag: "InvalidTransition",
      id,
      from: "active",
      event: "resume"
    })
    const ended = transition({ id, status: "expired" }, "activity")
    expect(Either.getLeft(ended).pipe((e) => e._tag === "Some" && e.value)).toMatchObject({
      _tag: "SessionEnded",
      id,
      status: "expired"
    })
  })

  it.prop(
    "random event sequences stay in the table and ended states are absorbing",
    [fc.array(fc.constantFrom(...lifecycleEvents), { maxLength: 60 })],
    ([events]) => {
      let status: SessionStatus = "active"
      let endedAs: SessionStatus | undefined
      for (const event of events) {
        const expected = table[status][event]
        const next = transition({ id, status }, event)
        if (Either.isRight(next)) {
          expect(next.right).toBe(expected)
          status = next.right
        } else {
          expect(next.left._tag).toBe(expected)
        }
        expect(statuses).toContain(status)
        if (endedAs !== undefined) expect(status).toBe(endedAs)
        if (isEnded(status)) endedAs ??= status
      }
    }
  )
})
