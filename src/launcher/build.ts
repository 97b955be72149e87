/**
 * Compiling the launcher (src/launcher/launcher.c, shipped in the package)
 * with a C compiler. Used by the repository's build (scripts/build-launcher.mjs,
 * which also cross-compiles the other arch for the published package) and by
 * `ns-isolated build-launcher` on a user's machine where no prebuilt binary
 * matches. Never at `npm install`.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package's root (the repository's, or the installed package's). */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url))

/** The C source, as shipped. */
export const launcherSource = join(packageRoot, 'src/launcher/launcher.c')

/** Where the runtime looks for the launcher of an arch (see host/launcher-binary.ts). */
export function prebuiltLauncher(arch: string = process.arch): string {
  return join(packageRoot, 'prebuilds', `linux-${arch}`, 'ns-isolated-launcher')
}

/** The package's version (`ns-isolated --version`, and the launcher's own `--version`). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version
}

/** What to install for a C compiler and a static libc, per distribution. */
export const COMPILER_HINT = 'Debian/Ubuntu: apt-get install gcc libc6-dev; Alpine: apk add build-base'

export interface CompileOptions {
  /** The compiler command (`cc`, `aarch64-linux-gnu-gcc`, …). */
  cc: string
  out: string
  /** Refuse a dynamically linked binary (a published binary must run on any distribution of its arch). */
  staticOnly?: boolean
  source?: string
  version?: string
}

export type CompileResult = { ok: true; out: string; static: boolean; warning?: string } | { ok: false; error: string }

/**
 * Compiles the launcher into `out` (written to a temp name, then renamed, so
 * a running sandbox never sees a half-written binary). Static first, so the
 * binary runs on glibc and musl alike; a dynamic binary when no static libc
 * is installed, unless `staticOnly`.
 */
export function compileLauncher(o: CompileOptions): CompileResult {
  const tmp = `${o.out}.${process.pid}.tmp`
  try {
    mkdirSync(dirname(o.out), { recursive: true })
  } catch (e) {
    return { ok: false, error: `cannot create ${dirname(o.out)} (${(e as NodeJS.ErrnoException).code})` }
  }
  const version = JSON.stringify(o.version ?? packageVersion())
  const base = ['-O2', '-s', '-Wall', '-Wextra', '-Werror', `-DNS_ISOLATED_VERSION=${version}`, '-o', tmp]
  const cc = (args: string[]) => spawnSync(o.cc, [...args, o.source ?? launcherSource], { encoding: 'utf8' })
  let r = cc(['-static', ...base])
  if (r.error) {
    return {
      ok: false,
      error: `cannot run the C compiler '${o.cc}' (${(r.error as NodeJS.ErrnoException).code}). Install one (${COMPILER_HINT}), or name it in CC.`,
    }
  }
  let linkedStatic = true
  let warning: string | undefined
  if (r.status !== 0) {
    if (o.staticOnly) {
      rmSync(tmp, { force: true })
      return { ok: false, error: `'${o.cc} -static' failed (is the static libc installed?):\n${r.stderr}` }
    }
    warning = `a static link failed (no static libc? ${COMPILER_HINT}); built a dynamically linked launcher instead`
    linkedStatic = false
    r = cc(base)
    if (r.status !== 0) {
      rmSync(tmp, { force: true })
      return { ok: false, error: `'${o.cc}' failed:\n${r.stderr}` }
    }
  }
  renameSync(tmp, o.out)
  return warning
    ? { ok: true, out: o.out, static: linkedStatic, warning }
    : { ok: true, out: o.out, static: linkedStatic }
}
