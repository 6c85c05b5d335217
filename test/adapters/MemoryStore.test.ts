import { MemoryStore } from "../../src/index.js"
import { sessionStoreContract } from "../contract/SessionStoreContract.js"

sessionStoreContract("MemoryStore", MemoryStore.layer)
