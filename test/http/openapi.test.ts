/**
 * The OpenAPI document the service serves: each operation lists the errors it can return (and no others), with the
 * status each is answered with, and the document's version is the package's.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { statusTable } from "../../src/adapters/http/HttpErrors.js"
import { type Body, call, type Service, startInProcess } from "../support/service.js"

const pkg = JSON.parse(Fs.readFileSync(Path.join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as {
  version: string
}

/** The error tags an operation lists, each with the status it lists it under. */
const errorsOf = (operation: Body): Map<string, number> => {
  const found = new Map<string, number>()
  for (const [status, response] of Object.entries<Body>(operation["responses"])) {
    if (Number(status) < 400) continue
    const schema: Body = response["content"]?.["application/json"]?.["schema"] ?? {}
    for (const item of schema["anyOf"] ?? [schema]) {
      const ref: string | undefined = item["$ref"]
      if (ref !== undefined) found.set(ref.split("/").pop()!, Number(status))
    }
  }
  return found
}

/** What some operations must list, and what they must not. */
const expectations: ReadonlyArray<{
  readonly operation: string
  readonly lists: ReadonlyArray<string>
  readonly never: ReadonlyArray<string>
}> = [
  {
    operation: "get /healthz",
    lists: ["RateLimited", "ShuttingDown"],
    never: ["SessionNotFound", "SessionEnded", "SessionNameTaken", "VersionConflict", "SessionBusy", "InvalidInput"]
  },
  {
    operation: "get /metrics",
    lists: ["RateLimited"],
    never: ["SessionNotFound", "SessionEnded", "InvalidTransition", "LeaseHeld", "StoreError"]
  },
  { operation: "get /readyz", lists: ["StoreUnavailable", "StoreError"], never: ["SessionNotFound", "SessionEnded"] },
  {
    operation: "post /sessions",
    lists: [
      "InvalidInput",
      "Unauthorized",
      "RateLimited",
      "SessionNameTaken",
      "CapacityExceeded",
      "UnsupportedMediaType"
    ],
    never: ["SessionNotFound", "SessionEnded", "SessionBusy", "VersionConflict", "InvalidTransition"]
  },
  {
    operation: "get /sessions",
    lists: ["InvalidInput", "Unauthorized", "StoreUnavailable"],
    never: ["SessionNotFound", "SessionEnded", "SessionBusy", "UnsupportedMediaType"]
  },
  {
    operation: "get /sessions/{id}",
    lists: ["SessionNotFound", "SessionEnded", "CorruptRecord", "Unauthorized"],
    never: ["SessionBusy", "VersionConflict", "InvalidTransition", "SessionNameTaken", "UnsupportedMediaType"]
  },
  {
    operation: "post /sessions/{id}/touch",
    lists: ["SessionNotFound", "SessionEnded"],
    never: ["SessionBusy", "InvalidTransition", "UnsupportedMediaType"]
  },
  {
    operation: "post /sessions/{id}/wait",
    lists: ["SessionNotFound", "SessionEnded", "SessionBusy", "InvalidTransition", "StaleFencingToken"],
    never: ["VersionConflict", "SessionNameTaken"]
  },
  {
    operation: "put /sessions/{id}/data",
    lists: ["VersionConflict", "SessionBusy", "SessionEnded", "UnsupportedMediaType"],
    never: ["InvalidTransition", "SessionNameTaken", "NoActiveSession"]
  },
  {
    operation: "patch /sessions/{id}/data",
    lists: ["VersionConflict", "SessionBusy", "OperationTimeout", "UnsupportedMediaType"],
    never: ["InvalidTransition", "SessionNameTaken"]
  },
  { operation: "get /active", lists: ["NoActiveSession"], never: ["SessionEnded", "SessionBusy"] },
  {
    operation: "put /active",
    lists: ["SessionNotFound", "SessionEnded", "UnsupportedMediaType"],
    never: ["SessionBusy", "NoActiveSession"]
  },
  {
    operation: "get /events",
    lists: ["InvalidInput", "RateLimited"],
    never: ["SessionNotFound", "SessionEnded", "UnsupportedMediaType"]
  },
  {
    operation: "delete /admin/sessions/{id}",
    lists: ["Forbidden", "SessionNotFound", "SessionEnded", "SessionBusy"],
    never: ["VersionConflict", "NoActiveSession"]
  },
  {
    operation: "post /admin/backup",
    lists: ["Forbidden", "InvalidInput", "StoreError", "UnsupportedMediaType"],
    never: ["SessionNotFound", "SessionEnded"]
  },
  { operation: "get /admin/origins", lists: ["Forbidden"], never: ["SessionNotFound", "InvalidInput"] }
]

describe("the OpenAPI document", () => {
  let service: Service
  let spec: Body
  beforeAll(async () => {
    service = await startInProcess()
    const response = await call(service, "GET", "/openapi.json")
    expect(response.status).toBe(200)
    spec = response.json
  })
  afterAll(() => service.stop())

  it("says the package's version", () => {
    expect(spec["info"]["version"]).toBe(pkg.version)
  })

  it("lists for each operation the errors it can return, and only those", () => {
    const statusOf = new Map(statusTable())
    const operations = new Map<string, Body>()
    for (const [path, item] of Object.entries<Body>(spec["paths"])) {
      for (const [method, operation] of Object.entries<Body>(item)) operations.set(`${method} ${path}`, operation)
    }
    for (const { lists, never, operation } of expectations) {
      expect(operations.has(operation)).toBe(true)
      const errors = errorsOf(operations.get(operation)!)
      for (const tag of lists) {
        expect({ operation, tag, status: errors.get(tag) }).toEqual({ operation, tag, status: statusOf.get(tag) })
      }
      for (const tag of never) {
        expect({ operation, tag, listed: errors.has(tag) }).toEqual({ operation, tag, listed: false })
      }
    }
    // Statuses nothing on /healthz can produce.
    const healthz = Object.keys(operations.get("get /healthz")!["responses"])
    for (const status of ["404", "409", "410", "423"]) expect(healthz).not.toContain(status)
    // Every error listed anywhere is one the service answers with, under its status.
    for (const [name, operation] of operations) {
      for (const [tag, status] of errorsOf(operation)) {
        expect({ name, tag, status }).toEqual({ name, tag, status: statusOf.get(tag) })
      }
    }
  })
})
