/**
 * Helpers of the cgroup v2 suite. It runs inside a VM with a real pure-v2
 * kernel (scripts/v2vm/run.sh, `npm run test:v2`), as root, in a leaf cgroup
 * below a slice as a service or a CI job is; elsewhere it is skipped.
 */
import { spawn } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { detectCgroupLayout } from '../../src/cgroup/index.ts'
import { cgroupDirs } from '../cgroup/helpers.ts'
import { collect, waitFor } from '../helpers.ts'

export { cgroupDirs }
export const CGROUP_ROOT = '/sys/fs/cgroup'

/** A pure cgroup v2 host, and we are root: what this suite needs. */
export const onV2AsRoot = detectCgroupLayout() === 'v2' && process.getuid?.() === 0

/** This process's own cgroup directory. */
export function ownCgroup(pid: number | 'self' = 'self'): string {
  const path = /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1] ?? '/'
  return join(CGROUP_ROOT, path)
}

/** Cgroup directories whose name ends with `-<label>` (a sandbox's cgroup carries its hostname). */
export function cgroupsLabelled(label: string): string[] {
  return cgroupDirs().filter((d) => basename(d).endsWith(`-${label}`))
}

const words = (file: string) => readFileSync(file, 'utf8').split(/\s+/).filter(Boolean)

/**
 * Makes a cgroup the way systemd makes a unit's: every missing directory on
 * the way, with the controllers the parent offers enabled in each ancestor's
 * subtree_control. `owner`: delegate it to that uid as systemd's
 * `Delegate=yes` does (the directory and the files a delegatee writes).
 */
export function makeCgroup(path: string, owner?: number): string {
  const parts = path.slice(CGROUP_ROOT.length + 1).split('/')
  let dir = CGROUP_ROOT
  for (const [i, part] of parts.entries()) {
    const available = words(join(dir, 'cgroup.controllers'))
    const enabled = new Set(words(join(dir, 'cgroup.subtree_control')))
    const missing = available.filter((c) => !enabled.has(c))
    if (missing.length > 0) writeFileSync(join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '))
    dir = join(dir, part)
    if (!existsSync(dir)) mkdirSync(dir)
    if (i === parts.length - 1 && owner !== undefined) {
      for (const f of ['', 'cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control'])
        chownSync(join(dir, f), owner, owner)
    }
  }
  return dir
}

/** Removes a cgroup and everything below it (deepest first); each must be empty of processes. */
export function removeCgroupTree(path: string): void {
  if (!existsSync(path)) return
  for (const d of cgroupDirs(path).reverse()) rmdirSync(d)
  rmdirSync(path)
}

export interface Started {
  pid: number
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>
  /** True once its stdout matches; false if it has not within `ms`. */
  printed(pattern: RegExp, ms?: number): Promise<boolean>
}

/**
 * Starts `argv` as a separate runner process: moved into `cgroup` (if given)
 * before it execs, and as `uid` (setpriv) if given.
 */
export function startRunner(argv: string[], opts: { cgroup?: string; uid?: number; env?: NodeJS.ProcessEnv } = {}) {
  const drop = opts.uid === undefined ? [] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups']
  const enter = opts.cgroup === undefined ? '' : `echo $$ > '${opts.cgroup}/cgroup.procs' || exit 97; `
  const child = spawn('sh', ['-c', `${enter}exec "$@"`, 'sh', ...drop, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  })
  const text = collect(child)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => child.on('close', (code, signal) => resolve({ code, signal, ...text })),
  )
  const started: Started = {
    pid: child.pid as number,
    exited,
    printed: (pattern, ms = 120_000) => waitFor(() => pattern.test(text.stdout), ms),
  }
  return started
}

/** The last JSON line a runner printed. */
export function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop() as string) as T
}
