#!/usr/bin/env node
/**
 * The `effect-sessions` executable. Usage errors exit 2, other failures print one line on stderr and exit 1, an
 * interrupted command exits 130; `serve` stopped by SIGTERM or SIGINT has shut down cleanly and exits 0.
 */
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Logger, LogLevel, Option } from "effect"
import { run } from "./adapters/cli/Cli.js"
import { jsonLines } from "./adapters/http/Logging.js"
import { version } from "./version.js"

const serving = process.argv[2] === "serve"

/** The service logs JSON lines on stdout; other commands keep stdout for their output and log warnings on stderr. */
const logger = serving
  ? Logger.replace(Logger.defaultLogger, jsonLines())
  : Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

const reported = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    if (Cause.isInterruptedOnly(cause)) return
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      if (ValidationError.isValidationError(failure.value)) return
      const error = failure.value
      process.stderr.write(`effect-sessions: ${error instanceof Error ? error.message : String(error)}\n`)
    } else {
      const defect = Cause.squash(cause)
      process.stderr.write(
        `effect-sessions: internal error: ${defect instanceof Error ? defect.message : String(defect)}\n`
      )
    }
  })

run(process.argv, version).pipe(
  Effect.tapErrorCause(reported),
  Effect.provide(NodeContext.layer),
  Effect.provide(logger),
  serving ? (effect) => effect : Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) return onExit(0)
      if (Cause.isInterruptedOnly(exit.cause)) return onExit(serving ? 0 : 130)
      const failure = Cause.failureOption(exit.cause)
      onExit(Option.isSome(failure) && ValidationError.isValidationError(failure.value) ? 2 : 1)
    }
  })
)
