/**
 * A chat service on effect-sessions: each reply is produced inside `withSession`, so two replies never interleave on
 * one conversation, the session cannot expire or be evicted while the model streams, and the reply has a deadline.
 * The model here is a stand-in that streams tokens with a delay; swap in your LLM client's stream.
 */
import { Chunk, Clock, Duration, Effect, Schema, Stream } from "effect"
import { SessionManager, TypedSessions } from "effect-sessions"

/** One turn of the conversation. */
const Turn = Schema.Struct({ role: Schema.Literal("user", "assistant"), text: Schema.String })

/** What a chat session keeps: its turns, typed and validated on every read and write. */
export const Chat = Schema.Struct({ turns: Schema.Array(Turn) })

/** A stand-in model: streams the reply word by word, `delay` apart. */
export const model = (prompt: string, delay: Duration.DurationInput) =>
  Stream.fromIterable(`You said: ${prompt}`.split(" ")).pipe(Stream.tap(() => Effect.sleep(delay)))

/**
 * Appends the user's message and the model's streamed reply to the conversation, as one exclusive unit of work.
 * Fails `OperationTimeout` if the reply takes longer than `timeout` (the stream is interrupted and nothing is
 * written), `SessionBusy` if another reply holds the conversation for longer than `lockTimeout`.
 */
export const reply = (
  id: string,
  prompt: string,
  options: { readonly timeout: Duration.DurationInput; readonly tokenDelay: Duration.DurationInput }
) =>
  Effect.gen(function*() {
    const sessions = yield* SessionManager.SessionManager
    const chats = yield* TypedSessions.typed(Chat)
    return yield* chats.withSession(id, ({ session }) =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const tokens = yield* Stream.runCollect(model(prompt, options.tokenDelay))
        const text = Chunk.join(tokens, " ")
        // Written with the lease's fencing token: if the lease were lost, this write would be refused.
        const updated = yield* chats.update(id, {
          turns: [...session.data.turns, { role: "user", text: prompt }, { role: "assistant", text }]
        })
        const took = (yield* Clock.currentTimeMillis) - started
        yield* sessions.recordActivity(id, { messages: 2, responseTime: Duration.millis(took) })
        return updated
      }), { timeout: options.timeout })
  })
