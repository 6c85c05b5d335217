/** A server-sent events client for tests, on `fetch`. */
import { expect } from "@effect/vitest"
import type { Body, Service } from "./service.js"

/** One event as received. */
export interface ReceivedEvent {
  readonly id: string
  readonly event: string
  readonly data: Body
}

/** Reads server-sent events from `path` until `until` says enough or `ms` pass; the connection is then dropped. */
export const readEvents = async (
  service: Pick<Service, "url">,
  path: string,
  options: {
    readonly token: string
    readonly lastEventId?: string
    readonly until: (events: ReadonlyArray<ReceivedEvent>) => boolean
    readonly ms?: number
    readonly onOpen?: () => Promise<void>
  }
) => {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), options.ms ?? 10_000)
  const events: Array<ReceivedEvent> = []
  const headers: Record<string, string> = { authorization: `Bearer ${options.token}` }
  if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId
  try {
    const response = await fetch(`${service.url}${path}`, { headers, signal: abort.signal })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/event-stream")
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let buffered = ""
    let opened = false
    while (!options.until(events)) {
      const { done, value } = await reader.read()
      if (done) break
      buffered += decoder.decode(value, { stream: true })
      const blocks = buffered.split("\n\n")
      buffered = blocks.pop()!
      for (const block of blocks) {
        const fields = new Map<string, string>()
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue
          const colon = line.indexOf(":")
          fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart())
        }
        if (fields.has("data")) {
          events.push({ id: fields.get("id")!, event: fields.get("event")!, data: JSON.parse(fields.get("data")!) })
        }
      }
      if (!opened) {
        opened = true
        await options.onOpen?.()
      }
    }
    abort.abort()
  } catch (error) {
    if (!abort.signal.aborted) throw error
  } finally {
    clearTimeout(timer)
  }
  return events
}
