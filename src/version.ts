/** The package's version, read from `package.json`, its one source (the CLI's `--version` and the OpenAPI document). */
import { createRequire } from "node:module"

export const version: string = (createRequire(import.meta.url)("../package.json") as { readonly version: string })
  .version
