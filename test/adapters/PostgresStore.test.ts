import { sessionStoreContract } from "../contract/SessionStoreContract.js"
import { postgresLayer } from "../support/postgres.js"

sessionStoreContract("PostgresStore", postgresLayer(), { propertyRuns: 20 })
