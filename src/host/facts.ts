/**
 * Facts about the host that decide what can work and explain what did not:
 * read from /proc and /sys, never guessed from kernel versions. Every reader
 * takes its root so tests can point it at a fake tree.
 */
import { existsSync, readFileSync } from 'node:fs'
import { release } from 'node:os'

export interface HostFacts {
  platform: string
  kernel: string
  uid: number
  /** kernel.unprivileged_userns_clone (Debian/Ubuntu patch); undefined when absent. */
  unprivilegedUsernsClone: number | undefined
  /** user.max_user_namespaces */
  maxUserNamespaces: number | undefined
  /** kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+) */
  apparmorRestrictsUserns: boolean
  /** A seccomp filter is installed on this process (Docker's default profile is one). */
  seccompFiltered: boolean
  /** Signs of a container: /.dockerenv, /run/.containerenv, or container= in PID 1's environment. */
  container: string | undefined
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim())
    return Number.isFinite(n) ? n : undefined
  } catch {
    return undefined
  }
}

export function readHostFacts(root = ''): HostFacts {
  let seccompFiltered = false
  try {
    seccompFiltered = /^Seccomp:\s*2$/m.test(readFileSync(`${root}/proc/self/status`, 'utf8'))
  } catch {}
  let container: string | undefined
  if (existsSync(`${root}/.dockerenv`)) container = 'docker'
  else if (existsSync(`${root}/run/.containerenv`)) container = 'podman'
  return {
    platform: process.platform,
    kernel: release(),
    uid: process.getuid?.() ?? -1,
    unprivilegedUsernsClone: readNumber(`${root}/proc/sys/kernel/unprivileged_userns_clone`),
    maxUserNamespaces: readNumber(`${root}/proc/sys/user/max_user_namespaces`),
    apparmorRestrictsUserns: readNumber(`${root}/proc/sys/kernel/apparmor_restrict_unprivileged_userns`) === 1,
    seccompFiltered,
    container,
  }
}
