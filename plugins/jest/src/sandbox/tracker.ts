/**
 * Per-test figures and leak attribution, inside the sandbox. The environment
 * calls `testStart`/`testDone` from Jest's `test_start`/`test_done` events
 * (test_done comes after the test's afterEach hooks); a light sampler reads
 * /proc while a test runs so that short-lived processes and the task peak
 * are seen. Which test started a process is the core's answer
 * (`LeakAttribution`: a marker in the environment every process of the test
 * inherits), so a daemon forked after its test returned is still that test's.
 *
 * The sampler uses the outer realm's timers, not the test's: fake timers
 * (which replace the test context's globals) do not touch it. It is
 * `unref`ed, so it never keeps the worker alive.
 */
import {
  INSIDE_ENV,
  LeakAttribution,
  launcherPid,
  type ProcEntry,
  peakRss,
  resetPeakRss,
  sandboxCpuMs,
  sandboxProcesses,
  taskCount,
} from 'ns-isolated/sandbox'
import type { InsideLeak, InsideTest } from '../messages'

/** A scan of the sandbox's own /proc costs a few µs; of the host's (no namespaces), a few ms: sampled less often there. */
const SAMPLE_MS = process.env[INSIDE_ENV] === undefined ? 100 : 20
/** How long leak names may take to settle (see `leaks`). */
const SETTLE_MS = 250

interface Running {
  path: string[]
  /** The test's marker: what the processes it starts carry (and PID 1 reports). */
  marker: string
  startedAt: number
  cpuAt: number | null
  pidsPeak: number
  /** Processes first seen while it ran (`pid.start`). */
  seen: Set<string>
}

/** Markers of this file's tests: unique in the sandbox (a reused sandbox runs many files). */
const FILE = `${process.pid}.${Math.floor(Math.random() * 2 ** 32).toString(36)}.${Date.now().toString(36)}`
let files = 0

export class UsageTracker {
  readonly tests: InsideTest[] = []
  readonly #attribution: LeakAttribution
  readonly #prefix = `${FILE}.${++files}`
  /** Processes seen so far (`pid.start`: pids are reused), to count what each test started. */
  readonly #known = new Set<string>()
  #current: Running | undefined
  #timer: NodeJS.Timeout | undefined
  #canResetPeak = true
  #filePeakRss = 0
  #filePidsPeak = 0
  readonly #fileStartedAt = performance.now()
  readonly #fileCpuAt: number | null

  constructor() {
    const ps = sandboxProcesses()
    this.#attribution = new LeakAttribution(ps)
    for (const p of ps) this.#known.add(`${p.pid}.${p.start}`)
    this.#fileCpuAt = safeCpu(ps)
    this.#filePidsPeak = taskCount(ps)
  }

  /** Samples the sandbox: new processes counted for the running test, the task peaks. */
  #scan(): ProcEntry[] {
    const ps = sandboxProcesses()
    const t = taskCount(ps)
    if (this.#current) {
      for (const p of ps) {
        const key = `${p.pid}.${p.start}`
        if (this.#known.has(key)) continue
        this.#known.add(key)
        this.#current.seen.add(key)
      }
      this.#current.pidsPeak = Math.max(this.#current.pidsPeak, t)
    }
    this.#filePidsPeak = Math.max(this.#filePidsPeak, t)
    return ps
  }

  testStart(path: string[]): void {
    this.#stopSampler()
    this.#notePeak()
    if (this.#canResetPeak) this.#canResetPeak = resetPeakRss()
    const marker = `${this.#prefix}.${this.tests.length + 1}`
    this.#attribution.testStarts(marker)
    this.#current = { path, marker, startedAt: performance.now(), cpuAt: null, pidsPeak: 0, seen: new Set() }
    this.#current.cpuAt = safeCpu(this.#scan())
    this.#timer = setInterval(() => this.#scan(), SAMPLE_MS)
    this.#timer.unref()
  }

  testDone(): void {
    const run = this.#current
    if (!run) return
    this.#stopSampler()
    const ps = this.#scan()
    this.#current = undefined
    this.#attribution.testEnds(ps)
    const cpu = safeCpu(ps)
    const peak = peakRss()
    let others = 0
    const launcher = launcherPid()
    for (const p of ps) if (p.pid !== process.pid && p.pid !== launcher && p.state !== 'Z') others += p.rssBytes
    this.#notePeak(peak)
    this.tests.push({
      path: run.path,
      marker: run.marker,
      wallMs: performance.now() - run.startedAt,
      cpuMs: cpu !== null && run.cpuAt !== null ? Math.max(0, cpu - run.cpuAt) : null,
      // Without a peak reset the worker's VmHWM is the file's so far: say "unknown" rather than mislead.
      memoryPeakBytes: peak !== null && this.#canResetPeak ? peak + others : null,
      pidsPeak: run.pidsPeak || null,
      pidsStarted: run.seen.size,
    })
  }

  /**
   * The processes of this file alive now (not the launcher, the worker or
   * zombies), each under the test that started it and named by its final
   * command: a process caught between fork and exec (a shell's `setsid
   * sleep &` is `setsid` for a moment) is read again until two readings
   * agree and none of them is running or in the kernel, as PID 1 does (a
   * few ms; at most ~250).
   */
  async leaks(): Promise<InsideLeak[]> {
    this.#stopSampler()
    this.#current = undefined
    const names = new Map(this.tests.map((t) => [t.marker, t.path]))
    const deadline = performance.now() + SETTLE_MS
    let last = ''
    for (;;) {
      const ps = this.#scan()
      const out: InsideLeak[] = this.#attribution.note(ps).map((p) => {
        const test = p.test === undefined ? undefined : names.get(p.test)
        return test ? { pid: p.pid, command: p.command, test } : { pid: p.pid, command: p.command }
      })
      if (out.length === 0) return out // the common case: nothing to name
      const reading = JSON.stringify(out)
      const left = new Set(out.map((l) => l.pid))
      const busy = ps.some((p) => left.has(p.pid) && (p.state === 'R' || p.state === 'D'))
      if ((reading === last && !busy) || performance.now() > deadline) return out
      last = reading
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  /** File-level figures from inside. */
  fileFigures(): { wallMs: number; cpuMs: number | null; memoryPeakBytes: number | null; pidsPeak: number | null } {
    this.#notePeak()
    const cpu = safeCpu(sandboxProcesses())
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

function safeCpu(ps: ProcEntry[]): number | null {
  try {
    return sandboxCpuMs(ps)
  } catch {
    return null
  }
}
