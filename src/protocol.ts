/**
 * The contract between the host side (`src/host`), the launcher
 * (`src/launcher/launcher.c`) and the sandbox side (`src/sandbox`): the plan
 * the host hands to the worker-side setup, and the status lines that come
 * back on the launcher's status channel.
 */
/** Environment variable carrying the filesystem plan (src/host/plan.ts) to the launcher. */
export const PLAN_ENV = 'NS_ISOLATED_PLAN'
/** Set in every sandbox's environment: its hostname. Tells code (and runner environments) that they run inside. */
export const INSIDE_ENV = 'NS_ISOLATED_INSIDE'
/**
 * Set by the runners' trackers inside a sandbox while a test runs (an id of
 * the test): every process the test starts inherits it, so a leak names its
 * test however it was started (src/sandbox/proc.ts, `testMarkerOf`).
 */
export const TEST_ENV = 'NS_ISOLATED_TEST'
/** Where the staging tmpfs (overlay upper layers, manifest) is visible inside, read-only. */
export const STAGING_INSIDE = '/dev/.ns-isolated'
/** The launcher's exit code when it (not the command) failed. */
export const EXIT_LAUNCHER = 125

/** A failure of the sandbox setup (a mount, the hostname, lo), written by the launcher before the worker exits. */
export interface SetupFailureLine {
  v: 1
  setupError: { code: string; message: string; step: string; errnoNumber: number; path: string }
}

/** The setup finished; what it had to work around on this host. */
export interface SetupDoneLine {
  v: 1
  setup: { degraded: string[] }
}

/** A failure of the launcher itself. */
export interface LauncherErrorLine {
  v: 1
  error: { step: string; errno: number; detail: string }
}

/** What PID 1 reports when the worker has exited. */
export interface FinalStatusLine {
  v: 1
  code: number | null
  signal: number | null
  /** `test`: the NS_ISOLATED_TEST in the process's environment (TEST_ENV), when it has one. */
  leaked: Array<{ pid: number; cmd: string; test?: string }>
  leaksUnknown?: boolean
  /** More processes were left than PID 1 lists (256); all were killed. */
  leaksTruncated?: boolean
  writes: Array<{ path: string; kind: 'file' | 'deleted' | 'symlink' | 'other' }>
  writesTruncated: boolean
  writesUnknown: boolean
  /** The sandbox's tmpfs as it ended (absent when PID 1 could not tell). */
  tmpfs?: { sizeBytes: number; usedBytes: number }
  /** getrusage(RUSAGE_CHILDREN) of PID 1 after it reaped the whole tree. */
  rusage: { utimeUs: number; stimeUs: number; maxrssKb: number }
}

export type StatusLine = SetupDoneLine | SetupFailureLine | LauncherErrorLine | FinalStatusLine

/** Reads the status channel as it arrives (a pipe): each whole line is parsed once; a partial one waits for its end. */
export class StatusReader {
  /** Every line read so far. */
  readonly lines: StatusLine[] = []
  #rest = ''

  /** Adds text; returns the lines it completed. */
  push(text: string): StatusLine[] {
    const parts = (this.#rest + text).split('\n')
    this.#rest = parts.pop() ?? ''
    return this.#parse(parts)
  }

  /** The channel ended: a last line without its newline counts too. */
  end(): StatusLine[] {
    const last = this.#rest
    this.#rest = ''
    return this.#parse([last])
  }

  #parse(texts: string[]): StatusLine[] {
    const out: StatusLine[] = []
    for (const line of texts) {
      if (!line.trim()) continue
      try {
        out.push(JSON.parse(line) as StatusLine)
      } catch {
        // A torn line (the runner died mid-write) carries nothing we can use.
      }
    }
    this.lines.push(...out)
    return out
  }
}
