/**
 * A child process for the multi-process SQLite tests: the real manager over the real SQLite store on the file it is
 * given, on the real clock. It prints one JSON line per event, so the parent can see what was acknowledged.
 *
 * Modes:
 * - `write <file>`: creates and updates sessions in a loop, printing each acknowledged write, until killed.
 * - `compete <file> <tag> <attempts> <tags...>`: once every competitor is ready, creates sessions (half of them named)
 *   at the capacity limits, closing some, then prints a summary.
 * - `hold <file> <id>`: holds the session in `withSession`, prints `held`, and never lets go.
 * - `take <file> <id>`: tries `withSession` on the session until it gets it, printing each refusal and the success.
 */
import { Effect, Either, Layer } from "effect"
import * as Fs from "node:fs"
import { makeConfig, SessionManager } from "../../../src/index.js"
import { SqliteStore } from "../../../src/sqlite.js"

const [mode, file, ...args] = process.argv.slice(2)
const say = (line: Record<string, unknown>) => Effect.sync(() => process.stdout.write(`${JSON.stringify(line)}\n`))

const config = Either.getOrThrow(makeConfig({
  maxSessions: 20,
  maxSessionsPerOwner: 5,
  leaseTtl: "1 second",
  lockTimeout: "300 millis",
  sessionRateLimit: "1000000/1s",
  ownerRateLimit: "1000000/1s",
  sweepInterval: "1 hour"
}))

const layer = SessionManager.layer(config, { node: `${mode}-${process.pid}` }).pipe(
  Layer.provide(SqliteStore.layer({ filename: file!, busyTimeout: "2 seconds" }))
)

const write = Effect.gen(function*() {
  const m = yield* SessionManager.SessionManager
  const mine: Array<string> = []
  for (let n = 0;; n++) {
    if (mine.length < 10 || n % 3 === 0) {
      const s = yield* m.create({ owner: `w${n % 4}`, data: { n } })
      mine.push(s.id)
      yield* say({ ack: "create", id: s.id, version: s.version, data: s.data })
      if (mine.length > 15) yield* Effect.ignore(m.close(mine.shift()!))
    } else {
      const id = mine[n % mine.length]!
      const s = yield* m.update(id, { n })
      yield* say({ ack: "update", id: s.id, version: s.version, data: s.data })
    }
  }
})

/** Waits until every one of `tags` has announced itself next to the file, so competitors start together. */
const barrier = (tag: string, tags: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    Fs.writeFileSync(`${file}.ready-${tag}`, "")
    while (!tags.every((t) => Fs.existsSync(`${file}.ready-${t}`))) yield* Effect.sleep("5 millis")
  })

const compete = Effect.gen(function*() {
  const m = yield* SessionManager.SessionManager
  const [tag, attempts, ...all] = args
  yield* barrier(tag!, all)
  const outcomes: Record<string, number> = {}
  for (let i = 0; i < Number(attempts); i++) {
    const name = i % 2 === 0 ? `n${i % 3}` : null
    const result = yield* Effect.either(m.create({ owner: `o${i % 5}`, name, data: { tag, i } }))
    const key = Either.isRight(result) ? "created" : result.left._tag
    outcomes[key] = (outcomes[key] ?? 0) + 1
    // Some sessions end, so others may take their names and places.
    if (Either.isRight(result) && i % 4 === 0) yield* Effect.ignore(m.close(result.right.id))
  }
  yield* say({ done: tag, outcomes })
})

const hold = Effect.gen(function*() {
  const m = yield* SessionManager.SessionManager
  yield* m.withSession(
    args[0]!,
    ({ lease }) => Effect.zipRight(say({ held: args[0], token: lease.token }), Effect.never),
    { timeout: "1 hour" }
  )
})

const take = Effect.gen(function*() {
  const m = yield* SessionManager.SessionManager
  for (;;) {
    const result = yield* Effect.either(m.withSession(args[0]!, ({ lease }) => Effect.succeed(lease)))
    if (Either.isRight(result)) {
      return yield* say({ took: args[0], token: result.right.token, holder: result.right.holder })
    }
    yield* say({ refused: result.left._tag, holder: (result.left as { holder?: string }).holder })
    yield* Effect.sleep("100 millis")
  }
})

const program = { write, compete, hold, take }[mode as "write"]
if (program === undefined) throw new Error(`unknown mode ${mode}`)
Effect.runPromise(Effect.scoped(Effect.provide(program, layer))).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
