/** `config check` and `config reference`: the settings in effect, and every setting there is. */
import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { configReference } from "../../../domain/Config.js"
import { serviceConfigReference } from "../../../startup/ServiceTools.js"
import { storeReference } from "../../../startup/Startup.js"
import { json, settings } from "./common.js"
import { formatSettings, table } from "./output.js"

const check = Command.make("check", { json }, ({ json }) =>
  Effect.gen(function*() {
    const current = yield* settings
    const rows = formatSettings(current)
    if (json) return yield* Console.log(JSON.stringify(Object.fromEntries(rows), null, 2))
    yield* Console.log(table(["setting", "value"], rows.map(([name, value]) => [name, value])))
    yield* Console.log("configuration is valid")
  })).pipe(Command.withDescription("Check every SESSIONS_* setting and print the values in effect"))

const reference = Command.make("reference", {}, () =>
  Console.log(
    table(
      ["variable", "default", "meaning"],
      [...configReference, ...serviceConfigReference, ...storeReference].map((row) => [
        row.env,
        row.default,
        row.doc
      ])
    )
  )).pipe(Command.withDescription("List every setting with its default"))

/** `config`, with its subcommands `check` and `reference`. */
export const config = Command.make("config").pipe(
  Command.withDescription("Check the configuration"),
  Command.withSubcommands([check, reference])
)
