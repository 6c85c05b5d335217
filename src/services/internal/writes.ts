/**
 * The manager's status and data writes (`update`, `close`, `wait`, `resume`): their input checked, then each made
 * under the session's exclusive permit (`exclusiveWrite`), its refusals that cannot happen turned into defects. And
 * `regenerate`, the id's rotation, under the same permit.
 */
import { Effect, Either, Exit } from "effect"
import { validateData } from "../../domain/Data.js"
import { generateSessionId } from "../../domain/Ids.js"
import type { EndReason } from "../../domain/Session.js"
import type { AsOwner, SessionManagerShape } from "../SessionManager.js"
import { exclusiveWrite } from "./exclusive.js"
import { invalid } from "./input.js"
import { heldLeases, type ManagerCore } from "./ManagerCore.js"
import { metrics } from "./Metrics.js"

type Op<K extends keyof SessionManagerShape> = SessionManagerShape[K] extends (...args: Array<never>) => infer R ? R
  : never

/** The write operations of the manager over `core`. */
export const writes = (core: ManagerCore) => {
  const { config } = core
  const update = (
    raw: string,
    data: unknown,
    options?: Parameters<SessionManagerShape["update"]>[2]
  ): Op<"update"> =>
    Effect.suspend((): Op<"update"> => {
      const valid = validateData(data, config.maxDataBytes)
      if (Either.isLeft(valid)) {
        return Effect.fail(valid.left)
      }
      const expectedVersion = options?.expectedVersion
      if (expectedVersion !== undefined && (!Number.isInteger(expectedVersion) || expectedVersion < 1)) {
        return Effect.fail(invalid("expectedVersion", `got ${expectedVersion}`, "a whole number of at least 1"))
      }
      return exclusiveWrite(core, raw, options, "update", { data: valid.right, expectedVersion }, (error) => {
        // A data write carries no lifecycle event, so no transition can be refused.
        if (error._tag === "InvalidTransition") {
          return Exit.die(error)
        }
        if (error._tag === "VersionConflict") {
          core.meter.count(metrics.conflicts)
        }
        return Exit.fail(error)
      })
    })

  const close = (raw: string, options?: Parameters<SessionManagerShape["close"]>[1]): Op<"close"> =>
    Effect.suspend((): Op<"close"> => {
      const reason = options?.reason ?? "closed"
      if (typeof reason !== "string" || reason.length < 1 || reason.length > 256) {
        return Effect.fail(invalid("reason", `is ${String(reason).length} characters`, "1 to 256 characters"))
      }
      // Every live status may close, and no version is expected: neither refusal can happen.
      return exclusiveWrite(
        core,
        raw,
        options,
        "close",
        { event: "close", reason: reason as EndReason },
        (error) =>
          error._tag === "InvalidTransition" || error._tag === "VersionConflict" ? Exit.die(error) : Exit.fail(error)
      )
    })

  const move = (raw: string, scope: AsOwner | undefined, event: "wait" | "resume"): Op<"wait"> =>
    exclusiveWrite(
      core,
      raw,
      scope,
      event,
      { event },
      (error) => error._tag === "VersionConflict" ? Exit.die(error) : Exit.fail(error)
    )

  const regenerate = (raw: string, scope: AsOwner | undefined): Op<"regenerate"> =>
    core.admitted(raw, scope, (id, owner, fiber): Op<"regenerate"> => {
      if (fiber.getFiberRef(heldLeases).has(id)) {
        return Effect.fail(
          invalid(
            "id",
            "is the session this withSession holds: a new id would orphan its lease",
            "regenerate called after the withSession ends, or on another session"
          )
        )
      }
      // The new id is drawn once per call: a retry of the store call (after it landed) finds it there, not another.
      return core.locks.withPermit(
        id,
        "regenerate",
        config.lockTimeout,
        Effect.flatMap(
          generateSessionId,
          (newId) =>
            Effect.flatMap(
              core.store.regenerate(id, newId, { owner }),
              (t) =>
                Effect.map(core.afterWrite(t, false), (session) => {
                  if (session.id === newId) {
                    core.publish({ _tag: "Regenerated", at: core.now(), id: newId, owner: session.owner, previous: id })
                  }
                  return session
                })
            )
        )
      )
    })

  return { close, move, regenerate, update }
}
