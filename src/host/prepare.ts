/**
 * Preparing one sandbox on the host side: validated options, the strategy,
 * the sandbox's cgroup, the plan for the worker-side setup and the
 * launcher's command line. What happens once the launcher runs (its status
 * channel, the result, disposal) is `startSandbox`'s (start.ts); every
 * front door goes through both: `spawnSandbox` (CLI), `isolate`, and the
 * Vitest and Jest workers, which put the launcher in front of node through
 * `child_process.fork`'s `execPath`.
 */
import { readFileSync, realpathSync } from 'node:fs'
import { availableParallelism, constants, hostname, totalmem } from 'node:os'
import {
  type CgroupUsage,
  detectCgroupLayout,
  type EnforcedCaps,
  openSandboxCgroup,
  type SandboxCgroup,
  usageFromRusage,
} from '../cgroup/index.ts'
import { type NetworkMode, type ResolvedOptions, resolveOptions, type SandboxOptions } from '../options.ts'
import {
  type FinalStatusLine,
  INSIDE_ENV,
  type LauncherErrorLine,
  PLAN_ENV,
  type SetupDoneLine,
  type SetupFailureLine,
  type StatusLine,
} from '../protocol.ts'
import { capsHit } from '../report/caps.ts'
import type { CapHit } from '../report/schema.ts'
import { explainLauncherError, explainSetupError } from './explain.ts'
import { readHostFacts } from './facts.ts'
import { assertLinux, launcherPath } from './launcher-binary.ts'
import { nodeModulesDirs } from './node-modules.ts'
import { assertNodeSupported } from './node-version.ts'
import { buildPlan, type FsPlanInput } from './plan.ts'
import { CAPABILITIES, lockdownFor } from './privileges.ts'
import { implicitKeep } from './tmp-keep.ts'
import { claimWritable, type WritableClaim } from './writable.ts'

export type Strategy = 'root' | 'rootless'

/** A process the command left running; killed when the command exited. */
export interface LeakedProcess {
  /** Its pid inside the sandbox. */
  pid: number
  /** Its command line, once its pending exec is done (PID 1 waits for the name to settle). */
  command: string
  /** The `NS_ISOLATED_TEST` in its environment, when it has one: the test that started it (set by the runners' trackers). */
  test?: string
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
  /** False when PID 1 did not report what was left running (killed from outside first, or it could not list them). */
  leaksKnown: boolean
  /** True when more than 256 processes were left: `leaked` lists the first ones (all were killed). */
  leaksTruncated: boolean
  /** What the command wrote outside /tmp and the writable paths (files, symlinks, deletions; not directories). */
  writes: WrittenPath[]
  /** True when there were more than 2,000 writes; the list holds the first ones. */
  writesTruncated: boolean
  /** False when PID 1 could not list the writes (killed from outside, or its manifest unreadable). */
  writesKnown: boolean
  /** The sandbox's tmpfs (everything it wrote outside its writable paths), as it ended; null when unknown. */
  tmpfs: { sizeBytes: number; usedBytes: number } | null
  hostname: string
  network: NetworkMode
  strategy: Strategy
  /** Parts of the setup that had to be weakened on this host (e.g. a read-only bind where an overlay was refused). */
  degraded: string[]
  /** CPU and peak RSS from getrusage of the whole tree, as PID 1 saw it (null when it was killed from outside). */
  rusage: { cpuUserMs: number; cpuSystemMs: number; maxRssBytes: number } | null
  /** False when it ran without namespaces (option `namespaces: false`): a subreaper, not a sandbox. */
  namespaces: boolean
  /** Figures of the whole sandbox: from its cgroup where there is one, else from rusage (`usage.source`). */
  usage: CgroupUsage
  /** The caps asked for, which the kernel enforced, and the ones the sandbox ran into. */
  caps: SandboxCaps
}

/** Caps of one sandbox. */
export interface SandboxCaps {
  /** The caps in force: those asked for, and the pids cap by default. */
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
  /** Where the launcher writes its status lines (an fd of its stdio, or a file). */
  readonly channel: StatusChannel
  /** The sandbox's cgroup (null without one): `read()` gives figures now, for per-test deltas. */
  readonly cgroup: SandboxCgroup | null
  /** Settles once the sandbox's cgroup is gone. Reading it changes nothing: the sandbox's end (or `abandon`) starts that. */
  readonly disposed: Promise<void>
  /** For a sandbox that never started: removes its cgroup, and the directories created for its writable paths. */
  abandon(): Promise<void>
}

export interface StatusChannel {
  /** An fd of the launcher's (e.g. 3, a pipe from stdio). */
  statusFd?: number
  /** A file the launcher creates on the host before entering namespaces. */
  statusFile?: string
}

/** How a launcher ended, as its parent saw it. */
export interface LauncherExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** What start.ts alone does with a launch: front doors get results from `startSandbox`. */
export interface LaunchInternals {
  /** Turns the status lines and the launcher's exit into the result; throws NsIsolatedError on setup failures. */
  finish(lines: StatusLine[], exit: LauncherExit, wallMs: number): SandboxResult
  /** The directories behind the writable paths, held until the sandbox ends. */
  writable: WritableClaim
}

const internals = new WeakMap<SandboxLaunch, LaunchInternals>()

export function internalsOf(launch: SandboxLaunch): LaunchInternals {
  const i = internals.get(launch)
  if (!i) throw new Error('ns-isolated: internal: not a launch made by prepareSandbox')
  return i
}

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

let sysAdmin: boolean | undefined

/** CAP_SYS_ADMIN in this process's effective set (what the root strategy's namespaces need); read once. */
function hasSysAdmin(): boolean {
  if (sysAdmin === undefined) {
    try {
      const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
      sysAdmin = eff !== undefined && ((BigInt(`0x${eff}`) >> BigInt(CAPABILITIES.SYS_ADMIN)) & 1n) === 1n
    } catch {
      sysAdmin = false
    }
  }
  return sysAdmin
}

/**
 * `'auto'`: root when running as root with CAP_SYS_ADMIN, else a user
 * namespace (an ordinary user, or root inside a sandbox, which has dropped
 * CAP_SYS_ADMIN: nested sandboxes are built rootless).
 */
export function chooseStrategy(mode: ResolvedOptions['mode'], uid = process.getuid?.() ?? -1): Strategy {
  if (mode === 'root' || mode === 'rootless') return mode
  return uid === 0 && hasSysAdmin() ? 'root' : 'rootless'
}

let hostDefaults: { pids: number; tmpfsBytes: number } | undefined

/** The bounds a sandbox gets unless told otherwise: small enough that every core's sandbox at once leaves the host room. */
export function defaultBounds(): { pids: number; tmpfsBytes: number } {
  if (hostDefaults === undefined) {
    const cpus = Math.max(1, availableParallelism())
    let pidMax = 32_768
    try {
      pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim()) || pidMax
    } catch {}
    hostDefaults = {
      pids: Math.max(256, Math.min(4096, Math.floor(pidMax / (2 * cpus)))),
      tmpfsBytes: Math.max(64, Math.floor(totalmem() / (2 * cpus) / 2 ** 20)) * 2 ** 20, // whole MiB: tmpfs rounds to pages
    }
  }
  return hostDefaults
}

/** The kernel caps one environment string at 128 KiB: a long plan goes in parts, cut at lines (launcher.c, take_plan). */
export function planEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {}
  const limit = 120 * 1024
  if (text.length <= limit / 3 || Buffer.byteLength(text) <= limit) return { [PLAN_ENV]: text }
  let part = 0
  let chunk = ''
  let bytes = 0
  const flush = () => {
    env[part === 0 ? PLAN_ENV : `${PLAN_ENV}_${part}`] = chunk
    part++
    chunk = ''
    bytes = 0
  }
  for (const line of text.split(/(?<=\n)/)) {
    const size = Buffer.byteLength(line)
    if (bytes + size > limit && chunk) flush()
    chunk += line
    bytes += size
  }
  if (chunk || part === 0) flush()
  return env
}

function signalName(n: number | null): NodeJS.Signals | null {
  if (n === null) return null
  for (const [name, num] of Object.entries(constants.signals)) if (num === n) return name as NodeJS.Signals
  return null
}

/**
 * Prepares one sandbox: `options` are validated here (a TypeError names the
 * mistake); on the host, its writable paths are claimed (a missing one is
 * created as a directory: the plan binds what is there, see writable.ts) and
 * its cgroup is opened; the launcher's command line and environment are
 * made. The front door then starts the launcher through `startSandbox`,
 * which releases both when the sandbox ends (`abandon` when it never starts).
 */
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
  const writable = claimWritable(resolved.writable)
  try {
    return prepare(resolved, file, strategy, channel, extra, writable)
  } catch (e) {
    writable.release(true)
    throw e
  }
}

function prepare(
  resolved: ResolvedOptions,
  file: string,
  strategy: Strategy,
  channel: StatusChannel,
  extra: { keep?: string[]; extraLauncherArgs?: string[] },
  writable: WritableClaim,
): SandboxLaunch {
  const bounds = defaultBounds()
  const limits = { memory: resolved.memory, pids: resolved.pids ?? bounds.pids, cpu: resolved.cpu }
  const cgroup = openSandboxCgroup(resolved.hostname, limits, {
    rootless: strategy === 'rootless',
    unenforceable: resolved.unenforceable,
    optional: resolved.pids === undefined ? ['pids'] : [],
  })
  const layout = cgroup?.layout ?? detectCgroupLayout()
  // v2 with nsdelegate: a cgroup namespace of its own, which the kernel guards.
  const ownCgroupfs = cgroup?.delegable === true && cgroup.procsFiles.length > 0
  const uid = process.getuid?.() ?? 0
  const gid = process.getgid?.() ?? 0
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
    tmpfsBytes: resolved.tmpfsSize ?? resolved.memory ?? bounds.tmpfsBytes,
    cgroupfs: ownCgroupfs ? 'own' : layout === 'none' ? 'none' : 'host',
    lockdown: lockdownFor({
      privileged: resolved.privileged,
      capabilities: resolved.capabilities,
      user: strategy === 'rootless' ? (resolved.user === 'self' ? { uid, gid } : { uid: 0, gid: 0 }) : undefined,
      capsInOwnCgroup: !ownCgroupfs,
    }),
  }
  let fsPlan: ReturnType<typeof buildPlan>
  try {
    fsPlan = buildPlan(plan)
  } catch (e) {
    if (cgroup) void cgroup.close()
    throw e
  }
  let markDisposed!: () => void
  const disposed = new Promise<void>((r) => {
    markDisposed = r
  })
  let disposing = false
  const dispose = (): Promise<void> => {
    if (!disposing) {
      disposing = true
      void (cgroup ? cgroup.close() : Promise.resolve()).then(markDisposed, markDisposed)
    }
    return disposed
  }
  const args = ['--parent-pid', String(process.pid)]
  for (const f of cgroup?.procsFiles ?? []) args.push('--cgroup-procs', f)
  if (!resolved.namespaces) args.push('--no-namespaces')
  else {
    if (strategy === 'rootless') args.push('--userns')
    if (resolved.network === 'host') args.push('--no-net')
    if (ownCgroupfs) args.push('--cgroupns')
  }
  if (channel.statusFile !== undefined) args.push('--status-file', channel.statusFile)
  else if (channel.statusFd !== undefined) args.push('--status-fd', String(channel.statusFd))
  args.push(...(extra.extraLauncherArgs ?? []), '--')

  const finish: LaunchInternals['finish'] = (lines, exit, wallMs) => {
    // Every process of the sandbox is dead by now (PID 1 killed what was left
    // before it exited, or the kernel did): the cgroup's figures are final.
    const cgUsage = cgroup && cgroup.procsFiles.length > 0 ? cgroup.read() : undefined
    void dispose()
    const launcherError = lines.find((l): l is LauncherErrorLine => 'error' in l)
    const setupError = lines.find((l): l is SetupFailureLine => 'setupError' in l)
    if (launcherError) throw explainLauncherError(launcherError, readHostFacts())
    if (setupError) throw explainSetupError(setupError, readHostFacts(), strategy === 'rootless')
    const done = lines.find((l): l is SetupDoneLine => 'setup' in l)
    const final = lines.find((l): l is FinalStatusLine => 'leaked' in l)
    const created = new Set(fsPlan.created)
    const writes = (final?.writes ?? []).filter((w) => !created.has(w.path))
    const usage = cgUsage ?? usageFromRusage(final?.rusage ?? { utimeUs: 0, stimeUs: 0, maxrssKb: 0 })
    if (!cgUsage && !final) {
      usage.cpuUserMs = usage.cpuSystemMs = usage.memoryPeakBytes = null
    }
    const tmpfs = final?.tmpfs ?? null
    const enforced = cgroup?.enforced ?? { memory: false, pids: false, cpu: false }
    // The default pids cap is in force only where the kernel enforces it.
    const inForce = { ...limits, pids: resolved.pids ?? (enforced.pids ? limits.pids : undefined) }
    return {
      code: final ? final.code : exit.code,
      signal: final ? signalName(final.signal) : exit.signal,
      wallMs,
      leaked: (final?.leaked ?? []).map((l) =>
        l.test ? { pid: l.pid, command: l.cmd, test: l.test } : { pid: l.pid, command: l.cmd },
      ),
      leaksKnown: final !== undefined && !final.leaksUnknown,
      leaksTruncated: final?.leaksTruncated ?? false,
      writes,
      writesTruncated: final?.writesTruncated ?? false,
      writesKnown: final !== undefined && !final.writesUnknown,
      tmpfs,
      hostname: resolved.namespaces ? plan.hostname : hostname(),
      network: resolved.namespaces ? plan.network : 'host',
      strategy,
      namespaces: resolved.namespaces,
      degraded: [...(done?.setup.degraded ?? []), ...(cgroup?.warnings ?? [])],
      rusage: final?.rusage
        ? {
            cpuUserMs: final.rusage.utimeUs / 1000,
            cpuSystemMs: final.rusage.stimeUs / 1000,
            maxRssBytes: final.rusage.maxrssKb * 1024,
          }
        : null,
      usage,
      caps: { limits: inForce, enforced, hit: capsHit(inForce, usage, tmpfs) },
    }
  }

  const launch: SandboxLaunch = {
    file,
    args,
    env: resolved.namespaces ? { ...planEnv(fsPlan.text), [INSIDE_ENV]: plan.hostname } : {},
    options: resolved,
    plan,
    strategy,
    channel,
    cgroup,
    disposed,
    abandon: () => {
      writable.release(true)
      return dispose()
    },
  }
  internals.set(launch, { finish, writable })
  return launch
}
