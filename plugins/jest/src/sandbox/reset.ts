/**
 * Cleaning up after one file, inside the sandbox. In both modes the
 * environment kills the processes the file leaked (they are reported first).
 * In `reuse` mode it then resets the sandbox for the next file of the same
 * worker. The launcher (started with --reuse) does it, in PID 1: it builds
 * the sandbox's filesystem again from the host's untouched files and pivots
 * the worker into it, so the next file finds
 *
 * - a fresh copy-on-write root (the file's writes to /etc, /home, the
 *   project… are gone; the writable paths are host paths and keep theirs),
 * - a fresh /tmp, /dev (with /dev/shm), /proc,
 * - no SysV IPC objects and no POSIX message queues,
 * - the sandbox's hostname.
 *
 * A file that changed none of it skips the reset (checked exactly: see
 * `sandboxState`). Where the launcher cannot (it says why), the reset falls
 * back to what can be done from here: /tmp emptied and the hostname set
 * back; the writes to the root are then kept, and listed per file.
 */
import { execFileSync } from 'node:child_process'
import { lstatSync, readdirSync, readFileSync, readSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { STAGING_INSIDE as STAGING, sandboxProcesses } from 'ns-isolated/sandbox'
import type { ResetReport } from '../messages'

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
    if (!sandboxProcesses().some((p) => wanted.has(p.pid) && p.state !== 'Z')) return
    await new Promise((r) => setTimeout(r, 5))
  }
}

function mountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
}

/** What the file left in /tmp, sparing mount points and their parents. */
function tmpEntries(mountinfo = readOr('/proc/self/mountinfo')): string[] {
  const mounts = mountPoints(mountinfo).filter((m) => m.startsWith('/tmp/'))
  try {
    return readdirSync('/tmp')
      .map((name) => join('/tmp', name))
      .filter((path) => !mounts.some((m) => m === path || m.startsWith(`${path}/`)))
  } catch {
    return []
  }
}

/** Removes what the file left in /tmp; how many entries. */
export function emptyTmp(): number {
  let removed = 0
  for (const path of tmpEntries()) {
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

/** Entries the upper layers' walk stops at: past it, a comparison cannot tell whether anything changed. */
const ENTRIES_LIMIT = WRITES_LIMIT * 10

/** The upper layers' entries (what the sandbox wrote into its copy-on-write root so far): path inside → what identifies its content. */
export function overlayEntries(): Map<string, { dir: boolean; stamp: string }> {
  const out = new Map<string, { dir: boolean; stamp: string }>()
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
      if (out.size >= ENTRIES_LIMIT) return
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
          // Upper layers are tmpfs: a write, a chmod, a rename all change the ctime.
          const st = lstatSync(full, { bigint: true })
          out.set(inside, { dir: st.isDirectory(), stamp: `${st.ino}:${st.size}:${st.ctimeNs}` })
          if (st.isDirectory()) walk(full, join(rel, e))
        } catch {
          // raced with a write
        }
      }
    }
    walk(join(STAGING, upper), '')
  }
  return out
}

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return fallback
  }
}

/** What a reset would undo, as it is now: compared before and after a file, it says whether there is anything to reset. */
export interface SandboxState {
  upper: Map<string, { dir: boolean; stamp: string }>
  /** What the file left in /tmp (also part of `rest`). */
  tmp: string[]
  /** Everything else the reset covers, as one string. */
  rest: string
}

export function sandboxState(): SandboxState {
  const free = (path: string) => {
    try {
      return String(statfsSync(path).ffree) // a file made anywhere on that tmpfs takes an inode
    } catch {
      return '?'
    }
  }
  let mq: string[] = []
  try {
    mq = readdirSync('/dev/mqueue')
  } catch {}
  const mountinfo = readOr('/proc/self/mountinfo')
  const tmp = tmpEntries(mountinfo)
  const rest = [
    tmp.join('\0'),
    free('/tmp'),
    free('/dev'),
    free('/dev/shm'),
    mountinfo,
    ...['shm', 'sem', 'msg'].map((k) => readOr(`/proc/sysvipc/${k}`).split('\n').slice(1).join('\n')),
    mq.join('\0'),
    hostname(),
  ].join('\n\0')
  return { upper: overlayEntries(), tmp, rest }
}

/** The files a file wrote, changed or deleted in the copy-on-write root since `before` (at most WRITES_LIMIT). */
function writesSince(before: SandboxState, now: SandboxState): string[] {
  const out: string[] = []
  for (const [path, e] of now.upper) {
    if (out.length >= WRITES_LIMIT) break
    if (!e.dir && before.upper.get(path)?.stamp !== e.stamp) out.push(path)
  }
  return out
}

function unchanged(before: SandboxState, now: SandboxState): boolean {
  if (before.rest !== now.rest || before.upper.size !== now.upper.size) return false
  if (now.upper.size >= ENTRIES_LIMIT) return false // the walk stopped: it cannot tell
  for (const [path, e] of now.upper) if (before.upper.get(path)?.stamp !== e.stamp) return false
  return true
}

/** The launcher's reset socket (NS_ISOLATED_RESET_FD), when it was started with --reuse. */
const RESET_FD = Number.parseInt(process.env.NS_ISOLATED_RESET_FD ?? '', 10)
const START_CWD = process.cwd()

interface RootReset {
  ipcRemoved: number
  error?: string
}

/** Asks PID 1 for a new root and waits synchronously (a reset takes a few ms) for its one-line answer. */
export function resetRoot(fd: number = RESET_FD): RootReset {
  if (!Number.isInteger(fd) || fd < 0)
    return { ipcRemoved: 0, error: 'the launcher offers no reset (started without --reuse)' }
  const cwd = process.cwd()
  let text = ''
  try {
    writeSync(fd, 'R')
    const buf = Buffer.alloc(16384)
    while (!text.includes('\n')) {
      const n = readSync(fd, buf)
      if (n === 0) break
      text += buf.toString('utf8', 0, n)
    }
  } catch (e) {
    return { ipcRemoved: 0, error: `reset socket: ${(e as Error).message}` }
  }
  let answer: { reset?: { ipcRemoved?: number }; setupError?: { message?: string } }
  try {
    answer = JSON.parse(text)
  } catch {
    return { ipcRemoved: 0, error: `the launcher's answer is not JSON: ${JSON.stringify(text.slice(0, 200))}` }
  }
  if (!answer.reset) return { ipcRemoved: 0, error: answer.setupError?.message ?? 'the launcher refused the reset' }
  // The worker's working directory is still in the old tree: the same path in the new one.
  for (const dir of [cwd, START_CWD, '/']) {
    try {
      process.chdir(dir)
      break
    } catch {
      // gone with the old root (a directory the file made)
    }
  }
  return { ipcRemoved: answer.reset.ipcRemoved ?? 0 }
}

/**
 * The reuse-mode reset, after the leaks were reported. A file that changed
 * nothing the reset covers (most files: compared exactly, see
 * `sandboxState`) skips it. Also gives the state the next file starts from.
 */
export async function resetForNextFile(
  leaked: number[],
  sandboxHostname: string,
  before: SandboxState,
): Promise<{ report: ResetReport; after: SandboxState }> {
  await killAll(leaked)
  const now = sandboxState()
  const base = { killed: leaked, ipcRemoved: 0, writes: writesSince(before, now) }
  if (unchanged(before, now)) {
    return { report: { ...base, rootReset: false, skipped: true, tmpRemoved: 0, hostnameRestored: false }, after: now }
  }
  const hostnameChanged = hostname() !== sandboxHostname
  const root = resetRoot()
  if (root.error === undefined) {
    const report: ResetReport = {
      ...base,
      rootReset: true,
      tmpRemoved: now.tmp.length,
      hostnameRestored: hostnameChanged && hostname() === sandboxHostname,
      ipcRemoved: root.ipcRemoved,
    }
    return { report, after: sandboxState() }
  }
  const tmpRemoved = emptyTmp()
  let hostnameRestored = false
  try {
    hostnameRestored = restoreHostname(sandboxHostname)
  } catch {
    // reported as not restored: the next file sees a different hostname
  }
  const report: ResetReport = { ...base, rootReset: false, rootResetError: root.error, tmpRemoved, hostnameRestored }
  return { report, after: sandboxState() }
}
