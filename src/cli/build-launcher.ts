/**
 * `ns-isolated build-launcher`: compiles the launcher shipped as source
 * (src/launcher/launcher.c) for this machine's arch, for a platform the
 * package has no prebuilt binary for (or to rebuild one). Into the package's
 * own prebuilds directory when it is writable, where the runtime looks; else
 * into the user's cache, printing the `NS_ISOLATED_LAUNCHER=` line to set.
 */
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { compileLauncher, packageVersion, prebuiltLauncher } from '../launcher/build.ts'

export interface BuildLauncherOptions {
  cc?: string
  out?: string
}

/** The nearest existing directory at or above `dir` is writable by us. */
function writableDir(dir: string): boolean {
  let d = dir
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d)
  try {
    accessSync(d, constants.W_OK)
    return true
  } catch {
    return false
  }
}

function userCache(arch: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(base, 'ns-isolated', `launcher-${packageVersion()}-linux-${arch}`, 'ns-isolated-launcher')
}

/** Builds the launcher; returns the exit code (0 built, 1 the compiler failed). */
export function buildLauncher(options: BuildLauncherOptions, out = process.stdout, err = process.stderr): number {
  const arch = process.arch
  const prebuilt = prebuiltLauncher(arch)
  const target = options.out ? resolve(options.out) : writableDir(dirname(prebuilt)) ? prebuilt : userCache(arch)
  const r = compileLauncher(options.cc ? { cc: options.cc, out: target } : { out: target })
  if (!r.ok) {
    err.write(`ns-isolated build-launcher: ${r.error}\n`)
    return 1
  }
  if (r.warning) err.write(`ns-isolated build-launcher: ${r.warning}\n`)
  const probe = spawnSync(target, ['--version'], { encoding: 'utf8' })
  const runs =
    probe.status === 0 ? probe.stdout.trim() : `it does not run here: ${probe.error?.message ?? probe.stderr}`
  out.write(
    `ns-isolated build-launcher: built ${target} (${r.compiler}, ${r.static ? 'static' : 'dynamic'}; ${runs})\n`,
  )
  if (target !== prebuilt) {
    const why = options.out
      ? 'it is not where ns-isolated looks'
      : `the package's prebuilds directory (${dirname(prebuilt)}) is not writable`
    out.write(`${why}: set this in the environment of your test runs:\n  export NS_ISOLATED_LAUNCHER=${target}\n`)
  }
  return probe.status === 0 ? 0 : 1
}
