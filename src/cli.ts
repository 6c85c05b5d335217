/** `effect-sessions/cli`: the operator CLI's command tree, to embed or extend (the `effect-sessions` binary runs it). */
export * as Cli from "./adapters/cli/Cli.js"
/** The start-up wiring `serve` and the CLI share: settings from `SESSIONS_*` variables and the whole service. */
export * as Startup from "./startup/Startup.js"
