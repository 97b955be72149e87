/**
 * Cleaning up after one file, inside the sandbox. In both modes the
 * environment kills the processes the file leaked (they are reported first).
 * In `reuse` mode it also resets what can be reset safely before the next
 * file of the same worker:
 *
 * - /tmp: every entry that is not (and does not hold) a mount point is
 *   removed. /tmp is the sandbox's own tmpfs; kept and writable paths under
 *   it are mounts and stay.
 * - the hostname, when the file changed it.
 *
 * What is NOT reset: the copy-on-write root. Its upper layers are visible
 * here only read-only (/dev/.ns-isolated), and overlayfs is undefined when a
 * layer changes under a mounted overlay; undoing a write through the merged
 * view is not possible either (deleting a copied-up file leaves a whiteout
 * that hides the host's original). Those writes never reach the host, but
 * later files of the same worker see them; they are listed per file.
 */
import { execFileSync } from 'node:child_process'
import { lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { ResetReport } from '../messages'
import { listProcesses } from './proc'

const STAGING = '/dev/.ns-isolated'
const WRITES_LIMIT = 200

/** SIGKILLs the given pids and waits (≤ 2 s) until they are gone or zombies. */
export async function killAll(pids: number[]): Promise<void> {
  if (pids.length === 0) return
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const deadline = performance.now() + 2000
  const wanted = new Set(pids)
  while (performance.now() < deadline) {
    if (!listProcesses().some((p) => wanted.has(p.pid) && p.state !== 'Z')) return
    await new Promise((r) => setTimeout(r, 5))
  }
}

function mountPoints(): string[] {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((p): p is string => p !== undefined)
      .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
  } catch {
    return []
  }
}

/** Removes what the file left in /tmp, sparing mount points and their parents. */
export function emptyTmp(): number {
  const mounts = mountPoints().filter((m) => m.startsWith('/tmp/'))
  let removed = 0
  let names: string[]
  try {
    names = readdirSync('/tmp')
  } catch {
    return 0
  }
  for (const name of names) {
    const path = join('/tmp', name)
    if (mounts.some((m) => m === path || m.startsWith(`${path}/`))) continue
    try {
      rmSync(path, { recursive: true, force: true })
      removed++
    } catch {
      // not ours to remove (another uid in a rootless sandbox): leave it
    }
  }
  return removed
}

/** Sets the hostname back to the sandbox's; true when it had to. */
export function restoreHostname(wanted: string): boolean {
  if (hostname() === wanted) return false
  // No sethostname(2) from JS: /proc/sys/kernel/hostname where it is writable
  // (rootless), else the hostname(1) binary (root: /proc/sys is read-only inside).
  try {
    writeFileSync('/proc/sys/kernel/hostname', wanted)
  } catch {
    execFileSync('hostname', [wanted], { stdio: 'ignore' })
  }
  if (hostname() !== wanted) throw new Error('hostname not restored')
  return true
}

/** The upper layers' entries (what the sandbox wrote into its copy-on-write root so far), as paths inside. */
export function overlayWrites(): Set<string> {
  const out = new Set<string>()
  let manifest: string
  try {
    manifest = readFileSync(join(STAGING, 'manifest'), 'utf8')
  } catch {
    return out
  }
  for (const line of manifest.split('\n')) {
    const [upper, mount] = line.split('\t')
    if (!upper || !mount) continue
    const walk = (dir: string, rel: string) => {
      if (out.size >= WRITES_LIMIT * 10) return
      let entries: string[]
      try {
        entries = readdirSync(dir)
      } catch {
        return
      }
      for (const e of entries) {
        const full = join(dir, e)
        const inside = join(mount, rel, e)
        try {
          if (lstatSync(full).isDirectory()) walk(full, join(rel, e))
          else out.add(inside)
        } catch {
          // raced with a write
        }
      }
    }
    walk(join(STAGING, upper), '')
  }
  return out
}

/** The reuse-mode reset, after the leaks were reported. */
export async function resetForNextFile(
  leaked: number[],
  sandboxHostname: string,
  writesBefore: Set<string>,
): Promise<ResetReport> {
  await killAll(leaked)
  const tmpRemoved = emptyTmp()
  let hostnameRestored = false
  try {
    hostnameRestored = restoreHostname(sandboxHostname)
  } catch {
    // reported as not restored: the next file sees a different hostname
  }
  const writesKept = [...overlayWrites()].filter((p) => !writesBefore.has(p)).slice(0, WRITES_LIMIT)
  return { killed: leaked, tmpRemoved, hostnameRestored, writesKept }
}
