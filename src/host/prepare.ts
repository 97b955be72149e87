/**
 * Preparing one sandbox on the host side: validated options, the strategy,
 * the plan for the worker-side setup, the launcher's command line, and the
 * reading of its status channel into a result. Every front door builds on
 * this: `spawnSandbox` (CLI, `isolate`) and the Vitest and Jest workers, which
 * put the launcher in front of node through `child_process.fork`'s `execPath`.
 */
import { existsSync, mkdirSync, realpathSync } from 'node:fs'
import { constants } from 'node:os'
import {
  type CgroupUsage,
  type EnforcedCaps,
  openSandboxCgroup,
  type SandboxCgroup,
  sweepStaleCgroups,
  usageFromRusage,
} from '../cgroup/index.ts'
import { type NetworkMode, type ResolvedOptions, resolveOptions, type SandboxOptions } from '../options.ts'
import {
  type FinalStatusLine,
  INSIDE_ENV,
  type LauncherErrorLine,
  PLAN_ENV,
  parseStatus,
  type SetupDoneLine,
  type SetupFailureLine,
} from '../protocol.ts'
import type { CapHit } from '../report/schema.ts'
import { explainLauncherError, explainSetupError } from './explain.ts'
import { readHostFacts } from './facts.ts'
import { assertLinux, launcherPath } from './launcher-binary.ts'
import { nodeModulesDirs } from './node-modules.ts'
import { assertNodeSupported } from './node-version.ts'
import { buildPlan, type FsPlanInput } from './plan.ts'
import { implicitKeep } from './tmp-keep.ts'

export type Strategy = 'root' | 'rootless'

/** A process the command left running; killed when the command exited. */
export interface LeakedProcess {
  /** Its pid inside the sandbox. */
  pid: number
  /** Its command line. */
  command: string
}

/** A path the sandbox wrote outside /tmp, into the overlay (gone with the sandbox). */
export interface WrittenPath {
  path: string
  kind: 'file' | 'deleted' | 'symlink' | 'other'
}

/** Everything one sandbox run tells. */
export interface SandboxResult {
  /** Exit code of the command, or null when a signal ended it. */
  code: number | null
  signal: NodeJS.Signals | null
  /** Wall time from spawn to the end of the sandbox, in ms. */
  wallMs: number
  /** Processes still alive when the command exited; all were killed. */
  leaked: LeakedProcess[]
  /** False when the sandbox ended before PID 1 could look (killed from outside). */
  leaksKnown: boolean
  /** What the command wrote outside /tmp and the writable paths (files, symlinks, deletions; not directories). */
  writes: WrittenPath[]
  /** True when there were more than 2,000 writes; the list holds the first ones. */
  writesTruncated: boolean
  hostname: string
  network: NetworkMode
  strategy: Strategy
  /** Parts of the setup that had to be weakened on this host (e.g. a read-only bind where an overlay was refused). */
  degraded: string[]
  /** CPU and peak RSS from getrusage of the whole tree, as PID 1 saw it (null when it was killed from outside). */
  rusage: { cpuUserMs: number; cpuSystemMs: number; maxRssBytes: number } | null
  /** Figures of the whole sandbox: from its cgroup where there is one, else from rusage (`usage.source`). */
  usage: CgroupUsage
  /** The caps asked for, which the kernel enforced, and the ones the sandbox ran into. */
  caps: SandboxCaps
}

/** Caps of one sandbox. */
export interface SandboxCaps {
  limits: { memory: number | undefined; pids: number | undefined; cpu: number | undefined }
  enforced: EnforcedCaps
  /** The caps the sandbox hit (memory: an OOM kill; pids: the peak reached the cap). */
  hit: CapHit[]
}

export interface SandboxLaunch {
  /** The executable to start: the launcher. */
  readonly file: string
  /** Launcher arguments up to and including '--'; the command follows. */
  readonly args: string[]
  /** Environment entries to add for the sandboxed process. */
  readonly env: Record<string, string>
  readonly options: ResolvedOptions
  readonly plan: FsPlanInput
  readonly strategy: Strategy
  /** The sandbox's cgroup (null without one): `read()` gives figures now, for per-test deltas. */
  readonly cgroup: SandboxCgroup | null
  /** Settles once the sandbox's cgroup is gone (started by `finish` or `abandon`). */
  readonly disposed: Promise<void>
  /** For a sandbox that never started (spawn failed): removes its cgroup. */
  abandon(): Promise<void>
  /** Reads the status channel's text and the exit of the launcher into a result; throws NsIsolatedError on setup failures. */
  finish(
    statusText: string,
    exit: { code: number | null; signal: NodeJS.Signals | null },
    wallMs: number,
  ): SandboxResult
}

export interface StatusChannel {
  /** An fd of the launcher's (e.g. 3, a pipe from stdio). */
  statusFd?: number
  /** A file the launcher creates on the host before entering namespaces. */
  statusFile?: string
}

let swept = false
let nodeBinary: string[] | undefined

/** The Node binary every front door runs in its sandboxes (process.execPath, as the kernel maps it). */
function runningNode(): string[] {
  if (!nodeBinary) {
    try {
      nodeBinary = [realpathSync(process.execPath)]
    } catch {
      nodeBinary = []
    }
  }
  return nodeBinary
}

/** The caps a sandbox ran into, from its final figures. */
export function capsHit(limits: SandboxCaps['limits'], usage: CgroupUsage): CapHit[] {
  const hit: CapHit[] = []
  if (limits.memory !== undefined && usage.oomKills > 0) {
    const mib = limits.memory / 2 ** 20
    hit.push({
      cap: 'memory',
      limit: limits.memory,
      detail: `exceeded memory cap ${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB: ${usage.oomKills} process${usage.oomKills === 1 ? '' : 'es'} OOM-killed`,
    })
  }
  if (limits.pids !== undefined && usage.pidsPeak !== null && usage.pidsPeak >= limits.pids) {
    hit.push({
      cap: 'pids',
      limit: limits.pids,
      detail: `reached pids cap ${limits.pids}: further fork/clone calls failed (EAGAIN)`,
    })
  }
  return hit
}

export function chooseStrategy(mode: ResolvedOptions['mode'], uid = process.getuid?.() ?? -1): Strategy {
  if (mode === 'root' || mode === 'rootless') return mode
  return uid === 0 ? 'root' : 'rootless'
}

function signalName(n: number | null): NodeJS.Signals | null {
  if (n === null) return null
  for (const [name, num] of Object.entries(constants.signals)) if (num === n) return name as NodeJS.Signals
  return null
}

/** Prepares one sandbox. `options` are validated here (a TypeError names the mistake). */
export function prepareSandbox(
  options: SandboxOptions | undefined,
  channel: StatusChannel,
  extra: { keep?: string[]; extraLauncherArgs?: string[] } = {},
): SandboxLaunch {
  assertNodeSupported()
  assertLinux()
  const resolved = resolveOptions(options)
  const file = launcherPath()
  const strategy = chooseStrategy(resolved.mode)
  // Writable paths must exist on the host to be bound; a missing one is created as a directory.
  for (const w of resolved.writable) if (!existsSync(w)) mkdirSync(w, { recursive: true })
  const plan: FsPlanInput = {
    strategy,
    hostname: resolved.hostname,
    network: resolved.network,
    writable: resolved.writable,
    // The runners' own paths under /tmp, and what any Node started from cwd needs there.
    keep: [...(extra.keep ?? []), ...implicitKeep(resolved.cwd)],
    cwd: resolved.cwd,
    binaries: runningNode(),
    readOnly: resolved.nodeModules === 'read-only' ? nodeModulesDirs(resolved.cwd) : [],
  }
  const fsPlan = buildPlan(plan)
  // A crashed runner may have left cgroups behind: sweep them once per process.
  if (!swept) {
    swept = true
    try {
      sweepStaleCgroups()
    } catch {
      // figures and caps below say what is wrong, if anything
    }
  }
  const limits = { memory: resolved.memory, pids: resolved.pids, cpu: resolved.cpu }
  const cgroup = openSandboxCgroup(resolved.hostname, limits, {
    rootless: strategy === 'rootless',
    unenforceable: resolved.unenforceable,
  })
  let disposed: Promise<void> | undefined
  const dispose = () => {
    disposed ??= cgroup ? cgroup.close().then(() => undefined) : Promise.resolve()
    return disposed
  }
  const args = ['--parent-pid', String(process.pid)]
  for (const f of cgroup?.procsFiles ?? []) args.push('--cgroup-procs', f)
  if (strategy === 'rootless') args.push('--userns')
  if (resolved.network === 'host') args.push('--no-net')
  if (channel.statusFile !== undefined) args.push('--status-file', channel.statusFile)
  else if (channel.statusFd !== undefined) args.push('--status-fd', String(channel.statusFd))
  args.push(...(extra.extraLauncherArgs ?? []), '--')

  const finish: SandboxLaunch['finish'] = (statusText, exit, wallMs) => {
    // Every process of the sandbox is dead by now (PID 1 killed what was left
    // before it exited, or the kernel did): the cgroup's figures are final.
    const cgUsage = cgroup && cgroup.procsFiles.length > 0 ? cgroup.read() : undefined
    void dispose()
    const lines = parseStatus(statusText)
    const launcherError = lines.find((l): l is LauncherErrorLine => 'error' in l)
    if (launcherError) throw explainLauncherError(launcherError, readHostFacts())
    const setupError = lines.find((l): l is SetupFailureLine => 'setupError' in l)
    if (setupError) throw explainSetupError(setupError, readHostFacts(), strategy === 'rootless')
    const done = lines.find((l): l is SetupDoneLine => 'setup' in l)
    const final = lines.find((l): l is FinalStatusLine => 'leaked' in l)
    const created = new Set(fsPlan.created)
    const writes = (final?.writes ?? []).filter((w) => !created.has(w.path))
    const usage = cgUsage ?? usageFromRusage(final?.rusage ?? { utimeUs: 0, stimeUs: 0, maxrssKb: 0 })
    if (!cgUsage && !final) {
      usage.cpuUserMs = usage.cpuSystemMs = usage.memoryPeakBytes = null
    }
    return {
      code: final ? final.code : exit.code,
      signal: final ? signalName(final.signal) : exit.signal,
      wallMs,
      leaked: (final?.leaked ?? []).map((l) => ({ pid: l.pid, command: l.cmd })),
      leaksKnown: final !== undefined && !final.leaksUnknown,
      writes,
      writesTruncated: final?.writesTruncated ?? false,
      hostname: plan.hostname,
      network: plan.network,
      strategy,
      degraded: [...(done?.setup.degraded ?? []), ...(cgroup?.warnings ?? [])],
      rusage: final?.rusage
        ? {
            cpuUserMs: final.rusage.utimeUs / 1000,
            cpuSystemMs: final.rusage.stimeUs / 1000,
            maxRssBytes: final.rusage.maxrssKb * 1024,
          }
        : null,
      usage,
      caps: {
        limits,
        enforced: cgroup?.enforced ?? { memory: false, pids: false, cpu: false },
        hit: capsHit(limits, usage),
      },
    }
  }

  return {
    file,
    args,
    env: { [PLAN_ENV]: fsPlan.text, [INSIDE_ENV]: plan.hostname },
    options: resolved,
    plan,
    strategy,
    cgroup,
    get disposed() {
      return dispose()
    },
    abandon: dispose,
    finish,
  }
}
