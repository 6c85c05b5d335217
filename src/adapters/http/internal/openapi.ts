/** What the service changes in the OpenAPI document the platform generates from the API. */
const decodeErrorRef = "#/components/schemas/HttpApiDecodeError"

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

/**
 * The OpenAPI document without the platform's own decode error: the service answers a request that does not match
 * its schema with `InvalidInput` instead, so no operation returns it (and an operation that takes no input has no 400).
 */
export const withoutPlatformDecodeError = (spec: Record<string, unknown>): Record<string, unknown> => {
  for (const item of Object.values(isRecord(spec["paths"]) ? spec["paths"] : {})) {
    for (const operation of Object.values(isRecord(item) ? item : {})) {
      const responses = isRecord(operation) && isRecord(operation["responses"]) ? operation["responses"] : {}
      const response = responses["400"]
      const content = isRecord(response) && isRecord(response["content"]) ? response["content"]["application/json"] : {}
      if (!isRecord(content) || !isRecord(content["schema"])) continue
      const schema = content["schema"]
      const members = Array.isArray(schema["anyOf"]) ? schema["anyOf"] : [schema]
      const rest = members.filter((member: unknown) => !isRecord(member) || member["$ref"] !== decodeErrorRef)
      if (rest.length === 0) delete responses["400"]
      else content["schema"] = rest.length === 1 ? rest[0] : { ...schema, anyOf: rest }
    }
  }
  const components = spec["components"]
  if (isRecord(components) && isRecord(components["schemas"])) delete components["schemas"]["HttpApiDecodeError"]
  return spec
}
