/**
 * The backup file every SQL store writes and reads, so a backup moves between them: UTF-8 NDJSON. A header line
 * (format name and version), one line per session, one per active pointer, and a trailer line with the record
 * counts and the SHA-256 of every byte before it. A reader checks the trailer, the checksum and the header, then
 * decodes every record, before it trusts any of them. Pure: the SHA-256 is the caller's (the domain imports no
 * crypto), and files are the adapters' business.
 */
import { Either, ParseResult, Schema } from "effect"
import { Session } from "./Session.js"

/** The name in every backup's header. */
export const formatName = "effect-sessions-backup"

/** The format version this build writes and reads. */
export const formatVersion = 1

/** The first line of a backup. */
export interface Header {
  readonly format: string
  readonly version: number
  readonly createdAt: number
  /** The schema version of the store the backup was taken from (informative: restoring does not depend on it). */
  readonly schemaVersion: number
}

/** The last line of a backup: what came before it, counted and hashed. */
export interface Trailer {
  readonly sha256: string
  readonly sessions: number
  readonly activePointers: number
}

/** An owner's active session, as a backup records it. */
export interface ActivePointer {
  readonly owner: string
  readonly sessionId: string
}

/** An incremental SHA-256 (`node:crypto`'s `createHash("sha256")` is one). */
export interface Digest {
  readonly update: (chunk: Uint8Array) => unknown
  /** The hash of every chunk so far, in lower-case hex. */
  readonly digest: (encoding: "hex") => string
}

/** The line of a session record. A session's encoded form is the record itself (the `Session` schema only checks). */
export const sessionLine = (session: Session): string => `${JSON.stringify({ session })}\n`

/** The line of an active pointer. */
export const activeLine = (pointer: ActivePointer): string => `${JSON.stringify({ active: pointer })}\n`

/** The header line. */
export const headerLine = (header: Omit<Header, "format" | "version">): string =>
  `${JSON.stringify({ format: formatName, version: formatVersion, ...header })}\n`

/** The trailer line. */
export const trailerLine = (trailer: Trailer): string => `${JSON.stringify(trailer)}\n`

/** What a valid backup holds. */
export interface Contents {
  readonly header: Header
  readonly sessions: ReadonlyArray<Session>
  readonly active: ReadonlyArray<ActivePointer>
}

const decodeSession = Schema.decodeUnknownEither(Session, { errors: "first" })

const isTrailer = (value: unknown): value is Trailer =>
  typeof value === "object" && value !== null && "sha256" in value && typeof value.sha256 === "string" &&
  "sessions" in value && Number.isSafeInteger(value.sessions) && "activePointers" in value &&
  Number.isSafeInteger(value.activePointers)

const json = (text: string): Either.Either<unknown, void> => {
  try {
    return Either.right(JSON.parse(text))
  } catch {
    return Either.left(undefined)
  }
}

const utf8 = new TextDecoder("utf-8")

/**
 * Reads and checks a whole backup: trailer present (else the file is truncated), checksum matching (`digest` makes
 * the SHA-256), header of this format and version, counts matching, every record decoding, ids unique, live names
 * unique per owner, and every active pointer on a live session of its owner. Fails with the first problem, in words.
 */
export const parse = (bytes: Uint8Array, digest: () => Digest): Either.Either<Contents, string> => {
  if (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0a) {
    return Either.left("it is truncated: it does not end with a complete trailer line")
  }
  const trailerStart = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1
  const trailer = json(utf8.decode(bytes.subarray(trailerStart)))
  if (Either.isLeft(trailer) || !isTrailer(trailer.right)) {
    return Either.left("it is truncated or damaged: its last line is not a backup trailer")
  }
  const expected = trailer.right
  const body = bytes.subarray(0, trailerStart)
  const hash = digest()
  hash.update(body)
  const actual = hash.digest("hex")
  if (actual !== expected.sha256) {
    return Either.left(
      `checksum mismatch: the file was changed or damaged (expected ${expected.sha256}, got ${actual})`
    )
  }
  const lines = utf8.decode(body).split("\n")
  lines.pop()
  const first = json(lines[0] ?? "")
  if (Either.isLeft(first)) return Either.left("its first line is not a backup header")
  const header = first.right as Partial<Header> | null
  if (header?.format !== formatName) {
    return Either.left(`it is not an effect-sessions backup (format ${JSON.stringify(header?.format)})`)
  }
  if (header.version !== formatVersion) {
    return Either.left(
      `it is backup format version ${header.version}; this build reads format version ${formatVersion}`
    )
  }
  const sessions: Array<Session> = []
  const active: Array<ActivePointer> = []
  for (let i = 1; i < lines.length; i++) {
    const parsed = json(lines[i]!)
    if (Either.isLeft(parsed)) return Either.left(`record on line ${i + 1} is not JSON`)
    const record = parsed.right as { session?: unknown; active?: Partial<ActivePointer> } | null
    if (record?.session !== undefined) {
      const decoded = decodeSession(record.session)
      if (Either.isLeft(decoded)) {
        const id = (record.session as { id?: unknown } | null)?.id
        return Either.left(
          `record on line ${i + 1} (session ${String(id)}) does not decode: ${
            ParseResult.TreeFormatter.formatErrorSync(decoded.left)
          }`
        )
      }
      sessions.push(decoded.right)
    } else if (typeof record?.active?.owner === "string" && typeof record.active.sessionId === "string") {
      active.push({ owner: record.active.owner, sessionId: record.active.sessionId })
    } else return Either.left(`record on line ${i + 1} is neither a session nor an active pointer`)
  }
  if (sessions.length !== expected.sessions || active.length !== expected.activePointers) {
    return Either.left(
      `its trailer counts ${expected.sessions} sessions and ${expected.activePointers} active pointers, ` +
        `but it holds ${sessions.length} and ${active.length}`
    )
  }
  return Either.map(consistent(sessions, active), () => ({ header: header as Header, sessions, active }))
}

/** Ids unique, live names unique per owner, every active pointer on a live session of its owner. */
const consistent = (
  sessions: ReadonlyArray<Session>,
  active: ReadonlyArray<ActivePointer>
): Either.Either<void, string> => {
  const byId = new Map<string, Session>()
  const names = new Set<string>()
  for (const session of sessions) {
    if (byId.has(session.id)) return Either.left(`session ${session.id} appears twice`)
    byId.set(session.id, session)
    if (session.name !== null && (session.status === "active" || session.status === "waiting")) {
      const key = `${session.owner}\u0000${session.name}`
      if (names.has(key)) return Either.left(`two live sessions of ${session.owner} are named ${session.name}`)
      names.add(key)
    }
  }
  for (const pointer of active) {
    const session = byId.get(pointer.sessionId)
    if (
      session === undefined || session.owner !== pointer.owner ||
      !(session.status === "active" || session.status === "waiting")
    ) {
      return Either.left(
        `the active pointer of ${pointer.owner} names ${pointer.sessionId}, not a live session of theirs`
      )
    }
  }
  return Either.void
}

/** What a reader makes of one file: its header and record counts when it is a valid backup, else what is wrong. */
export type Summary =
  | { readonly _tag: "Valid"; readonly header: Header; readonly sessions: number; readonly activePointers: number }
  | { readonly _tag: "Invalid"; readonly problem: string }

/** Reads and checks the whole of `bytes`, as `parse` does, and sums up what it found. */
export const summarize = (bytes: Uint8Array, digest: () => Digest): Summary =>
  Either.match(parse(bytes, digest), {
    onLeft: (problem): Summary => ({ _tag: "Invalid", problem }),
    onRight: (contents): Summary => ({
      _tag: "Valid",
      header: contents.header,
      sessions: contents.sessions.length,
      activePointers: contents.active.length
    })
  })

/** A plain backup file name: letters, digits, `.`, `_` and `-`, not starting with a dot. */
export const isPlainFileName = (name: string): boolean => /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/.test(name)
