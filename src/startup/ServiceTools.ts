/**
 * What the operator CLI uses of the HTTP service besides running it: the service's signing secret (read it, check
 * its file, mint tokens with it) and the reference of the service's settings. The CLI reaches them here, through
 * start-up (the one place that knows the adapters), never by importing the HTTP adapter itself.
 */
export {
  describeSource,
  existingSigningKey,
  howToGenerate,
  mintToken,
  readSecret,
  secretFileExposed,
  type SecretReading,
  secretVariable
} from "../adapters/http/Auth.js"
export { serviceConfigReference } from "../adapters/http/ServiceConfig.js"
