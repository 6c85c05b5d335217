/**
 * `effect-sessions/http`: the HTTP service over a `SessionManager` (the `SessionsApi` definition, its server layer,
 * authentication helpers, the service settings, its JSON log lines and the status of every error).
 */
export * as Api from "./adapters/http/Api.js"
export * as Auth from "./adapters/http/Auth.js"
export * as HttpErrors from "./adapters/http/HttpErrors.js"
export * as Logging from "./adapters/http/Logging.js"
export * as Server from "./adapters/http/Server.js"
export * as ServiceConfig from "./adapters/http/ServiceConfig.js"
