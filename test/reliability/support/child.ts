/**
 * Child processes that run TypeScript sources through vite-node (as test/sqlite/Processes.test.ts does), with node
 * flags of their own (`--expose-gc`), and that report by printing one JSON object per line.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import * as Path from "node:path"

const require = createRequire(import.meta.url)
const viteNode = Path.join(Path.dirname(require.resolve("vite-node/package.json")), "vite-node.mjs")

/** A running child: its JSON lines so far, its stderr, and its exit code. */
export interface Child {
  readonly process: ChildProcess
  readonly lines: Array<Record<string, unknown>>
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

/** Starts `script` (a .ts file) with `args`, node run with `nodeFlags`; whole JSON lines are collected. */
export const startChild = (
  script: string,
  args: ReadonlyArray<string>,
  nodeFlags: ReadonlyArray<string> = []
): Child => {
  const child = spawn(process.execPath, [...nodeFlags, viteNode, script, ...args], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  const lines: Array<Record<string, unknown>> = []
  let buffer = ""
  let errors = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk
    const complete = buffer.split("\n")
    buffer = complete.pop()!
    for (const line of complete) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        errors += `${line}\n`
      }
    }
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    errors += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { process: child, lines, stderr: () => errors, exited }
}
