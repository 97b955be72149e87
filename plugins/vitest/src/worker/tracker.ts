/**
 * A setup file the plugin adds to every project; it does something only in
 * a sandboxed worker (NS_ISOLATED_INSIDE set). Around each test it records,
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
import { afterAll, afterEach, beforeEach } from 'vitest'
import { CAPS_ENV, INSIDE_ENV, LEAKS_ENV, META_KEY } from '../names.ts'
import { capCounterFiles } from './cap-counters.ts'
import { listProcs, type Proc, treeCpuMs } from './procfs.ts'

/** What a test leaves in `task.meta.nsIsolated`. */
export interface TestMeta {
  cpuMs: number
  /** Processes the test started that were still alive when it ended. */
  started: { pid: number; command: string }[]
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

// The real clock and timer, taken when this setup file loads: a test that
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

function install(): void {
  const policy = process.env[LEAKS_ENV] ?? 'report'
  const caps = JSON.parse(process.env[CAPS_ENV] ?? '{}') as { memory?: number; pids?: number }
  const counters = capCounterFiles()
  let before = new Set<number>()
  let cpuBefore = 0
  let countersBefore = counters.read()
  const attributed = new Set<number>()

  beforeEach(() => {
    before = new Set(listProcs().map((p) => p.pid))
    cpuBefore = treeCpuMs()
    countersBefore = counters.read()
  })

  afterEach(async (context) => {
    let started = listProcs().filter((p) => !before.has(p.pid))
    const meta: TestMeta = { cpuMs: Math.max(0, treeCpuMs() - cpuBefore), started: [] }
    const counted = counters.read()
    const errors: string[] = []
    if (caps.memory !== undefined && (counted.oomKills ?? 0) > (countersBefore.oomKills ?? 0)) {
      const n = (counted.oomKills ?? 0) - (countersBefore.oomKills ?? 0)
      errors.push(
        `ns-isolated: exceeded memory cap ${formatBytes(caps.memory)}: OOM-killed (${n} process${n === 1 ? '' : 'es'} of this test killed by the kernel).`,
      )
    }
    if (caps.pids !== undefined && (counted.forksRefused ?? 0) > (countersBefore.forksRefused ?? 0)) {
      const n = (counted.forksRefused ?? 0) - (countersBefore.forksRefused ?? 0)
      errors.push(
        `ns-isolated: exceeded pids cap ${caps.pids}: fork refused ${n} time${n === 1 ? '' : 's'} (the cap counts processes and threads).`,
      )
    }
    if (policy === 'fail' && started.length > 0) started = await stillAlive(started.map((p) => p.pid))
    meta.started = started.map((p) => ({ pid: p.pid, command: p.command }))
    for (const p of started) attributed.add(p.pid)
    ;(context.task.meta as Record<string, unknown>)[META_KEY] = meta
    if (policy === 'fail' && started.length > 0) {
      errors.push(
        `ns-isolated: this test left ${started.length} process${started.length === 1 ? '' : 'es'} running: ${describeProcs(started)} (leaks: 'fail'). Stop ${started.length === 1 ? 'it' : 'them'} before the test ends (e.g. in afterEach).`,
      )
    }
    if (errors.length > 0) throw new Error(errors.join('\n'))
  })

  if (policy === 'fail') {
    // Runs last of the file's afterAll hooks (hooks run in stack order and
    // setup files register first): what is alive now outlives the file.
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
  }
}

if (process.env[INSIDE_ENV]) install()
