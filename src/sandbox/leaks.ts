/**
 * Which test started a process: the runners' trackers mark each test, and
 * every process reads as the test whose code started the chain that led to
 * it, double forks, `setsid`, a shell's `&` and children that fork after the
 * test returned included.
 *
 * How: while a test runs, `NS_ISOLATED_TEST` is set in the worker's
 * environment (an id of the test). Node hands `process.env` to every child
 * it starts, and the kernel hands a process's environment on through fork
 * and exec, so every descendant carries it in /proc/<pid>/environ, however
 * late it is forked; PID 1 reads it for the leaks it reports too (launcher.c,
 * test_of). A process started with an environment of its own (`env: {…}`)
 * carries none: it reads as the test of its nearest ancestor that does, else
 * as the test that was running when it was made (by its pid, which the
 * kernel hands out in order; by its start time where the pids wrapped), else
 * as started outside any test (module scope, beforeAll, afterAll).
 */
import { readFileSync } from 'node:fs'
import { TEST_ENV } from '../protocol.ts'
import {
  commandOf,
  environOf,
  lastPid,
  launcherPid,
  type ProcEntry,
  sandboxProcesses,
  testMarkerIn,
  testMarkerOf,
} from './proc.ts'

/** A process the tracker saw, and the test it reads as (undefined: outside any test). */
export interface SeenProcess {
  pid: number
  command: string
  test: string | undefined
}

/**
 * Clock ticks since boot from /proc/uptime's text ("1292.41 …"), as
 * /proc/<pid>/stat's start times count (USER_HZ: 100). Read as integers: the
 * float product floors one tick low for 1 in 15 uptimes under 5,000 s, and a
 * process started in the tick its test ended in then read as no test's.
 */
export function ticksOfUptime(text: string): number {
  const m = /^(\d+)\.(\d{2})/.exec(text)
  return m ? Number(m[1]) * 100 + Number(m[2]) : Number.NaN
}

function ticksNow(): number {
  try {
    return ticksOfUptime(readFileSync('/proc/uptime', 'latin1'))
  } catch {
    return Number.NaN
  }
}

/**
 * When a test ran: clock ticks (10 ms, shared by back-to-back tests) and the
 * last pid handed out at its start and end (a process made while it ran has a
 * pid between the two, unless the pids wrapped; NaN where unreadable).
 */
interface Window {
  test: string
  from: number
  to: number
  pidFrom: number
  pidTo: number
}

export class LeakAttribution {
  /** pid → what it was first seen as; checked by start time (pids are reused). */
  readonly #seen = new Map<number, { start: number; test: string | undefined }>()
  /** Processes alive when tracking began (the launcher, the worker, its helpers): never anyone's leak. */
  readonly #baseline = new Set<number>()
  /** The tests so far, with when they ran (clock ticks since boot). */
  readonly #windows: Window[] = []
  #current: Window | undefined
  #saved: string | undefined

  constructor(processes: ProcEntry[] = sandboxProcesses()) {
    for (const p of processes) this.#baseline.add(p.pid)
    this.#baseline.add(process.pid)
    this.#baseline.add(launcherPid())
  }

  /** A test starts: what it starts from now on carries `test`. */
  testStarts(test: string): void {
    if (this.#current === undefined) this.#saved = process.env[TEST_ENV]
    process.env[TEST_ENV] = test
    this.#current = {
      test,
      from: ticksNow(),
      to: Number.POSITIVE_INFINITY,
      pidFrom: lastPid() ?? Number.NaN,
      pidTo: Number.POSITIVE_INFINITY,
    }
    this.#windows.push(this.#current)
  }

  /** The test has ended (after its afterEach hooks): what it started is noted; returns the processes it left running. */
  testEnds(processes: ProcEntry[] = sandboxProcesses()): SeenProcess[] {
    const run = this.#current
    if (run === undefined) return []
    run.to = ticksNow()
    run.pidTo = lastPid() ?? Number.NaN
    this.#current = undefined
    if (this.#saved === undefined) delete process.env[TEST_ENV]
    else process.env[TEST_ENV] = this.#saved
    return this.note(processes).filter((p) => p.test === run.test)
  }

  /**
   * Notes every process alive now that tracking has not seen before, with
   * the test it reads as; returns every live process of the file's (not the
   * baseline, not zombies) as it reads now.
   */
  note(processes: ProcEntry[] = sandboxProcesses()): SeenProcess[] {
    const byPid = new Map(processes.map((p) => [p.pid, p]))
    const out: SeenProcess[] = []
    for (const p of processes) {
      if (this.#baseline.has(p.pid) || p.state === 'Z' || p.state === 'X') continue
      const seen = this.#seen.get(p.pid)
      let test: string | undefined
      if (seen !== undefined && seen.start === p.start) test = seen.test
      else {
        const env = environOf(p.pid)
        test = this.#attribute(p, byPid, env)
        // Caught in the middle of an exec its environment reads empty: read it again next time.
        if (test !== undefined || env !== '') this.#seen.set(p.pid, { start: p.start, test })
      }
      out.push({ pid: p.pid, command: commandOf(p.pid), test })
    }
    return out
  }

  /** The test `pid` was attributed to when it was seen (undefined: never seen, or outside any test). */
  testOf(pid: number): string | undefined {
    return this.#seen.get(pid)?.test
  }

  #attribute(p: ProcEntry, byPid: Map<number, ProcEntry>, env: string | undefined): string | undefined {
    const own = testMarkerIn(env)
    if (own !== undefined) return own
    // An environment of its own: its nearest ancestor's test (a child of a process the test started).
    for (let up = byPid.get(p.ppid), hops = 0; up && hops < 64; up = byPid.get(up.ppid), hops++) {
      if (this.#baseline.has(up.pid)) break
      const seen = this.#seen.get(up.pid)
      const test = testMarkerOf(up.pid) ?? (seen?.start === up.start ? seen.test : undefined)
      if (test !== undefined) return test
    }
    // Orphaned too: the test that ran when it started.
    // By pid where the pids did not wrap; else by start time, where a tick can hold the end of one test and the start of the next.
    const pidsInOrder = (w: Window) => w.pidFrom <= w.pidTo
    const exact = this.#windows.find((w) => pidsInOrder(w) && p.pid > w.pidFrom && p.pid <= w.pidTo)
    if (exact) return exact.test
    return this.#windows.find((w) => !pidsInOrder(w) && p.start >= w.from && p.start <= w.to)?.test
  }
}
