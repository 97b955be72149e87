/**
 * The tracker, installed around every test of a sandboxed worker by the
 * worker's preload (`preload.ts`); it does something only inside a sandbox
 * (NS_ISOLATED_INSIDE set). Around each test it records,
 * in `task.meta.nsIsolated` (which Vitest carries to the runner's reporters):
 * - the sandbox's CPU during the test (approximate: everything running in the
 *   sandbox meanwhile counts);
 * - the processes the test started that were still running when it ended,
 *   so a process the sandbox later reports as leaked is named against the
 *   test that started it;
 * and it fails the test during which a cap was hit (a child OOM-killed, a
 * fork refused at the pids cap), and, with `leaks: 'fail'`, a test that
 * leaves processes running.
 */
// CommonJS, loaded with a plain require() by the preload: nothing here goes
// through Vite's module runner (an RPC and a transform per module).
import type { afterAll as AfterAll } from 'vitest'
import type { TestMeta } from './meta.ts'

const { existsSync, readdirSync, readFileSync } = require('node:fs') as typeof import('node:fs')
const { CAPS_ENV, INSIDE_ENV, LEAKS_ENV, META_KEY, NO_NAMESPACES_ENV } =
  require('../names.js') as typeof import('../names.ts')

/** Vitest's hooks, from the Vitest that started the worker (passed in by the preload). */
export interface Hooks {
  afterAll: typeof AfterAll
}

// ---- the sandbox's processes, from /proc
/*
 * Reading /proc from the worker. Inside a sandbox, /proc belongs to its PID
 * namespace: it lists only the sandbox's processes (PID 1 is the launcher's
 * init, the worker is PID 2), so "every process here" is exactly "every
 * process of this test file". Without namespaces (fallback 'subreaper')
 * /proc is the host's: the file's processes are the launcher (the worker's
 * parent, a child subreaper: every orphan of the file reparents to it) and
 * what descends from it, found by walking parents.
 */
interface Proc {
  pid: number
  /** Command line, arguments joined by spaces. */
  command: string
}

/** USER_HZ, the unit of the CPU fields of /proc/<pid>/stat; 100 on every architecture Node runs on. */
const USER_HZ = 100

function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** The last pid the sandbox's PID namespace handed out, to a process or a thread (undefined where unreadable). */
function lastPid(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'))
  } catch {
    return undefined
  }
}

/** The previous full pass: whether it found only PID 1 and this worker, and what it counted. */
let previous: { alone: boolean; lastPid: number | undefined; othersMs: number } | undefined

/** The launcher, without namespaces (on the host's /proc); undefined inside a sandbox, where it is PID 1. */
const launcher = process.env[NO_NAMESPACES_ENV] ? process.ppid : undefined

/** Every process of this file, with its /proc/<pid>/stat fields: all of /proc in a sandbox, the launcher's tree on the host. */
function fileProcesses(): Map<number, string[]> {
  const all = new Map<number, string[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const f = statFields(Number(name))
    if (f) all.set(Number(name), f)
  }
  if (launcher === undefined) return all
  // fields from the state (index 0): ppid 1
  const children = new Map<number, number[]>()
  for (const [pid, f] of all) {
    const ppid = Number(f[1])
    children.set(ppid, [...(children.get(ppid) ?? []), pid])
  }
  const ours = new Map<number, string[]>()
  const queue = [launcher]
  for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
    const f = all.get(pid)
    if (!f || ours.has(pid)) continue
    ours.set(pid, f)
    queue.push(...(children.get(pid) ?? []))
  }
  return ours
}

/**
 * The live processes of the sandbox but PID 1 (the launcher; without
 * namespaces, the worker's parent) and this worker, and the CPU (user +
 * system, ms) of everything that ever ran in it: this worker's own time
 * (process.cpuUsage), plus, from /proc, every other process's own time and
 * what each process collected from its reaped children (orphans are reaped
 * by the launcher, so they count in its children's time). Twice per test, so
 * one pass, not two.
 *
 * When the previous pass found nothing but PID 1 and this worker, and the
 * namespace has handed out no pid since (ns_last_pid: every new process and
 * thread takes one; on the host, any process's), nothing else can have run:
 * only this worker's own time moved, and the pass over /proc is skipped.
 */
function scan(): { pids: number[]; cpuMs: number } {
  const own = process.cpuUsage()
  const selfMs = (own.user + own.system) / 1000
  const last = lastPid()
  if (previous?.alone && last !== undefined && last === previous.lastPid)
    return { pids: [], cpuMs: selfMs + previous.othersMs }
  const pids: number[] = []
  let ticks = 0
  let alone = true
  const init = launcher ?? 1
  for (const [pid, f] of fileProcesses()) {
    // fields from the state (index 0): utime 11, stime 12, cutime 13, cstime 14
    if (pid !== process.pid) ticks += Number(f[11]) + Number(f[12])
    ticks += Number(f[13]) + Number(f[14])
    if (pid === init || pid === process.pid) continue
    alone = false
    if (f[0] !== 'Z' && f[0] !== 'X') pids.push(pid)
  }
  const othersMs = (ticks * 1000) / USER_HZ
  previous = { alone, lastPid: last, othersMs }
  return { pids, cpuMs: selfMs + othersMs }
}

/** A process's command line, arguments joined by spaces ('' when it is gone). */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replaceAll('\0', ' ')
  } catch {
    return ''
  }
}

/** Every live process of the sandbox but PID 1 and this worker, with its command line. */
function listProcs(): Proc[] {
  return scan().pids.map((pid) => ({ pid, command: commandOf(pid) }))
}

// ---- the cap counters of the sandbox's cgroup
/*
 * The sandbox's cgroup counters that say a cap was hit, read from inside
 * (the host's /sys/fs/cgroup is bound into the sandbox; /proc/self/cgroup
 * names our cgroup). Read before and after each test, so the test during
 * which a cap was hit fails, naming it, even when the worker survived (a
 * child OOM-killed, a fork refused).
 *
 *   memory: v2 memory.events `oom_kill`, v1 memory.oom_control `oom_kill`
 *   pids:   v2/v1 pids.events `max` (forks refused at the cap)
 */
interface CapCounters {
  oomKills: number | undefined
  forksRefused: number | undefined
}

function keyed(path: string | undefined, key: string): number | undefined {
  if (!path) return undefined
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(path, 'utf8'))
    return m?.[1] === undefined ? undefined : Number(m[1])
  } catch {
    return undefined
  }
}

/** Locates the counter files once; `read()` is then two small reads. */
function capCounterFiles(): { read(): CapCounters } {
  let memoryFile: string | undefined
  let pidsFile: string | undefined
  try {
    const v2root = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified'
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? []
      if (path === undefined || controllers === undefined) continue
      if (controllers === '') {
        const mem = `${v2root}${path}/memory.events`
        const pids = `${v2root}${path}/pids.events`
        if (!memoryFile && existsSync(mem)) memoryFile = mem
        if (!pidsFile && existsSync(pids)) pidsFile = pids
      } else {
        const list = controllers.split(',')
        if (list.includes('memory')) memoryFile = `/sys/fs/cgroup/${controllers}${path}/memory.oom_control`
        if (list.includes('pids')) pidsFile = `/sys/fs/cgroup/${controllers}${path}/pids.events`
      }
    }
  } catch {}
  return {
    read: () => ({ oomKills: keyed(memoryFile, 'oom_kill'), forksRefused: keyed(pidsFile, 'max') }),
  }
}

/** The core's formatBytes for whole sizes; not imported: this runs in every test file, and the core would come through Vite's module runner. */
function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`
}

function describeProcs(procs: { pid: number; command: string }[]): string {
  return procs.map((p) => `pid ${p.pid} \`${p.command || '?'}\``).join(', ')
}

// The real clock and timer, taken when the worker starts: a test that
// leaves `vi.useFakeTimers()` on must not freeze the waits below (the hook
// would hang until hookTimeout instead of reporting the leak).
const realNow = Date.now.bind(Date)
const realSetTimeout = globalThis.setTimeout.bind(globalThis)

/** Waits a little for processes being stopped to be gone (a kill is not instant). */
async function stillAlive(pids: number[], ms = 300): Promise<Proc[]> {
  const end = realNow() + ms
  for (;;) {
    const alive = listProcs().filter((p) => pids.includes(p.pid))
    if (alive.length === 0 || realNow() >= end) return alive
    await new Promise((r) => realSetTimeout(r, 20))
  }
}

/** A test as the runner passes it to its per-attempt methods (the part the tracker uses). */
export interface TrackedTest {
  meta: object
}

/** What the tracker does around each attempt of a test; installed once per worker by the preload. */
export interface Tracker {
  /** A file's collection starts (its first import): per-file state, and with `leaks: 'fail'` the file's check. */
  fileStarts(afterAll: Hooks['afterAll']): void
  /** Before the test's beforeEach hooks (the runner's `onBeforeTryTask`). */
  beforeTry(test: TrackedTest): void
  /** After its afterEach hooks and onTestFinished callbacks (the runner's `onAfterRetryTask`); throws to fail the test. */
  afterTry(test: TrackedTest): Promise<void>
}

/** The tracker of this worker, or undefined outside a sandbox (it then does nothing). */
function createTracker(): Tracker | undefined {
  if (!process.env[INSIDE_ENV] && launcher === undefined) return undefined
  const policy = process.env[LEAKS_ENV] ?? 'report'
  const caps = JSON.parse(process.env[CAPS_ENV] ?? '{}') as { memory?: number; pids?: number }
  // The counters matter only where a cap is set.
  const counters = caps.memory === undefined && caps.pids === undefined ? undefined : capCounterFiles()
  let before = new Set<number>()
  let cpuBefore = 0
  let countersBefore = counters?.read()
  let attributed = new Set<number>()

  return {
    fileStarts(afterAll) {
      attributed = new Set<number>()
      if (policy !== 'fail') return
      // Registered ahead of the file's own hooks and setup files, so it runs last of its afterAll
      // hooks (they run in stack order): what is alive then outlives the file.
      afterAll(async () => {
        const left = await stillAlive(
          listProcs()
            .filter((p) => !attributed.has(p.pid))
            .map((p) => p.pid),
        )
        if (left.length > 0) {
          throw new Error(
            `ns-isolated: this test file left ${left.length} process${left.length === 1 ? '' : 'es'} running: ${describeProcs(left)} (leaks: 'fail'). Stop ${left.length === 1 ? 'it' : 'them'} in afterAll.`,
          )
        }
      })
    },

    beforeTry() {
      const now = scan()
      before = new Set(now.pids)
      cpuBefore = now.cpuMs
      countersBefore = counters?.read()
    },

    async afterTry(test) {
      const now = scan()
      let started: Proc[] = now.pids.filter((pid) => !before.has(pid)).map((pid) => ({ pid, command: commandOf(pid) }))
      const meta: TestMeta = { cpuMs: Math.max(0, now.cpuMs - cpuBefore), started: [] }
      const counted = counters?.read()
      const errors: string[] = []
      if (caps.memory !== undefined && (counted?.oomKills ?? 0) > (countersBefore?.oomKills ?? 0)) {
        const n = (counted?.oomKills ?? 0) - (countersBefore?.oomKills ?? 0)
        errors.push(
          `ns-isolated: exceeded memory cap ${formatBytes(caps.memory)}: OOM-killed (${n} process${n === 1 ? '' : 'es'} of this test killed by the kernel).`,
        )
      }
      if (caps.pids !== undefined && (counted?.forksRefused ?? 0) > (countersBefore?.forksRefused ?? 0)) {
        const n = (counted?.forksRefused ?? 0) - (countersBefore?.forksRefused ?? 0)
        errors.push(
          `ns-isolated: exceeded pids cap ${caps.pids}: fork refused ${n} time${n === 1 ? '' : 's'} (the cap counts processes and threads).`,
        )
      }
      if (policy === 'fail' && started.length > 0) started = await stillAlive(started.map((p) => p.pid))
      meta.started = started.map((p) => ({ pid: p.pid, command: p.command }))
      for (const p of started) attributed.add(p.pid)
      ;(test.meta as Record<string, unknown>)[META_KEY] = meta
      if (policy === 'fail' && started.length > 0) {
        errors.push(
          `ns-isolated: this test left ${started.length} process${started.length === 1 ? '' : 'es'} running: ${describeProcs(started)} (leaks: 'fail'). Stop ${started.length === 1 ? 'it' : 'them'} before the test ends (e.g. in afterEach).`,
        )
      }
      if (errors.length > 0) throw new Error(errors.join('\n'))
    },
  }
}

module.exports = { createTracker }
