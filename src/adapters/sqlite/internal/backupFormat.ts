/**
 * The backup file format: UTF-8 NDJSON. A header line (format name and version), one line per session, one per
 * active pointer, and a trailer line with the record counts and the SHA-256 of every byte before it. A reader checks
 * the trailer, the checksum and the header, then decodes every record, before it trusts any of them.
 */
import { Either, ParseResult, Schema } from "effect"
import { createHash } from "node:crypto"
import { Session } from "../../../domain/Session.js"

/** The name in every backup's header. */
export const formatName = "effect-sessions-backup"

/** The format version this build writes and reads. */
export const formatVersion = 1

/** The first line of a backup. */
export interface Header {
  readonly format: string
  readonly version: number
  readonly createdAt: number
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

/** The line of a session record. A session's encoded form is the record itself (the `Session` schema only checks). */
export const sessionLine = (session: Session): string => `${JSON.stringify({ session })}\n`

/** The line of an active pointer. */
export const activeLine = (pointer: ActivePointer): string => `${JSON.stringify({ active: pointer })}\n`

/** The header line. */
export const headerLine = (header: Omit<Header, "format" | "version">): string =>
  `${JSON.stringify({ format: formatName, version: formatVersion, ...header })}\n`

/** The trailer line. */
export const trailerLine = (trailer: Trailer): string => `${JSON.stringify(trailer)}\n`

/** A hash of the bytes written so far. */
export const hasher = () => createHash("sha256")

/** What a valid backup holds. */
export interface Contents {
  readonly header: Header
  readonly sessions: ReadonlyArray<Session>
  readonly active: ReadonlyArray<ActivePointer>
}

const decodeSession = Schema.decodeUnknownEither(Session, { errors: "first" })

/**
 * Reads and checks a whole backup: trailer present (else the file is truncated), checksum matching, header of this
 * format and version, counts matching, every record decoding, ids unique, live names unique per owner, and every
 * active pointer on a live session of its owner. Fails with the first problem, in words.
 */
export const parse = (bytes: Buffer): Either.Either<Contents, string> => {
  if (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0a) {
    return Either.left("it is truncated: it does not end with a complete trailer line")
  }
  const trailerStart = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1
  let trailer: Trailer
  try {
    trailer = JSON.parse(bytes.subarray(trailerStart).toString("utf8"))
  } catch {
    return Either.left("it is truncated or damaged: its last line is not a backup trailer")
  }
  if (
    typeof trailer !== "object" || trailer === null || typeof trailer.sha256 !== "string" ||
    !Number.isSafeInteger(trailer.sessions) || !Number.isSafeInteger(trailer.activePointers)
  ) return Either.left("it is truncated or damaged: its last line is not a backup trailer")
  const body = bytes.subarray(0, trailerStart)
  const digest = createHash("sha256").update(body).digest("hex")
  if (digest !== trailer.sha256) {
    return Either.left(`checksum mismatch: the file was changed or damaged (expected ${trailer.sha256}, got ${digest})`)
  }
  const lines = body.toString("utf8").split("\n")
  lines.pop()
  let header: Header
  try {
    header = JSON.parse(lines[0] ?? "")
  } catch {
    return Either.left("its first line is not a backup header")
  }
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
    let record: { session?: unknown; active?: ActivePointer }
    try {
      record = JSON.parse(lines[i]!)
    } catch {
      return Either.left(`record on line ${i + 1} is not JSON`)
    }
    if (record?.session !== undefined) {
      const decoded = decodeSession(record.session)
      if (Either.isLeft(decoded)) {
        const id = (record.session as { id?: unknown }).id
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
  if (sessions.length !== trailer.sessions || active.length !== trailer.activePointers) {
    return Either.left(
      `its trailer counts ${trailer.sessions} sessions and ${trailer.activePointers} active pointers, ` +
        `but it holds ${sessions.length} and ${active.length}`
    )
  }
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
  return Either.right({ header, sessions, active })
}
