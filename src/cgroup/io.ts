/**
 * The file operations the cgroup drivers use, behind one small interface so
 * tests can run the v2 logic against a fake cgroupfs that behaves like the
 * kernel (moves pids, refuses subtree_control on a cgroup with processes).
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs'

export interface CgroupIo {
  read(path: string): string
  /** Writes with one write(2): cgroupfs treats each write as one command. */
  write(path: string, data: string): void
  exists(path: string): boolean
  mkdir(path: string): void
  rmdir(path: string): void
  /** Sub-directories (child cgroups) of a directory. */
  subdirs(path: string): string[]
  /** access(2) W_OK. */
  writable(path: string): boolean
  /** The kernel's pid of this process. */
  readonly pid: number
  /** Our effective uid (0: root). */
  readonly uid: number
}

const readBuffer = Buffer.allocUnsafe(16 * 1024)

/**
 * open + read + close into one reused buffer: half the cost of readFileSync
 * (no fstat; cgroupfs reports every file as 4096 bytes anyway). Larger
 * files (a big cgroup.procs) fall back to readFileSync.
 */
function readSmall(path: string): string {
  const fd = openSync(path, 'r')
  let n = 0
  try {
    for (;;) {
      const r = readSync(fd, readBuffer, n, readBuffer.length - n, null)
      if (r === 0) break
      n += r
      if (n === readBuffer.length) return readFileSync(path, 'utf8')
    }
  } finally {
    closeSync(fd)
  }
  return readBuffer.toString('utf8', 0, n)
}

export const realIo: CgroupIo = {
  read: readSmall,
  write: (path, data) => writeFileSync(path, data),
  exists: (path) => existsSync(path),
  mkdir: (path) => mkdirSync(path),
  rmdir: (path) => rmdirSync(path),
  subdirs: (path) =>
    readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name),
  writable: (path) => {
    try {
      accessSync(path, constants.W_OK)
      return true
    } catch {
      return false
    }
  },
  pid: process.pid,
  uid: process.geteuid?.() ?? -1,
}

/** The errno name of a Node fs error, or undefined. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Reads a file, or undefined when it cannot be read (absent, no permission). */
export function tryRead(io: CgroupIo, path: string): string | undefined {
  try {
    return io.read(path)
  } catch {
    return undefined
  }
}

/** mkdir that accepts an existing directory. */
export function ensureDir(io: CgroupIo, path: string): void {
  try {
    io.mkdir(path)
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw error
  }
}

/** The pids listed in a cgroup.procs file (empty when unreadable). */
export function readPids(io: CgroupIo, procsFile: string): number[] {
  const text = tryRead(io, procsFile)
  if (!text) return []
  const out: number[] = []
  for (const line of text.split('\n')) if (line) out.push(Number(line))
  return out
}

/** SIGKILL by pid; a process already gone is fine. */
export function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {}
}

/** Is there a process with this pid (EPERM counts as alive)? */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoOf(error) === 'EPERM'
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))
/** Blocks the thread for `ms` (used only where the API is synchronous: sweep, doctor). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
