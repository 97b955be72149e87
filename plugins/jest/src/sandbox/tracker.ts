/**
 * Per-test figures and leak attribution, inside the sandbox. The environment
 * calls `testStart`/`testDone` from Jest's `test_start`/`test_done` events
 * (test_done comes after the test's afterEach hooks); a light sampler reads
 * /proc while a test runs so that short-lived processes and the task peak
 * are seen.
 *
 * The sampler uses the outer realm's timers, not the test's: fake timers
 * (which replace the test context's globals) do not touch it. It is
 * `unref`ed, so it never keeps the worker alive.
 */
import type { InsideLeak, InsideTest } from '../messages'
import { commandOf, HOST_PROC, listProcesses, type ProcEntry, peakRss, resetPeakRss, sandboxCpuMs } from './proc'

/** A scan of the sandbox's own /proc costs a few µs; of the host's (no namespaces), a few ms: sampled less often there. */
const SAMPLE_MS = HOST_PROC ? 100 : 20
/** How long leak names may take to settle (see `leaks`). */
const SETTLE_MS = 250

interface Seen {
  start: number
  test: string[] | undefined
}

interface Running {
  path: string[]
  startedAt: number
  cpuAt: number | null
  pidsPeak: number
  started: number
}

export class UsageTracker {
  readonly tests: InsideTest[] = []
  /** pid → when and where it was first seen. Keyed by pid, checked by start time (pids are reused). */
  readonly #seen = new Map<number, Seen>()
  /** Processes alive when the file started (pid 1, the worker): never leaks of this file. */
  readonly #baseline = new Set<number>()
  #current: Running | undefined
  #timer: NodeJS.Timeout | undefined
  #canResetPeak = true
  #filePeakRss = 0
  #filePidsPeak = 0
  readonly #fileStartedAt = performance.now()
  readonly #fileCpuAt: number | null

  constructor() {
    const ps = listProcesses()
    for (const p of ps) this.#baseline.add(p.pid)
    this.#fileCpuAt = safeCpu(ps)
    this.#filePidsPeak = tasks(ps)
  }

  /** Records newly seen processes; returns the scan. */
  #scan(): ProcEntry[] {
    const ps = listProcesses()
    const test = this.#current?.path
    let fresh = 0
    for (const p of ps) {
      if (this.#baseline.has(p.pid)) continue
      const s = this.#seen.get(p.pid)
      if (s === undefined || s.start !== p.start) {
        this.#seen.set(p.pid, { start: p.start, test })
        fresh++
      }
    }
    const t = tasks(ps)
    if (this.#current) {
      this.#current.started += fresh
      this.#current.pidsPeak = Math.max(this.#current.pidsPeak, t)
    }
    this.#filePidsPeak = Math.max(this.#filePidsPeak, t)
    return ps
  }

  testStart(path: string[]): void {
    this.#stopSampler()
    this.#notePeak()
    if (this.#canResetPeak) this.#canResetPeak = resetPeakRss()
    this.#current = { path, startedAt: performance.now(), cpuAt: null, pidsPeak: 0, started: 0 }
    const ps = this.#scan()
    this.#current.cpuAt = safeCpu(ps)
    this.#timer = setInterval(() => this.#scan(), SAMPLE_MS)
    this.#timer.unref()
  }

  testDone(): void {
    const run = this.#current
    if (!run) return
    this.#stopSampler()
    const ps = this.#scan()
    const cpu = safeCpu(ps)
    const peak = peakRss()
    let others = 0
    for (const p of ps) if (p.pid !== process.pid && p.pid !== 1 && p.state !== 'Z') others += p.rssBytes
    this.#notePeak(peak)
    this.tests.push({
      path: run.path,
      wallMs: performance.now() - run.startedAt,
      cpuMs: cpu !== null && run.cpuAt !== null ? Math.max(0, cpu - run.cpuAt) : null,
      // Without a peak reset the worker's VmHWM is the file's so far: say "unknown" rather than mislead.
      memoryPeakBytes: peak !== null && this.#canResetPeak ? peak + others : null,
      pidsPeak: run.pidsPeak || null,
      pidsStarted: run.started,
    })
    this.#current = undefined
  }

  /**
   * The processes alive now that this file started (not pid 1, not the
   * worker, not zombies), attributed to tests, each named by its final
   * command: a process caught between fork and exec (a shell's `setsid
   * sleep &` is `setsid` for a moment) is read again until two readings
   * agree and none of them is running or in the kernel, as PID 1 does (a
   * few ms; at most ~250).
   */
  async leaks(): Promise<InsideLeak[]> {
    this.#stopSampler()
    this.#current = undefined
    const deadline = performance.now() + SETTLE_MS
    let last = ''
    for (;;) {
      const alive = this.#scan().filter((p) => !this.#baseline.has(p.pid) && p.pid !== process.pid && p.state !== 'Z')
      const out: InsideLeak[] = alive.map((p) => {
        const s = this.#seen.get(p.pid)
        const leak: InsideLeak = { pid: p.pid, command: commandOf(p.pid) }
        if (s?.test) leak.test = s.test
        return leak
      })
      if (out.length === 0) return out // the common case: nothing to name
      const reading = JSON.stringify(out)
      const busy = alive.some((p) => p.state === 'R' || p.state === 'D')
      if ((reading === last && !busy) || performance.now() > deadline) return out
      last = reading
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  /** File-level figures from inside. */
  fileFigures(): { wallMs: number; cpuMs: number | null; memoryPeakBytes: number | null; pidsPeak: number | null } {
    this.#notePeak()
    const cpu = safeCpu(listProcesses())
    return {
      wallMs: performance.now() - this.#fileStartedAt,
      cpuMs: cpu !== null && this.#fileCpuAt !== null ? Math.max(0, cpu - this.#fileCpuAt) : null,
      memoryPeakBytes: this.#filePeakRss || null,
      pidsPeak: this.#filePidsPeak || null,
    }
  }

  #notePeak(peak = peakRss()): void {
    if (peak !== null) this.#filePeakRss = Math.max(this.#filePeakRss, peak)
  }

  #stopSampler(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
  }
}

function tasks(ps: ProcEntry[]): number {
  let n = 0
  for (const p of ps) if (p.state !== 'Z') n += p.threads
  return n
}

function safeCpu(ps: ProcEntry[]): number | null {
  try {
    return sandboxCpuMs(ps)
  } catch {
    return null
  }
}
