import { SqliteStore } from "../../src/sqlite.js"
import { sessionStoreContract } from "../contract/SessionStoreContract.js"
import { sqliteLayer } from "../support/sqlite.js"

sessionStoreContract("SqliteStore (file, touches written behind)", sqliteLayer(), { propertyRuns: 40 })
sessionStoreContract("SqliteStore (file, every touch written)", sqliteLayer({ touchCoalesce: 0 }), { propertyRuns: 20 })
sessionStoreContract("SqliteStore (:memory:)", SqliteStore.layer({ filename: ":memory:" }), { propertyRuns: 20 })
