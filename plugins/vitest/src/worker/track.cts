/**
 * The tracker, installed around every test of a sandboxed worker by the
 * worker's preload (`preload.ts`); it does something only inside a sandbox
 * (NS_ISOLATED_INSIDE set) or under the launcher without namespaces. Around
 * each test it records, in `task.meta.nsIsolated` (which Vitest carries to
 * the runner's reporters):
 * - the sandbox's CPU during the test (approximate: everything running in the
 *   sandbox meanwhile counts);
 * - the processes the test left running when it ended;
 * and it fails the test during which a cap was hit (a child OOM-killed, a
 * fork refused at the pids cap), and, with `leaks: 'fail'`, a test that
 * leaves processes running.
 *
 * Which test started a process is the core's answer (`LeakAttribution` of
 * `ns-isolated/sandbox`): while a test runs, its id is in the worker's
 * environment (`NS_ISOLATED_TEST`), which every process it starts inherits,
 * a `setsid` daemon, a double fork and a child that forks after the test
 * returned included; PID 1 reads the same marker for the leaks it reports at
 * the end, and the runner names each leak's test by it (host/file-report.ts).
 * The sandbox's processes, their CPU and its cgroup's counters come from the
 * same module: one /proc scanner for every runner.
 */
// CommonJS, loaded with a plain require() by the preload: nothing here goes
// through Vite's module runner (an RPC and a transform per module). The
// core's `ns-isolated/sandbox` is required too (a small ES module: node:fs
// and a few modules of its own).
import type { afterAll as AfterAll } from 'vitest'
import type { TestMeta } from './meta.ts'

type Sandbox = typeof import('ns-isolated/sandbox')

const { CAPS_ENV, INSIDE_ENV, LEAKS_ENV, META_KEY, NO_NAMESPACES_ENV } =
  require('../names.js') as typeof import('../names.ts')

/** Vitest's hooks, from the Vitest that started the worker (passed in by the preload). */
export interface Hooks {
  afterAll: typeof AfterAll
}

interface Proc {
  pid: number
  command: string
}

function describeProcs(procs: Proc[]): string {
  return procs.map((p) => `pid ${p.pid} \`${p.command || '?'}\``).join(', ')
}

// The real clock and timer, taken when the worker starts: a test that
// leaves `vi.useFakeTimers()` on must not freeze the waits below (the hook
// would hang until hookTimeout instead of reporting the leak).
const realNow = Date.now.bind(Date)
const realSetTimeout = globalThis.setTimeout.bind(globalThis)

/** A test as the runner passes it to its per-attempt methods (the part the tracker uses). */
export interface TrackedTest {
  /** Vitest's task id: unique in the run, the start of the test's marker in the environment of what it starts. */
  id: string
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
  if (!process.env[INSIDE_ENV] && !process.env[NO_NAMESPACES_ENV]) return undefined
  const s = require('ns-isolated/sandbox') as Sandbox
  const policy = process.env[LEAKS_ENV] ?? 'report'
  const caps = JSON.parse(process.env[CAPS_ENV] ?? '{}') as { memory?: number; pids?: number }
  // The counters matter only where a cap is set.
  const counters = caps.memory === undefined && caps.pids === undefined ? undefined : s.cgroupCounters()
  const readCounters = () => ({ oomKills: counters?.oomKills(), forksRefused: counters?.forksRefused() })
  const attribution = new s.LeakAttribution()
  let cpuBefore = 0
  let countersBefore = readCounters()
  /** Processes already reported under a test of the current file (leaks: 'fail' names the rest at its end). */
  let attributed = new Set<number>()
  let attempts = 0

  /** Waits a little for processes being stopped to be gone (a kill is not instant). */
  async function stillAlive(procs: Proc[], ms = 300): Promise<Proc[]> {
    const end = realNow() + ms
    for (;;) {
      const live = new Set(
        s
          .sandboxProcesses()
          .filter((p) => p.state !== 'Z')
          .map((p) => p.pid),
      )
      const alive = procs.filter((p) => live.has(p.pid))
      if (alive.length === 0 || realNow() >= end) return alive
      await new Promise((r) => realSetTimeout(r, 20))
    }
  }

  return {
    fileStarts(afterAll) {
      attributed = new Set<number>()
      if (policy !== 'fail') return
      // Registered ahead of the file's own hooks and setup files, so it runs last of its afterAll
      // hooks (they run in stack order): what is alive then outlives the file.
      afterAll(async () => {
        const left = await stillAlive(attribution.note().filter((p) => !attributed.has(p.pid)))
        if (left.length > 0) {
          throw new Error(
            `ns-isolated: this test file left ${left.length} process${left.length === 1 ? '' : 'es'} running: ${describeProcs(left)} (leaks: 'fail'). Stop ${left.length === 1 ? 'it' : 'them'} in afterAll.`,
          )
        }
      })
    },

    beforeTry(test) {
      cpuBefore = s.sandboxCpuMs(s.sandboxProcesses())
      countersBefore = readCounters()
      // Each attempt its own marker (a retry is measured on its own); the runner reads the test's id before '#'.
      attribution.testStarts(`${test.id}#${++attempts}`)
    },

    async afterTry(test) {
      const ps = s.sandboxProcesses()
      let started: Proc[] = attribution.testEnds(ps).map((p) => ({ pid: p.pid, command: p.command }))
      const meta: TestMeta = { cpuMs: Math.max(0, s.sandboxCpuMs(ps) - cpuBefore), started: [] }
      const errors = s.testCapsHit(caps, countersBefore, readCounters()).map((h) => `ns-isolated: ${h.detail}.`)
      if (policy === 'fail' && started.length > 0) started = await stillAlive(started)
      meta.started = started
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
