/**
 * effect-sessions: a session runtime for Effect. The core entry point: the domain, the `SessionStore` port and the
 * in-memory store. It loads no database driver; storage adapters live at their own subpaths.
 */
export * as MemoryStore from "./adapters/memory/MemoryStore.js"
export * from "./domain/Activity.js"
export * from "./domain/Config.js"
export * from "./domain/Data.js"
export * from "./domain/Errors.js"
export * from "./domain/Events.js"
export * from "./domain/Expiry.js"
export * from "./domain/Ids.js"
export * from "./domain/Lifecycle.js"
export * from "./domain/Session.js"
export * as SessionManager from "./services/SessionManager.js"
export * from "./services/SessionStore.js"
export * as TypedSessions from "./services/TypedSessions.js"
