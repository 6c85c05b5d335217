/**
 * A request that did not match its schema, as `InvalidInput` naming the field and saying what it should have been,
 * built from the schema's side of each issue only: the value sent is never quoted back.
 */
import type { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import { InvalidInput } from "../../../domain/Errors.js"

const seeDocs = "what the OpenAPI document at /openapi.json describes"

/** What one issue says was expected, without what was there (`Expected string, actual 5` gives `string`). */
const expectedIn = (message: string): string | undefined =>
  /^Expected ([\s\S]+?), actual /.exec(message)?.[1] ?? / into (an? [\w ]+)$/.exec(message)?.[1]

/**
 * The first problem of a request that did not match its schema: the field (its path; `body` for the whole body), and
 * every form the schema allowed there (the alternatives of a union joined by "or"; an optional field's `undefined`
 * left out).
 */
export const decodeFailure = (error: HttpApiDecodeError): InvalidInput => {
  const first = error.issues[0]
  if (first === undefined) {
    return new InvalidInput({ field: "request", reason: "does not match the API", expected: seeDocs })
  }
  const at = first.path.map(String).join(".")
  const field = at === "" ? "body" : at
  const here = error.issues.filter((issue) => issue.path.map(String).join(".") === at)
  const forms = [...new Set(here.flatMap((issue) => expectedIn(issue.message) ?? []))].filter((form) =>
    form !== "undefined"
  )
  const expected = forms.length === 0 ? seeDocs : forms.join(" or ").slice(0, 300)
  return here.some((issue) => issue._tag === "Missing")
    ? new InvalidInput({ field, reason: "is missing", expected })
    : new InvalidInput({ field, reason: "is not of the expected type or form", expected })
}
