/**
 * `effect-sessions/middleware`: sessions inside an app's own Effect HTTP server (`HttpApi`, `HttpRouter` or
 * `HttpApp`), from a cookie or a header. It loads no database driver; the app provides a `SessionManager` over the
 * store of its choice.
 */
export * as SessionMiddleware from "./adapters/middleware/SessionMiddleware.js"
