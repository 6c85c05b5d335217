/**
 * The example chat app end to end in a real browser: Debian's Chromium driven by playwright-core, the app served on a
 * SQLite file over loopback. The page is opened as `http://localhost`, which browsers treat as a secure origin, so
 * the app's default `Secure` cookie is kept as it would be over HTTPS.
 */
import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { ChatApp } from "../../examples/chat-app.js"
import { tempDir } from "../support/sqlite.js"

/** Debian's Chromium, found on the PATH (`.ci/run` installs the `chromium` package when it is missing). */
const executablePath = ChildProcess.execFileSync("which", ["chromium"], { encoding: "utf8" }).trim()

const browser = Effect.acquireRelease(
  Effect.promise(() =>
    chromium.launch({
      executablePath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run"
      ]
    })
  ),
  (launched: Browser) => Effect.promise(() => launched.close())
)

/** The app on a free port over a fresh SQLite file; its base URL. */
const app = Effect.gen(function*() {
  const dir = yield* tempDir
  const context = yield* Layer.build(
    ChatApp({ port: 0, filename: Path.join(dir, "sessions.db"), tokenDelay: "20 millis" })
  )
  const address = context.unsafeMap.get(HttpServer.HttpServer.key) as HttpServer.HttpServer
  return `http://localhost:${(address.address as HttpServer.TcpAddress).port}`
})

/** What the app answers `/api/me` for a request carrying `cookie`, asked outside the browser. */
const me = (url: string, cookie: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/api/me`, { headers: { cookie: `session=${cookie}` } })
    return { status: response.status, body: await response.json() as unknown }
  })

const cookieOf = async (page: Page) => (await page.context().cookies()).find((cookie) => cookie.name === "session")

describe("the example chat app in Chromium", () => {
  it.scopedLive("log in, chat with a streamed reply, reload, log out; the ids before login and logout are refused", () =>
    Effect.gen(function*() {
      const url = yield* app
      const launched = yield* browser
      const page = yield* Effect.promise(() => launched.newPage())
      const ids = yield* Effect.promise(async () => {
        await page.goto(url)
        await page.waitForSelector("body[data-ready='0']")
        expect(await page.textContent("#who")).toBe("guest")
        // Reading the session creates none: no cookie until the visitor does something.
        expect(await cookieOf(page)).toBeUndefined()

        // A guest's first message creates the session; the reply streams in token by token.
        await page.fill("#message", "hello there")
        await page.click("#send")
        await page.waitForSelector("body[data-ready='2']")
        expect(await page.textContent("#reply")).toBe("You said: hello there")
        const guestCookie = await cookieOf(page)
        expect(guestCookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Lax", path: "/" })
        // Max-Age follows the session's 30-minute idle timeout.
        const lifetime = guestCookie!.expires - Date.now() / 1000
        expect(lifetime).toBeGreaterThan(29 * 60)
        expect(lifetime).toBeLessThanOrEqual(30 * 60 + 1)
        // Scripts on the page never see it.
        expect(await page.evaluate("document.cookie")).toBe("")

        // Login rotates the id and keeps the conversation.
        await page.fill("#user", "alice")
        await page.click("#login")
        await page.waitForSelector("#who:has-text('logged in as alice')")
        const loggedIn = await cookieOf(page)
        expect(loggedIn!.value).not.toBe(guestCookie!.value)
        expect(await page.locator("#transcript li").allTextContents()).toEqual([
          "user: hello there",
          "assistant: You said: hello there"
        ])

        // The session carries across reloads.
        await page.reload()
        await page.waitForSelector("body[data-ready='2']")
        expect(await page.textContent("#who")).toBe("logged in as alice")
        expect((await cookieOf(page))!.value).toBe(loggedIn!.value)

        await page.click("#logout")
        await page.waitForSelector("#who:has-text('guest')")
        expect(await cookieOf(page)).toBeUndefined()
        await page.reload()
        await page.waitForSelector("body[data-ready='0']")
        return { guest: guestCookie!.value, loggedIn: loggedIn!.value }
      })
      // The id from before login and the one from before logout name no session any more.
      for (const id of [ids.guest, ids.loggedIn]) {
        expect(yield* me(url, id)).toEqual({ status: 200, body: { user: null, turns: [] } })
      }
    }))
})
