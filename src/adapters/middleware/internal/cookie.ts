/**
 * The session cookie: its settings, validated once when the middleware is built, and the `Set-Cookie` each response
 * that changes the session carries.
 */
import { Cookies, HttpServerResponse } from "@effect/platform"
import { Either } from "effect"
import { InvalidConfig } from "../../../domain/Errors.js"

/** The session cookie's attributes as an app writes them; every one has a safe default. */
export interface CookieOptions {
  /** The cookie's name. Default `"session"`. */
  readonly name?: string | undefined
  /** `Secure`: sent over HTTPS only. Default `true`; turn it off only for local development over plain HTTP. */
  readonly secure?: boolean | undefined
  /** `SameSite`. Default `"lax"`; `"none"` requires `secure`. */
  readonly sameSite?: "lax" | "strict" | "none" | undefined
  /** `Path`. Default `"/"`. */
  readonly path?: string | undefined
  /** `Domain`, to share the cookie with subdomains. Default: none (this host only). */
  readonly domain?: string | undefined
}

/** Validated cookie settings. `HttpOnly` is always set: scripts never see the session id. */
export interface CookieSettings {
  readonly name: string
  readonly secure: boolean
  readonly sameSite: "lax" | "strict" | "none"
  readonly path: string
  readonly domain: string | undefined
}

/** The settings for `options`, or `InvalidConfig` naming every bad attribute. */
export const cookieSettings = (options: CookieOptions = {}): Either.Either<CookieSettings, InvalidConfig> => {
  const settings: CookieSettings = {
    name: options.name ?? "session",
    secure: options.secure ?? true,
    sameSite: options.sameSite ?? "lax",
    path: options.path ?? "/",
    domain: options.domain
  }
  const issues: Array<{ field: string; reason: string }> = []
  const made = Cookies.makeCookie(settings.name, "probe", attributes(settings, 60))
  if (Either.isLeft(made)) {
    const field = { InvalidName: "name", InvalidDomain: "domain", InvalidPath: "path" }[made.left.reason as string]
    issues.push({ field: `cookie.${field ?? "name"}`, reason: `is not valid in a cookie (${made.left.reason})` })
  }
  if (!["lax", "strict", "none"].includes(settings.sameSite)) {
    issues.push({ field: "cookie.sameSite", reason: `expected lax, strict or none, got ${String(settings.sameSite)}` })
  }
  if (settings.sameSite === "none" && !settings.secure) {
    issues.push({ field: "cookie.sameSite", reason: "none requires secure (browsers drop the cookie otherwise)" })
  }
  return issues.length > 0 ? Either.left(new InvalidConfig({ issues })) : Either.right(settings)
}

const attributes = (settings: CookieSettings, maxAgeSeconds: number): Cookies.Cookie["options"] => ({
  httpOnly: true,
  secure: settings.secure,
  sameSite: settings.sameSite,
  path: settings.path,
  domain: settings.domain,
  maxAge: `${maxAgeSeconds} seconds`
})

/** `response` setting the session cookie to `id`, kept by the browser for `maxAgeMillis` (the session's expiry). */
export const withSessionCookie = (
  response: HttpServerResponse.HttpServerResponse,
  settings: CookieSettings,
  id: string,
  maxAgeMillis: number
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeSetCookie(
    response,
    settings.name,
    id,
    attributes(settings, Math.max(0, Math.floor(maxAgeMillis / 1000)))
  )

/** `response` telling the browser to drop the session cookie. */
export const withoutSessionCookie = (
  response: HttpServerResponse.HttpServerResponse,
  settings: CookieSettings
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeSetCookie(response, settings.name, "", {
    ...attributes(settings, 0),
    expires: new Date(0)
  })
