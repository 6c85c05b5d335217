/**
 * Running the CLI in tests: the built binary in a child process (with only the `SESSIONS_*` variables a test gives),
 * or the same command tree in this process; a real SQLite database seeded with sessions through the store.
 */
import { NodeContext } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { ConfigProvider, Console, Effect, Exit, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import { run } from "../../src/adapters/cli/Cli.js"
import * as SqliteStore from "../../src/adapters/sqlite/SqliteStore.js"
import type { SessionId } from "../../src/domain/Ids.js"
import * as SessionManager from "../../src/services/SessionManager.js"
import { binary, inherited } from "../support/service.js"

/** Runs the built binary with only the given `SESSIONS_*` variables, in `cwd` when given. */
export const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}, cwd?: string) => {
  const result = ChildProcess.spawnSync(process.execPath, [binary, ...args], {
    env: { ...inherited(), ...env },
    encoding: "utf8",
    timeout: 30_000,
    ...(cwd === undefined ? {} : { cwd })
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** A failure's stderr: one line, no stack trace. */
export const expectOneLine = (stderr: string, pattern: RegExp) => {
  const lines = stderr.trim().split("\n")
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^effect-sessions: /)
  expect(lines[0]).toMatch(pattern)
  expect(stderr).not.toMatch(/\n\s+at /)
}

/** Runs the CLI in this process with only `env` as configuration; what it prints is captured. */
export const runInProcess = async (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const out: Array<string> = []
  const err: Array<string> = []
  const base = Effect.runSync(Effect.console)
  const capture: Console.Console = {
    ...base,
    log: (...parts) => Effect.sync(() => void out.push(parts.join(" "))),
    error: (...parts) => Effect.sync(() => void err.push(parts.join(" "))),
    unsafe: { ...base.unsafe, log: (...parts) => out.push(parts.join(" ")) }
  }
  const exit = await Effect.runPromiseExit(
    run(["node", "effect-sessions", ...args], "0.0.0").pipe(
      Effect.withConsole(capture),
      Effect.provide(NodeContext.layer),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    )
  )
  return { exit, stdout: out.join("\n"), stderr: err.join("\n"), args }
}

/** The JSON a command printed; when there is none, a failure that says what the command did instead. */
export const printed = (result: Awaited<ReturnType<typeof runInProcess>>) => {
  try {
    return JSON.parse(result.stdout)
  } catch {
    throw new Error(
      `${result.args.join(" ")} printed no JSON: ${
        Exit.isFailure(result.exit) ? String(result.exit.cause) : "it succeeded"
      }; stdout ${JSON.stringify(result.stdout)}, stderr ${JSON.stringify(result.stderr)}`
    )
  }
}

/** Creates `count` sessions (owners alice and bob in turn, kind `k`) in the SQLite database `filename`. */
export const seed = (filename: string, count: number): Promise<ReadonlyArray<SessionId>> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      const sessions = yield* Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        (i) => manager.create({ owner: i % 2 === 0 ? "alice" : "bob", kind: "k", data: { i } })
      )
      return sessions.map((session) => session.id)
    }).pipe(
      Effect.provide(
        SessionManager.layer(undefined, { sweeper: false }).pipe(Layer.provide(SqliteStore.layer({ filename })))
      )
    )
  )
