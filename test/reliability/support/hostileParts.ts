/**
 * The building blocks of the hostile requests: markers, strange strings, wrongly typed values, nested documents,
 * the routes that take ids and bodies, and the body-borne requests that need nothing from the scenario.
 */
import * as fc from "fast-check"
import type { Probe, TokenKind } from "./hostile.js"

/** Percent-encodes every byte of `text` outside unreserved characters (lone surrogates included, as U+FFFD). */
export const percentEncode = (text: string): string =>
  [...Buffer.from(text, "utf8")].map((byte) => {
    const c = String.fromCharCode(byte)
    return /[A-Za-z0-9_.~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
  }).join("")

export const markerArb = fc.stringMatching(/^[a-z0-9]{12}$/).map((s) => `MRK${s}KRM`)
export const idLike = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/)
const control = fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c))
export const weird = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.string({
    unit: fc.oneof(control, fc.constantFrom("\u2028", "\u2029", "\ufeff", "\u202e", "\ud800", "\udfff")),
    maxLength: 20
  }),
  fc.string({ unit: "binary", maxLength: 30 })
)

/** A string value with the marker inside: what a careless error message would echo. */
const tainted = (marker: string) =>
  fc.oneof(fc.constant(marker), weird.map((s) => `${s}${marker}`), fc.constant(`${marker}\u0000${marker}`))

/** A JSON value of the wrong shape for most fields, with the marker among its strings. */
const wrongValue = (marker: string) =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    tainted(marker),
    fc.constantFrom(null, true, -1, 1e308, -0, 2 ** 53 + 1, [], {}),
    fc.array(tainted(marker), { maxLength: 3 }),
    fc.dictionary(tainted(marker), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })
  )

/** A document nested `depth` levels deep (arrays, objects or both), the marker at the bottom. */
export const nested = (depth: number, kind: "array" | "object" | "mixed", marker: string): string => {
  let open = ""
  let close = ""
  for (let i = 0; i < depth; i++) {
    const array = kind === "array" || (kind === "mixed" && i % 2 === 0)
    open += array ? "[" : `{"${marker}":`
    close = (array ? "]" : "}") + close
  }
  return `${open}"${marker}"${close}`
}

export const sessionPaths = (id: string) =>
  [
    ["GET", `/sessions/${id}`],
    ["POST", `/sessions/${id}/touch`],
    ["POST", `/sessions/${id}/activity`],
    ["POST", `/sessions/${id}/wait`],
    ["POST", `/sessions/${id}/resume`],
    ["PUT", `/sessions/${id}/data`],
    ["PATCH", `/sessions/${id}/data`],
    ["DELETE", `/sessions/${id}`]
  ] as const

export const bodyRoutes = (id: string) =>
  [
    ["POST", "/sessions"],
    ["PUT", `/sessions/${id}/data`],
    ["PATCH", `/sessions/${id}/data`],
    ["POST", `/sessions/${id}/activity`],
    ["PUT", "/active"],
    ["PUT", "/admin/origins"],
    ["POST", "/admin/backup"]
  ] as const

export const base = {
  headers: {},
  body: undefined,
  token: "valid" as TokenKind,
  crossOwner: false,
  overLimit: false
}

/** Mistyped or random JSON bodies on the routes that take one. */
export const wrongTypes = fc.record({ marker: markerArb, id: idLike, route: fc.nat(6), subject: fc.nat(99) }).chain((
  r
) =>
  fc.oneof(
    fc.record({
      kind: wrongValue(r.marker),
      name: wrongValue(r.marker),
      data: wrongValue(r.marker),
      idleTimeout: wrongValue(r.marker),
      maxLifetime: wrongValue(r.marker)
    }, { requiredKeys: [] }),
    fc.record({ messages: wrongValue(r.marker), responseTimeMs: wrongValue(r.marker) }, { requiredKeys: [] }),
    fc.record({ id: wrongValue(r.marker), origins: wrongValue(r.marker), name: wrongValue(r.marker) }, {
      requiredKeys: []
    }),
    wrongValue(r.marker)
  ).map((value): Probe => {
    const [method, path] = bodyRoutes(r.id)[r.route]!
    return {
      ...base,
      category: "wrong types",
      method,
      path,
      body: JSON.stringify(value),
      marker: r.marker,
      subject: r.subject
    }
  })
)

/** Bodies that are not JSON at all, or JSON cut short, with a JSON content type. */
export const malformed = fc.record({
  marker: markerArb,
  id: idLike,
  route: fc.nat(6),
  subject: fc.nat(99),
  text: fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.json().map((json) => json.slice(0, Math.max(1, Math.floor(json.length / 2)))),
    fc.constantFrom(
      "{",
      "[",
      "{\"kind\":",
      "{'kind':'x'}",
      "NaN",
      "{\"a\":1,}",
      "\u0000",
      "[1,2",
      "}{",
      "{\"\\u0000\":1}"
    )
  )
}).map((r): Probe => {
  const [method, path] = bodyRoutes(r.id)[r.route]!
  return {
    ...base,
    category: "malformed JSON",
    method,
    path,
    body: `${r.text}${r.marker}`,
    marker: r.marker,
    subject: r.subject
  }
})

/** Documents nested thousands of levels deep, under the size limit. */
export const deep = fc.record({
  marker: markerArb,
  id: idLike,
  route: fc.nat(6),
  subject: fc.nat(99),
  depth: fc.integer({ min: 300, max: 12_000 }),
  kind: fc.constantFrom("array" as const, "object" as const, "mixed" as const),
  wrap: fc.boolean()
}).map((r): Probe => {
  const [method, path] = bodyRoutes(r.id)[r.route]!
  const doc = nested(r.kind === "array" ? r.depth : Math.min(r.depth, 2_000), r.kind, r.marker)
  return {
    ...base,
    category: "deep nesting",
    method,
    path,
    body: r.wrap ? `{"data":${doc},"id":${doc},"origins":${doc}}` : doc,
    marker: r.marker,
    subject: r.subject
  }
})
