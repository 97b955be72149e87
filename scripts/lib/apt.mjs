// Debian packages the project's scripts install for themselves, as root on a
// Debian/Ubuntu machine (the CI's clean clone): the cross compiler for the
// published arm64 launcher, qemu to run it. Anywhere else, the caller gets a
// sentence naming what to install.
import { spawnSync } from 'node:child_process'

let updated = false

/** True when `command` is on the PATH. */
export function have(command) {
  return spawnSync('sh', ['-c', `command -v "${command}"`], { stdio: 'ignore' }).status === 0
}

/**
 * Installs Debian `packages` (for `why`) when running as root with apt-get.
 * Returns undefined on success, else what the user must do.
 */
export function aptInstall(packages, why) {
  const line = `apt-get install ${packages.join(' ')}`
  if (process.getuid?.() !== 0 || !have('apt-get')) {
    return `${why} needs ${packages.join(', ')} (Debian/Ubuntu: sudo ${line})`
  }
  process.stderr.write(`${why}: ${line}\n`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const quiet = { stdio: ['ignore', 'ignore', 'inherit'], env }
  // Another apt (a second CI job on the machine, unattended-upgrades at boot) holds the lock: wait for it.
  const lock = ['-o', 'DPkg::Lock::Timeout=600']
  if (!updated) {
    spawnSync('apt-get', [...lock, 'update', '-qq'], quiet)
    updated = true
  }
  const r = spawnSync('apt-get', [...lock, 'install', '-y', '-qq', '--no-install-recommends', ...packages], quiet)
  return r.status === 0 ? undefined : `${why}: \`${line}\` failed (exit ${r.status})`
}
