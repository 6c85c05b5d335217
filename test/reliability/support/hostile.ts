/**
 * Hostile HTTP requests, as fast-check arbitraries: malformed and mistyped JSON, bodies past the size limit, deeply
 * nested documents, unicode and control characters, path tricks in ids, forged tokens, odd content types, bad
 * query strings and headers, and well-formed calls on another owner's sessions. Each request carries a marker
 * string, planted wherever it has free text, that no answer to it may contain.
 */
import * as fc from "fast-check"
import {
  base,
  bodyRoutes,
  deep,
  idLike,
  malformed,
  markerArb,
  percentEncode,
  sessionPaths,
  weird,
  wrongTypes
} from "./hostileParts.js"

export { nested, percentEncode } from "./hostileParts.js"

/** Which token a request carries (signed at send time from the pool the scenario prepares). */
export type TokenKind =
  | "valid"
  | "admin"
  | "none"
  | "not-bearer"
  | "alg-none"
  | "wrong-key"
  | "expired"
  | "wrong-audience"
  | "no-audience"
  | "garbage"
  | "huge"

/** One hostile request. `crossOwner`: a well-formed call on a session of the victim owner (it must answer 404). */
export interface Probe {
  readonly category: string
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
  readonly token: TokenKind
  /** Which of the pool's subjects signs a `valid` token. */
  readonly subject: number
  readonly marker: string
  readonly crossOwner: boolean
  /** The body is larger than the service's limit (the service may close the connection instead of reading it). */
  readonly overLimit: boolean
}

/** What a scenario gives the generators: the limit, and the victim's session ids. */
export interface Targets {
  readonly maxBodyBytes: number
  readonly victimIds: ReadonlyArray<string>
}

/** Every kind of hostile request, with the weights the fuzzer draws them by. */
export const arbitraries = (targets: Targets) => {
  /** Bodies past the limit, declared with their length. */
  const huge = fc.record({
    marker: markerArb,
    id: idLike,
    route: fc.nat(6),
    subject: fc.nat(99),
    size: fc.integer({ min: targets.maxBodyBytes + 1, max: targets.maxBodyBytes * 8 })
  }).map((r): Probe => {
    const [method, path] = bodyRoutes(r.id)[r.route]!
    const filler = "x".repeat(r.size)
    return {
      ...base,
      category: "huge body",
      method,
      path,
      body: `{"data":"${r.marker}${filler}"}`,
      marker: r.marker,
      subject: r.subject,
      overLimit: true
    }
  })

  /** Ids that try to leave their path segment, or are not ids at all. */
  const pathTricks = fc.record({
    marker: markerArb,
    route: fc.nat(7),
    subject: fc.nat(99),
    id: fc.oneof(
      fc.constantFrom(
        "..",
        "%2e%2e",
        "%2E%2E%2F",
        "..%2F..%2Fadmin%2Fstats",
        "%2F",
        "%00",
        "a%00b",
        "%252e%252e",
        "%ff%fe",
        ".",
        "~"
      ),
      fc.string({ unit: fc.constantFrom("%2F", "%2e", "..", "%00", "%5C", "x"), minLength: 1, maxLength: 12 }),
      fc.integer({ min: 200, max: 12_000 }).map((n) => "A".repeat(n)),
      weird.map(percentEncode)
    )
  }).map((r): Probe => {
    const [method, path] = sessionPaths(r.id)[r.route]!
    return {
      ...base,
      category: "path tricks",
      method,
      path: `${path}?note=${r.marker}`,
      marker: r.marker,
      subject: r.subject
    }
  })

  /** Forged, expired, misaddressed or malformed tokens on routes that need one. */
  const forged = fc.record({
    marker: markerArb,
    id: fc.oneof(idLike, fc.constantFrom(...targets.victimIds)),
    route: fc.nat(7),
    subject: fc.nat(99),
    token: fc.constantFrom<TokenKind>(
      "none",
      "not-bearer",
      "alg-none",
      "wrong-key",
      "expired",
      "wrong-audience",
      "no-audience",
      "garbage",
      "huge"
    )
  }).map((r): Probe => {
    const [method, path] = r.route === 7 ? ["GET", "/admin/stats"] as const : sessionPaths(r.id)[r.route]!
    return {
      ...base,
      category: "forged tokens",
      method,
      path,
      token: r.token,
      marker: r.marker,
      subject: r.subject,
      headers: { "x-request-id": r.marker }
    }
  })

  /** Well-formed calls with a valid token of another owner on the victim's sessions. */
  const crossOwner = fc.record({
    marker: markerArb,
    id: fc.constantFrom(...targets.victimIds),
    route: fc.nat(8),
    subject: fc.nat(99)
  }).map((r): Probe => {
    if (r.route === 8) {
      return {
        ...base,
        category: "cross owner",
        method: "PUT",
        path: "/active",
        body: JSON.stringify({ id: r.id }),
        marker: r.marker,
        subject: r.subject,
        crossOwner: true
      }
    }
    const [method, path] = sessionPaths(r.id)[r.route]!
    const body = method === "PUT" || method === "PATCH"
      ? JSON.stringify({ stolen: r.marker })
      : path.endsWith("/activity")
      ? JSON.stringify({ messages: 1 })
      : undefined
    return {
      ...base,
      category: "cross owner",
      method,
      path: method === "DELETE" ? `${path}?reason=${r.marker}` : path,
      body,
      marker: r.marker,
      subject: r.subject,
      crossOwner: true
    }
  })

  /** Bodies under content types the API does not speak. */
  const contentTypes = fc.record({
    marker: markerArb,
    id: idLike,
    route: fc.nat(6),
    subject: fc.nat(99),
    type: fc.constantFrom(
      "multipart/form-data",
      "multipart/form-data; boundary=xyz",
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/octet-stream",
      "application/json; charset=utf-16",
      "application/xml",
      "",
      "application/json, text/plain"
    )
  }).map((r): Probe => {
    const [method, path] = bodyRoutes(r.id)[r.route]!
    const body = r.type.startsWith("multipart")
      ? `--xyz\r\nContent-Disposition: form-data; name="kind"\r\n\r\n${r.marker}\r\n--xyz\r\nContent-Disposition: form-data; name="data"; filename="a.txt"\r\n\r\n${r.marker}\r\n--xyz--\r\n`
      : r.type.includes("urlencoded")
      ? `kind=${r.marker}&data=${r.marker}`
      : `kind: ${r.marker}`
    return {
      ...base,
      category: "content types",
      method,
      path,
      body,
      headers: { "content-type": r.type },
      marker: r.marker,
      subject: r.subject
    }
  })

  /** Query strings and headers of the wrong form. */
  const params = fc.record({
    marker: markerArb,
    id: idLike,
    subject: fc.nat(99),
    which: fc.nat(5),
    value: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom("-1", "0", "1e9", "NaN", "99999999999999999999", "\"1\"", "W/\"1\"", "*,*")
    )
  }).map((r): Probe => {
    const v = percentEncode(`${r.value}${r.marker}`)
    const raw = `${r.value.replace(/[^\x20-\x7e]/g, "")}${r.marker}`
    const probes: ReadonlyArray<Omit<Probe, "category" | "marker" | "subject" | "token" | "crossOwner" | "overLimit">> =
      [
        { method: "GET", path: `/sessions?limit=${v}`, headers: {}, body: undefined },
        { method: "GET", path: `/sessions?after=${v}&status=${v}&kind=${v}`, headers: {}, body: undefined },
        { method: "PUT", path: `/sessions/${r.id}/data`, headers: { "if-match": raw }, body: "{}" },
        { method: "GET", path: `/events`, headers: { "last-event-id": raw }, body: undefined },
        { method: "GET", path: `/no/such/${v}`, headers: {}, body: undefined },
        { method: "DELETE", path: `/sessions/${r.id}?reason=${v}`, headers: { "x-request-id": raw }, body: undefined }
      ]
    return { ...base, ...probes[r.which]!, category: "params and headers", marker: r.marker, subject: r.subject }
  })

  return fc.oneof(
    { weight: 3, arbitrary: wrongTypes },
    { weight: 2, arbitrary: malformed },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: huge },
    { weight: 2, arbitrary: pathTricks },
    { weight: 2, arbitrary: forged },
    { weight: 2, arbitrary: crossOwner },
    { weight: 1, arbitrary: contentTypes },
    { weight: 2, arbitrary: params }
  )
}
