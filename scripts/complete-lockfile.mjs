// Completes package-lock.json with the platform-specific optional packages a filtered registry mirror does not serve
// (rollup, msgpackr-extract builds for other systems). npm writes a lockfile without them and `npm ci` then refuses
// it; each added entry names the version its parent asks for and the os/cpu/libc its name says, so `npm ci` skips it
// on other platforms and fetches it by name and version where it applies. Run after `npm install`.
import * as Fs from "node:fs"
import * as Path from "node:path"

const file = Path.join(import.meta.dirname, "..", "package-lock.json")
const lock = JSON.parse(Fs.readFileSync(file, "utf8"))
const packages = lock.packages

const platformOf = (name) => {
  const parts = name.split("/").pop().split("-")
  const os = ["darwin", "linux", "win32", "freebsd", "openbsd", "android", "openharmony", "sunos", "aix", "netbsd"]
    .find((candidate) => parts.includes(candidate))
  const cpu = ["arm64", "x64", "ia32", "arm", "loong64", "ppc64", "riscv64", "s390x", "mips64el"]
    .find((candidate) => parts.includes(candidate) || parts.includes(`${candidate}eabi`))
  const libc = parts.includes("musl") || parts.includes("musleabihf")
    ? "musl"
    : parts.includes("gnu") || parts.includes("gnueabihf")
    ? "glibc"
    : undefined
  return os === undefined || cpu === undefined ? undefined : { os, cpu, libc }
}

let added = 0
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const target = `node_modules/${name}`
    const nested = `${path}/node_modules/${name}`
    if (packages[target] !== undefined || packages[nested] !== undefined) continue
    const platform = platformOf(name)
    if (platform === undefined) throw new Error(`${name} is missing from the lockfile and is not a platform build`)
    packages[target] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [platform.os],
      cpu: [platform.cpu],
      ...(platform.libc ? { libc: [platform.libc] } : {})
    }
    added++
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1))
)
Fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`package-lock.json: ${added} platform entries added`)
