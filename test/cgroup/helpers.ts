/** Running a real child inside a sandbox cgroup, the way the launcher will: write own pid, then exec. */
import { spawn } from 'node:child_process'
import { type Dirent, existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { SandboxCgroup } from '../../src/cgroup/index.ts'

export const NODE = process.execPath
/**
 * A fork bomb that never ends on its own: every process forks forever and
 * goes on when a fork is refused (perl's fork returns undef). A shell's bomb
 * ends a shell per refusal: at high load it dwindled below half its cap, and
 * its first shell could exit before the test killed it.
 */
export const FORKBOMB = `perl -e 'fork while 1'`

function joinScript(cg: Pick<SandboxCgroup, 'procsFiles'>, workload: string): string {
  // A join that fails ends the script: the workload never runs outside the cgroup.
  return [...cg.procsFiles.map((f) => `{ echo $$ > '${f}'; } 2>/dev/null || exit 97`), `exec ${workload}`].join('; ')
}

/** `sh -c 'echo $$ > <procs>…; exec <workload>'`. Resolves with the exit and the child's stdout. */
export function runIn(
  cg: SandboxCgroup,
  workload: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; wallMs: number }> {
  const script = joinScript(cg, workload)
  const start = performance.now()
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => {
    stdout += d
  })
  child.stderr.resume()
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, wallMs: performance.now() - start }))
  })
}

/**
 * Starts a workload in the cgroup without waiting for it. `joined` resolves
 * true once the script has joined every cgroup (just before it execs the
 * workload), false when it ended first (a join failed: exit 97, or it was killed).
 */
export function startIn(cg: Pick<SandboxCgroup, 'procsFiles'>, workload: string) {
  const script = joinScript(cg, workload).replace(/; exec /, '; echo joined; exec ')
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  )
  const joined = new Promise<boolean>((resolve) => {
    child.stdout.on('data', (d: Buffer) => String(d).includes('joined') && resolve(true))
    void exited.then(() => resolve(false))
  })
  return { child, exited, joined }
}

/** Every cgroup directory below /sys/fs/cgroup, any layout (on a v1 or hybrid host, in every hierarchy). */
export function cgroupDirs(top = '/sys/fs/cgroup'): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    let entries: Dirent[]
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      return // removed while we looked
    }
    for (const d of entries) {
      if (!d.isDirectory()) continue
      out.push(join(dir, d.name))
      walk(join(dir, d.name))
    }
  }
  walk(top)
  return out.sort()
}

/**
 * This process's sandbox cgroups still present, wherever they are: every
 * directory named like one of its sandboxes (`<pid>-<pidns>-<n>-…`), any
 * layout, any place in the tree.
 */
export function leftoverCgroups(pid = process.pid): string[] {
  const mine = new RegExp(`^${pid}-\\d+-\\d+-`)
  return cgroupDirs().filter((d) => mine.test(basename(d)))
}

/**
 * The cgroup directory that holds a cap: the nearest directory, from where
 * a procs file is up to the mount, whose `file` (`cpu.max`, `memory.max`,
 * `cpu.cfs_quota_us`, …) is not unlimited. Undefined when none is.
 */
export function cappedDir(procsFile: string, file: string): string | undefined {
  for (let dir = dirname(procsFile); dir.startsWith('/sys/fs/cgroup/'); dir = dirname(dir)) {
    if (!existsSync(join(dir, file))) continue
    const value = readFileSync(join(dir, file), 'utf8').trim()
    if (value !== '' && !value.startsWith('max') && value !== '-1' && value !== '9223372036854771712') return dir
  }
  return undefined
}

/**
 * CPU bandwidth counters of the cgroup that holds a sandbox's CPU cap
 * (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`): CFS periods with runnable
 * tasks, how many were throttled, and how long.
 */
export function cpuThrottling(cg: Pick<SandboxCgroup, 'procsFiles'>): {
  periods: number
  throttled: number
  throttledMs: number
} {
  for (const f of cg.procsFiles) {
    const dir = cappedDir(f, 'cpu.max') ?? cappedDir(f, 'cpu.cfs_quota_us')
    if (dir === undefined) continue
    const stat = readFileSync(join(dir, 'cpu.stat'), 'utf8')
    const n = (key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(stat)?.[1] ?? Number.NaN)
    const v2 = /^throttled_usec /m.test(stat)
    return {
      periods: n('nr_periods'),
      throttled: n('nr_throttled'),
      throttledMs: v2 ? n('throttled_usec') / 1000 : n('throttled_time') / 1e6,
    }
  }
  throw new Error(`no CPU cap above ${cg.procsFiles.join(', ')}`)
}

/** Opens handles through `track` and closes all of them after each test. */
export function tracker() {
  const open: SandboxCgroup[] = []
  return {
    track<T extends SandboxCgroup | null>(cg: T): T {
      if (cg) open.push(cg)
      return cg
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((c) => c.close()))
    },
  }
}

export const MiB = 1024 ** 2
