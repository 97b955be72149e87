/** What the tracker leaves for each test in `task.meta.nsIsolated` (read by the runner's reporter). */
export interface TestMeta {
  cpuMs: number
  /** Processes the test started that were still alive when it ended. */
  started: { pid: number; command: string }[]
}
