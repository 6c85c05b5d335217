/**
 * The backup file: UTF-8 NDJSON. A header line (format name and version), one line per session, one per active
 * pointer, and a trailer line with the record counts and the SHA-256 of every byte before it. A reader checks the
 * trailer, the checksum and the header, then decodes every record, before it trusts any of them. A writer writes
 * a temporary file next to the destination and moves it into place only once it is complete and on disk.
 */
import { Either, ParseResult, Schema } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
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

/** What a reader makes of one file: its header and record counts when it is a valid backup, else what is wrong. */
export type Summary =
  | { readonly _tag: "Valid"; readonly header: Header; readonly sessions: number; readonly activePointers: number }
  | { readonly _tag: "Invalid"; readonly problem: string }

/** Reads and checks the whole of `bytes`, as `parse` does, and sums up what it found. */
export const summarize = (bytes: Buffer): Summary =>
  Either.match(parse(bytes), {
    onLeft: (problem): Summary => ({ _tag: "Invalid", problem }),
    onRight: (contents): Summary => ({
      _tag: "Valid",
      header: contents.header,
      sessions: contents.sessions.length,
      activePointers: contents.active.length
    })
  })

/** One file of a backups directory, read and checked in full. */
export interface Listing {
  /** Its name in the directory. */
  readonly file: string
  /** When it was written: its header's time when it is a valid backup, else the file's modification time. */
  readonly writtenAt: number
  readonly bytes: number
  /** Whether it is a whole, valid backup: checksum, header, counts and every record. */
  readonly verified: boolean
  readonly sessions: number | null
  readonly activePointers: number | null
  /** What is wrong with it, when it does not verify. */
  readonly problem: string | null
}

/** Reads and checks the file `name` in `dir` (a damaged, foreign or unreadable one says so in `problem`). */
export const inspect = (dir: string, name: string, stat: Fs.Stats): Listing => {
  const unverified = { file: name, writtenAt: stat.mtimeMs, bytes: stat.size, sessions: null, activePointers: null }
  if (isTemporaryName(name)) {
    return { ...unverified, verified: false, problem: "an unfinished backup (being written, or left by a crash)" }
  }
  let summary: Summary
  try {
    summary = summarize(Fs.readFileSync(Path.join(dir, name)))
  } catch (error) {
    summary = {
      _tag: "Invalid",
      problem: `it cannot be read: ${error instanceof Error ? error.message : String(error)}`
    }
  }
  return summary._tag === "Invalid"
    ? { ...unverified, verified: false, problem: summary.problem }
    : {
      ...unverified,
      writtenAt: summary.header.createdAt,
      verified: true,
      sessions: summary.sessions,
      activePointers: summary.activePointers,
      problem: null
    }
}

/** A temporary name next to `target`, unique to this process and call. */
export const temporaryName = (target: string) =>
  `${target}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`

/** Whether a file name is one `temporaryName` makes: a backup being written, or left unfinished by a crash. */
export const isTemporaryName = (name: string) => /\.\d+\.[0-9a-z]+\.tmp$/.test(name)

/** Writes `data` at the current end of `fd`, all of it. */
export const writeAll = (fd: number, data: Buffer) => {
  for (let offset = 0; offset < data.length;) offset += Fs.writeSync(fd, data, offset)
}

/** Whether `file` names something that is not a directory (a file to overwrite or to refuse to). */
export const existsAsFile = (file: string) => {
  const stat = Fs.statSync(file, { throwIfNoEntry: false })
  return stat !== undefined && !stat.isDirectory()
}

/**
 * Moves the complete, fsynced file `temp` to `target` and makes the move durable. Without `overwrite`, an existing
 * `target` is never replaced, even one that someone else created meanwhile: a hard link fails when it exists.
 */
export const moveIntoPlace = (temp: string, target: string, overwrite: boolean) => {
  if (overwrite || !linked(temp, target)) Fs.renameSync(temp, target)
  else Fs.rmSync(temp, { force: true })
  fsyncDirectory(Path.dirname(target))
}

const noHardLinks = new Set(["EPERM", "ENOTSUP", "ENOSYS"])

/** Links `temp` at `target`, failing if it exists; `false` on file systems without hard links, where it is not there. */
const linked = (temp: string, target: string): boolean => {
  try {
    Fs.linkSync(temp, target)
    return true
  } catch (error) {
    if (!noHardLinks.has(String((error as { code?: unknown }).code)) || existsAsFile(target)) throw error
    return false
  }
}

/** Makes a rename durable on systems where a directory can be fsynced (not Windows, where it is not needed). */
const fsyncDirectory = (dir: string) => {
  let fd: number | undefined
  try {
    fd = Fs.openSync(dir, "r")
    Fs.fsyncSync(fd)
  } catch {
    // Directories cannot be opened or fsynced on some platforms; the rename is as durable as the OS makes it.
  } finally {
    if (fd !== undefined) Fs.closeSync(fd)
  }
}
