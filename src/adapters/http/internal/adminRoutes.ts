/**
 * The handlers of the operator routes (any owner's sessions, stats, sweeps, backups, the origin allow-list, every
 * owner's events) and of health, readiness and metrics.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Option, Ref } from "effect"
import { SessionNotFound, StoreError } from "../../../domain/Errors.js"
import { SessionBackup } from "../../../services/SessionBackup.js"
import { SessionManager } from "../../../services/SessionManager.js"
import { CurrentPrincipal, SessionsApi } from "../Api.js"
import { originExpected, originPattern } from "../ServiceConfig.js"
import { HttpService } from "./HttpService.js"
import * as Prometheus from "./prometheus.js"
import { events, invalid, page } from "./sessionRoutes.js"

/** A backup file name: letters, digits, `.`, `_` and `-`, not starting with a dot. */

/** The operator routes. */
export const adminRoutes = HttpApiBuilder.group(SessionsApi, "admin", (handlers) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager
    const service = yield* HttpService
    // Backups come from the store's own writer, when the service runs on a store that has one.
    const backups = yield* Effect.serviceOption(SessionBackup)
    return handlers
      .handle("stats", () => manager.stats)
      .handle("sessions", ({ urlParams }) => Effect.map(manager.list(urlParams), page))
      .handle("close", ({ path, urlParams }) => manager.close(path.id, { reason: urlParams.reason }))
      .handle("remove", ({ path, urlParams }) =>
        Effect.flatMap(
          manager.remove(path.id, { reason: urlParams.reason ?? "removed by an operator over HTTP" }),
          (removed) =>
            removed
              ? Effect.succeed({ id: path.id, removed: true as const })
              : Effect.fail(new SessionNotFound({ id: path.id }))
        ))
      .handle("sweep", () => manager.sweep)
      .handle("backup", ({ payload }) =>
        Effect.gen(function*() {
          if (Option.isNone(backups)) {
            return yield* Effect.fail(
              new StoreError({ operation: "backup", reason: "this service's store writes no backups" })
            )
          }
          const now = new Date(yield* Clock.currentTimeMillis)
          const name = payload?.name ?? `sessions-${now.toISOString().replace(/[:.]/g, "-")}.backup`
          const report = yield* backups.value.backup(name)
          return { ...report, skipped: report.skipped.length }
        }))
      .handle("origins", () => Effect.map(Ref.get(service.origins), (origins) => ({ origins: [...origins] })))
      .handle("setOrigins", ({ payload }) =>
        Effect.gen(function*() {
          const bad = payload.origins.findIndex((origin) => !originPattern.test(origin))
          if (bad >= 0) return yield* Effect.fail(invalid(`origins.${bad}`, "is not an origin", originExpected))
          yield* Ref.set(service.origins, new Set(payload.origins))
          yield* Effect.logInfo("allowed origins replaced").pipe(Effect.annotateLogs("origins", payload.origins))
          return { origins: payload.origins }
        }))
      .handleRaw("events", ({ request }) =>
        Effect.flatMap(
          CurrentPrincipal,
          (principal) => events(service, principal.subject, request.headers["last-event-id"], () => true)
        ))
  }))

/** Health, readiness and metrics. */
export const systemRoutes = HttpApiBuilder.group(SessionsApi, "system", (handlers) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "up" as const }))
      .handle("readyz", () => Effect.as(manager.stats, { status: "ready" as const }))
      .handleRaw("metrics", () =>
        Effect.map(Prometheus.scrape, (text) =>
          HttpServerResponse.text(text, { contentType: Prometheus.contentType })))
  }))
