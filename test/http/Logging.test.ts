import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { jsonLines } from "../../src/adapters/http/Logging.js"

/** The lines `program` logs through `jsonLines`, parsed. */
const logged = (program: Effect.Effect<void>) => {
  const lines: Array<string> = []
  Effect.runSync(
    program.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, jsonLines((line) => lines.push(line)))))
  )
  expect(lines.every((line) => line.endsWith("\n") && !line.slice(0, -1).includes("\n"))).toBe(true)
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>)
}

describe("JSON log lines", () => {
  it("carry the message, level, time and annotations, one object per line", () => {
    const [entry] = logged(Effect.logInfo("request").pipe(Effect.annotateLogs({ requestId: "r1", status: 200 })))
    expect(entry).toMatchObject({ message: "request", logLevel: "INFO", annotations: { requestId: "r1", status: 200 } })
    expect(Date.parse(entry!["timestamp"] as string)).toBeGreaterThan(0)
    expect(entry).not.toHaveProperty("cause")
  })

  it("keep several message parts, errors by name and message, and the cause of a failure", () => {
    const [entry] = logged(
      Effect.logError("failed", new Error("disk full"), Error("cause here")).pipe(
        Effect.zipRight(Effect.void)
      )
    )
    expect(entry!["message"]).toEqual(["failed", { name: "Error", message: "disk full" }, {
      name: "Error",
      message: "cause here"
    }])
    const [withCause] = logged(Effect.logError("request failed", new Error("boom")).pipe(Effect.asVoid))
    expect(withCause!["logLevel"]).toBe("ERROR")
    const [failure] = logged(
      Effect.fail(new Error("store gone")).pipe(
        Effect.catchAllCause((cause) => Effect.logError("request failed", cause))
      )
    )
    expect(failure!["cause"]).toContain("store gone")
  })

  it("still print an annotation JSON cannot (a cycle, a bigint)", () => {
    const cycle: Record<string, unknown> = { name: "loop" }
    cycle["self"] = cycle
    const [entry] = logged(Effect.logWarning("odd").pipe(Effect.annotateLogs({ cycle, big: 10n })))
    expect(entry).toMatchObject({
      message: "odd",
      logLevel: "WARN",
      annotations: { cycle: { name: "loop", self: "[Circular]" }, big: "10" }
    })
  })
})
