/**
 * Preparing one sandbox on the host side: validated options, the strategy,
 * the plan for the worker-side setup, the launcher's command line, and the
 * reading of its status channel into a result. Every front door builds on
 * this: `spawnSandbox` (CLI, `isolate`) and the Vitest and Jest workers, which
 * put the launcher in front of node through `child_process.fork`'s `execPath`.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { constants } from 'node:os'
import { type NetworkMode, type ResolvedOptions, resolveOptions, type SandboxOptions } from '../options.ts'
import {
  type FinalStatusLine,
  type LauncherErrorLine,
  INSIDE_ENV,
  PLAN_ENV,
  parseStatus,
  type SetupDoneLine,
  type SetupFailureLine,
} from '../protocol.ts'
import { explainLauncherError, explainSetupError } from './explain.ts'
import { readHostFacts } from './facts.ts'
import { assertLinux, launcherPath } from './launcher-binary.ts'
import { buildPlan, type FsPlanInput } from './plan.ts'

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
  /** CPU and peak RSS from getrusage of the whole tree (when no cgroup gives better figures). */
  rusage: { cpuUserMs: number; cpuSystemMs: number; maxRssBytes: number } | null
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
  /** Reads the status channel's text and the exit of the launcher into a result; throws NsIsolatedError on setup failures. */
  finish(statusText: string, exit: { code: number | null; signal: NodeJS.Signals | null }, wallMs: number): SandboxResult
}

export interface StatusChannel {
  /** An fd of the launcher's (e.g. 3, a pipe from stdio). */
  statusFd?: number
  /** A file the launcher creates on the host before entering namespaces. */
  statusFile?: string
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
    keep: extra.keep ?? [],
    cwd: resolved.cwd,
  }
  const fsPlan = buildPlan(plan)
  const args = ['--parent-pid', String(process.pid)]
  if (strategy === 'rootless') args.push('--userns')
  if (resolved.network === 'host') args.push('--no-net')
  if (channel.statusFile !== undefined) args.push('--status-file', channel.statusFile)
  else if (channel.statusFd !== undefined) args.push('--status-fd', String(channel.statusFd))
  args.push(...(extra.extraLauncherArgs ?? []), '--')

  const finish: SandboxLaunch['finish'] = (statusText, exit, wallMs) => {
    const lines = parseStatus(statusText)
    const launcherError = lines.find((l): l is LauncherErrorLine => 'error' in l)
    if (launcherError) throw explainLauncherError(launcherError, readHostFacts())
    const setupError = lines.find((l): l is SetupFailureLine => 'setupError' in l)
    if (setupError) throw explainSetupError(setupError, readHostFacts(), strategy === 'rootless')
    const done = lines.find((l): l is SetupDoneLine => 'setup' in l)
    const final = lines.find((l): l is FinalStatusLine => 'leaked' in l)
    const created = new Set(fsPlan.created)
    const writes = (final?.writes ?? []).filter((w) => !created.has(w.path))
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
      degraded: done?.setup.degraded ?? [],
      rusage: final?.rusage
        ? {
            cpuUserMs: final.rusage.utimeUs / 1000,
            cpuSystemMs: final.rusage.stimeUs / 1000,
            maxRssBytes: final.rusage.maxrssKb * 1024,
          }
        : null,
    }
  }

  return {
    file,
    args,
    env: { [PLAN_ENV]: fsPlan.text, [INSIDE_ENV]: plan.hostname },
    options: resolved,
    plan,
    strategy,
    finish,
  }
}

