/**
 * Compiling the launcher (src/launcher/launcher.c, shipped in the package)
 * with a C compiler. Used by the repository's build (scripts/build-launcher.mjs,
 * which also cross-compiles the other arch for the published package) and by
 * `ns-isolated build-launcher` on a user's machine where no prebuilt binary
 * matches. Never at `npm install`.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
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
  /**
   * The compiler command (`cc`, `aarch64-linux-gnu-gcc`, …). Default: `CC`,
   * else `musl-gcc` where installed (falling back to `cc` if it fails), else `cc`.
   */
  cc?: string
  out: string
  /** Refuse a dynamically linked binary (a published binary must run on any distribution of its arch). */
  staticOnly?: boolean
  source?: string
  version?: string
}

export type CompileResult =
  | { ok: true; out: string; static: boolean; compiler: string; warning?: string }
  | { ok: false; error: string }

/**
 * The compiler to use when none is named: glibc's static start-up probes the
 * CPU with dozens of CPUID instructions, each a trap to the hypervisor in a
 * VM (most CI), ~0.7 ms of CPU per launcher start on a 2-vCPU VM; musl's does
 * none (docs/performance.md, "Sandbox start-up").
 */
function defaultCompilers(): string[] {
  if (process.env.CC) return [process.env.CC]
  return spawnSync('sh', ['-c', 'command -v musl-gcc'], { stdio: 'ignore' }).status === 0 ? ['musl-gcc', 'cc'] : ['cc']
}

/**
 * Debian's musl-gcc sees musl's headers only; the launcher needs the
 * kernel's (linux/, asm/, asm-generic/), which are libc-neutral. A directory
 * of links to just those, so no glibc header can slip in.
 */
function kernelHeaders(cc: string): { dir: string; args: string[] } | undefined {
  if (basename(cc) !== 'musl-gcc') return undefined
  const machine = spawnSync(cc, ['-dumpmachine'], { encoding: 'utf8' }).stdout?.trim() ?? ''
  const found: Record<string, string | undefined> = {
    linux: '/usr/include/linux',
    'asm-generic': '/usr/include/asm-generic',
    asm: [`/usr/include/${machine}/asm`, '/usr/include/asm'].find((d) => existsSync(d)),
  }
  const dir = mkdtempSync(join(tmpdir(), 'ns-isolated-kernel-headers-'))
  for (const [name, target] of Object.entries(found)) {
    if (target && existsSync(target)) symlinkSync(target, join(dir, name))
  }
  return { dir, args: ['-isystem', dir] }
}

/**
 * Compiles the launcher into `out` with `o.cc`, or with the first of the
 * default compilers that succeeds (see `defaultCompilers`).
 */
export function compileLauncher(o: CompileOptions): CompileResult {
  if (o.cc) return compileWith(o.cc, o)
  const [first, ...rest] = defaultCompilers()
  // musl-gcc is worth it static only; else the next compiler.
  let r = compileWith(first as string, rest.length > 0 ? { ...o, staticOnly: true } : o)
  for (const cc of rest) {
    if (r.ok) break
    const failed = r.error
    r = compileWith(cc, o)
    if (r.ok) r.warning = [`${first} failed, built with ${cc} instead: ${failed}`, r.warning].filter(Boolean).join('; ')
  }
  return r
}

/**
 * Compiles the launcher into `out` (written to a temp name, then renamed, so
 * a running sandbox never sees a half-written binary). Static first, so the
 * binary runs on glibc and musl alike; a dynamic binary when no static libc
 * is installed, unless `staticOnly`.
 */
function compileWith(compiler: string, o: CompileOptions): CompileResult {
  const tmp = `${o.out}.${process.pid}.tmp`
  try {
    mkdirSync(dirname(o.out), { recursive: true })
  } catch (e) {
    return { ok: false, error: `cannot create ${dirname(o.out)} (${(e as NodeJS.ErrnoException).code})` }
  }
  const version = JSON.stringify(o.version ?? packageVersion())
  const headers = kernelHeaders(compiler)
  const base = [
    '-O2',
    '-s',
    '-Wall',
    '-Wextra',
    '-Werror',
    ...(headers?.args ?? []),
    `-DNS_ISOLATED_VERSION=${version}`,
    '-o',
    tmp,
  ]
  try {
    return compileIn(compiler, base, tmp, o)
  } finally {
    if (headers) rmSync(headers.dir, { recursive: true, force: true })
  }
}

function compileIn(compiler: string, base: string[], tmp: string, o: CompileOptions): CompileResult {
  const cc = (args: string[]) => spawnSync(compiler, [...args, o.source ?? launcherSource], { encoding: 'utf8' })
  let r = cc(['-static', ...base])
  if (r.error) {
    return {
      ok: false,
      error: `cannot run the C compiler '${compiler}' (${(r.error as NodeJS.ErrnoException).code}). Install one (${COMPILER_HINT}), or name it in CC.`,
    }
  }
  let linkedStatic = true
  let warning: string | undefined
  if (r.status !== 0) {
    if (o.staticOnly) {
      rmSync(tmp, { force: true })
      return { ok: false, error: `'${compiler} -static' failed (is the static libc installed?):\n${r.stderr}` }
    }
    warning = `a static link failed (no static libc? ${COMPILER_HINT}); built a dynamically linked launcher instead`
    linkedStatic = false
    r = cc(base)
    if (r.status !== 0) {
      rmSync(tmp, { force: true })
      return { ok: false, error: `'${compiler}' failed:\n${r.stderr}` }
    }
  }
  renameSync(tmp, o.out)
  return warning
    ? { ok: true, out: o.out, static: linkedStatic, compiler, warning }
    : { ok: true, out: o.out, static: linkedStatic, compiler }
}
