/**
 * Backup files on disk, the same for every store: written to a temporary file next to the destination, fsynced and
 * moved into place only once complete (an existing file is never replaced without `overwrite`), read and checked in
 * full before anything trusts them, and listed from the service's backups directory. The format itself is the
 * domain's (`BackupFormat`); this module adds the SHA-256 and the file system.
 */
import { Effect, Either, type Scope } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Format from "../domain/BackupFormat.js"
import { BackupRejected, type Progress } from "../domain/BackupReports.js"
import { InvalidInput, StoreError } from "../domain/Errors.js"

/** A SHA-256 for `BackupFormat`. */
export const sha256 = (): Format.Digest => createHash("sha256")

/** The directory, in the service's data directory, where it writes backups (`POST /admin/backup`). */
export const backupDirectory = (dataDir: string) => Path.resolve(dataDir, "backups")

/** A file-system error as the `StoreError` of `operation` (its code, such as `ENOENT`, in the reason). */
export const fileError = (operation: string, error: unknown): StoreError => {
  const code = typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? `${error.code}: `
    : ""
  return new StoreError({ operation, reason: `${code}${error instanceof Error ? error.message : String(error)}` })
}

/** The refusal to replace an existing file without `overwrite`. */
export const fileExists = (file: string) =>
  new InvalidInput({
    field: "file",
    reason: `${file} already exists`,
    expected: "a file name not in use (or overwrite to replace the file)"
  })

/** Reads the whole backup `from` and checks all of it (`BackupFormat.parse`); fails `BackupRejected` saying why. */
export const readBackup = (from: string): Effect.Effect<Format.Contents & { readonly file: string }, BackupRejected> =>
  Effect.gen(function*() {
    const file = Path.resolve(from)
    const bytes = yield* Effect.try({
      try: () => Fs.readFileSync(file),
      catch: (error) => new BackupRejected({ file, reason: error instanceof Error ? error.message : String(error) })
    })
    const contents = yield* Either.mapLeft(
      Format.parse(bytes, sha256),
      (reason) => new BackupRejected({ file, reason })
    )
    return { ...contents, file }
  })

/** A backup being written: its body line by line, then its trailer. */
export interface BackupWriter {
  /** The file it will appear as. */
  readonly target: string
  /** Appends `text` to the body (hashed). Throws the file system's error. */
  readonly write: (text: string) => void
  /**
   * Writes the trailer, fsyncs and moves the file into place. Fails `InvalidInput{field: "file"}` when, without
   * `overwrite`, someone created the target meanwhile (left as it was), `StoreError` for the file system's errors.
   */
  readonly finish: (
    counts: { readonly sessions: number; readonly activePointers: number }
  ) => Effect.Effect<{ readonly bytes: number; readonly sha256: string }, StoreError | InvalidInput>
}

/**
 * Opens a backup to be written to `to`, refusing at once (`InvalidInput{field: "file"}`) when a file is there and
 * `overwrite` is not set. Scoped: the temporary file is closed with the scope, and removed unless `finish` moved it.
 */
export const openWriter = (
  to: string,
  overwrite: boolean
): Effect.Effect<BackupWriter, StoreError | InvalidInput, Scope.Scope> =>
  Effect.gen(function*() {
    const target = Path.resolve(to)
    if (!overwrite && existsAsFile(target)) return yield* fileExists(target)
    const temp = temporaryName(target)
    yield* Effect.try({
      try: () => Fs.mkdirSync(Path.dirname(target), { recursive: true, mode: 0o700 }),
      catch: (error) => fileError("backup", error)
    })
    let moved = false
    const fd = yield* Effect.acquireRelease(
      Effect.try({ try: () => Fs.openSync(temp, "wx", 0o600), catch: (error) => fileError("backup", error) }),
      (fd) =>
        Effect.sync(() => {
          Fs.closeSync(fd)
          if (!moved) Fs.rmSync(temp, { force: true })
        })
    )
    const hash = createHash("sha256")
    let bytes = 0
    const writer: BackupWriter = {
      target,
      write: (text) => {
        const chunk = Buffer.from(text, "utf8")
        writeAll(fd, chunk)
        hash.update(chunk)
        bytes += chunk.length
      },
      finish: (counts) =>
        Effect.try({
          try: () => {
            const sha256 = hash.digest("hex")
            const trailer = Buffer.from(Format.trailerLine({ sha256, ...counts }), "utf8")
            writeAll(fd, trailer)
            Fs.fsyncSync(fd)
            moveIntoPlace(temp, target, overwrite)
            moved = true
            return { bytes: bytes + trailer.length, sha256 }
          },
          catch: (error) => !overwrite && existsAsFile(target) ? fileExists(target) : fileError("backup", error)
        })
    }
    return writer
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
  let summary: Format.Summary
  try {
    summary = Format.summarize(Fs.readFileSync(Path.join(dir, name)), sha256)
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

/**
 * The files in the directory `dir` (where the service writes its backups), each read and checked in full: its
 * counts when it is a valid backup, what is wrong when not (damaged, foreign, unfinished, unreadable). Oldest first.
 * A missing directory holds none; one that cannot be read fails `StoreError`.
 */
export const list = (
  options: { readonly dir: string; readonly onProgress?: Progress | undefined }
): Effect.Effect<ReadonlyArray<Listing>, StoreError> =>
  Effect.gen(function*() {
    const dir = Path.resolve(options.dir)
    const files = yield* Effect.try({
      try: () =>
        Fs.existsSync(dir)
          ? Fs.readdirSync(dir).flatMap((name) => {
            const stat = Fs.statSync(Path.join(dir, name), { throwIfNoEntry: false })
            return stat?.isFile() === true ? [{ name, stat }] : []
          })
          : [],
      catch: (error) => fileError("list backups", error)
    })
    const listings: Array<Listing> = []
    for (const { name, stat } of files) {
      listings.push(inspect(dir, name, stat))
      options.onProgress?.(listings.length, files.length)
      yield* Effect.yieldNow()
    }
    return listings.sort((a, b) => a.writtenAt - b.writtenAt || a.file.localeCompare(b.file))
  })

/** A temporary name next to `target`, unique to this process and call. */
export const temporaryName = (target: string) =>
  `${target}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`

/** Whether a file name is one `temporaryName` makes: a backup being written, or left unfinished by a crash. */
export const isTemporaryName = (name: string) => /\.\d+\.[0-9a-z]+\.tmp$/.test(name)

/** Writes `data` at the current end of `fd`, all of it. */
const writeAll = (fd: number, data: Buffer) => {
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
const moveIntoPlace = (temp: string, target: string, overwrite: boolean) => {
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
