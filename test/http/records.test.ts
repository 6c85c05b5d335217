/**
 * An operator removes one session record that no read can decode, over HTTP and without a repair run, on the real
 * service over a SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as Path from "node:path"
import { call, type Service, startInProcess } from "../support/service.js"

describe("DELETE /admin/records/{id}", () => {
  let service: Service
  beforeAll(async () => {
    service = await startInProcess()
  })
  afterAll(() => service.stop())

  it("removes a corrupt session (kept in quarantine) for an admin only; the owner then gets 404, not 500", async () => {
    const owner = await service.token("alice")
    const admin = await service.token("ops", { admin: true })
    const created = await call(service, "POST", "/sessions", { token: owner, body: { name: "broken" } })
    expect(created.status).toBe(201)
    const id: string = created.json["id"]
    const db = new Database(Path.join(service.dataDir, "sessions.db"))
    db.prepare("UPDATE sessions SET expires_at = 1e308 WHERE id = ?").run(id)
    const unreadable = await call(service, "GET", `/sessions/${id}`, { token: owner })
    expect(unreadable.status).toBe(500)
    expect(unreadable.json).toMatchObject({ _tag: "CorruptRecord", id })
    expect((await call(service, "DELETE", `/admin/records/${id}`, { token: owner })).status).toBe(403)
    const removed = await call(service, "DELETE", `/admin/records/${id}?reason=unreadable`, { token: admin })
    expect(removed.status).toBe(200)
    expect(removed.json).toEqual({ id, removed: true })
    expect((await call(service, "GET", `/sessions/${id}`, { token: owner })).status).toBe(404)
    const again = await call(service, "DELETE", `/admin/records/${id}`, { token: admin })
    expect(again.status).toBe(404)
    expect(again.json).toMatchObject({ _tag: "SessionNotFound" })
    // Its name is free again, and the row is kept for whoever investigates.
    expect((await call(service, "POST", "/sessions", { token: owner, body: { name: "broken" } })).status).toBe(201)
    expect(db.prepare("SELECT id, reason FROM quarantine").all()).toEqual([{ id, reason: "unreadable" }])
    db.close()
  })
})
