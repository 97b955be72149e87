/**
 * The `SandboxCgroup` handed to callers, built on a driver: the waiting and
 * retrying around the driver's single-pass operations.
 */
import type { CgroupDriver } from './driver.ts'
import { NO_CAPS } from './driver.ts'
import { sleep, sleepSync } from './io.ts'
import type { CgroupLayout, CgroupUsage, SandboxCgroup } from './types.ts'
import { unknownUsage } from './usage.ts'

/** How long killed tasks get to leave before we give up (uninterruptible sleep, e.g. a hung NFS read). */
const KILL_TIMEOUT_MS = 10_000
/** How long rmdir may answer EBUSY after the last task left. */
const REMOVE_TIMEOUT_MS = 2_000
/** Kill again (SIGKILL each listed pid too) when tasks are still there after this long. */
const REKILL_AFTER_MS = 20

async function killAll(driver: CgroupDriver, warnings: string[]): Promise<void> {
  if (driver.isEmpty()) return
  const start = Date.now()
  let lastKill = start
  let round = 0
  driver.kill(round++)
  let delay = 1
  while (!driver.isEmpty()) {
    const now = Date.now()
    if (now - start > KILL_TIMEOUT_MS) {
      warnings.push(
        `tasks still in the cgroup ${KILL_TIMEOUT_MS} ms after SIGKILL (uninterruptible sleep?); left for sweepStaleCgroups`,
      )
      return
    }
    if (now - lastKill >= REKILL_AFTER_MS) {
      driver.kill(round++)
      lastKill = now
    }
    await sleep(delay)
    delay = Math.min(delay + 1, 10)
  }
}

async function remove(driver: CgroupDriver, warnings: string[]): Promise<void> {
  const start = Date.now()
  let delay = 1
  while (!driver.remove()) {
    if (Date.now() - start > REMOVE_TIMEOUT_MS) {
      warnings.push(`the cgroup could not be removed (EBUSY for ${REMOVE_TIMEOUT_MS} ms); left for sweepStaleCgroups`)
      return
    }
    await sleep(delay)
    delay = Math.min(delay * 2, 50)
  }
}

/** Synchronous kill, wait and remove (sweep, doctor). True when everything is gone. */
export function drainSync(driver: CgroupDriver, timeoutMs = REMOVE_TIMEOUT_MS): boolean {
  const start = Date.now()
  let round = 0
  let delay = 1
  while (!driver.isEmpty()) {
    if (Date.now() - start > timeoutMs) return false
    driver.kill(round++)
    sleepSync(delay)
    delay = Math.min(delay * 2, 20)
  }
  while (!driver.remove()) {
    if (Date.now() - start > timeoutMs) return false
    sleepSync(delay)
    delay = Math.min(delay * 2, 50)
  }
  return true
}

export function makeHandle(driver: CgroupDriver, warnings: string[], delegable = false): SandboxCgroup {
  let closing: Promise<CgroupUsage> | undefined
  return {
    layout: driver.layout,
    procsFiles: driver.procsFiles,
    enforced: driver.enforced,
    warnings,
    delegable,
    read: () => driver.read(),
    killAll: () => killAll(driver, warnings),
    close() {
      closing ??= (async () => {
        // Kill first so the figures include what the leftovers used until
        // their death; the counters stay readable until rmdir.
        await killAll(driver, warnings)
        const usage = driver.read()
        await remove(driver, warnings)
        return usage
      })()
      return closing
    },
  }
}

/**
 * A handle without a cgroup: caps were asked but cannot be had and the policy
 * is `'warn'`. Its figures say `source: 'rusage'`: take them from the launcher.
 */
export function makeDetachedHandle(layout: CgroupLayout, warnings: string[]): SandboxCgroup {
  return {
    layout,
    procsFiles: [],
    enforced: { ...NO_CAPS },
    warnings,
    delegable: false,
    read: unknownUsage,
    killAll: async () => {},
    close: async () => unknownUsage(),
  }
}
