/** `effect-sessions/cli`: the operator CLI's command tree, to embed or extend (the `effect-sessions` binary runs it). */
export * as Cli from "./adapters/cli/Cli.js"
