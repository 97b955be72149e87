// How the launcher joins a sandbox's cgroups, for real on this host: v1 by
// "0" into `tasks` (no global lock), v2 by clone3(CLONE_INTO_CGROUP), and the
// fallback (the pid into cgroup.procs) that Docker's seccomp profile forces.
// Facts-driven: on this hybrid host and on a pure-v2 kernel (test/v2, in a VM).
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readCgroupMounts } from '../../src/cgroup/layout.ts'
import { prepareSandbox, startSandbox } from '../../src/index.ts'

interface Inside {
  /** /proc/self/cgroup of the command. */
  lines: string[]
  /** The sandbox has a cgroup namespace of its own (v2 with nsdelegate): its cgroup shows as `/` inside. */
  ownNamespace: boolean
  /** /proc/<launcher>/cgroup of the launcher's outer process (still in the runner's namespaces), read while the command ran. */
  launcher: string[]
  procsFiles: string[]
}

async function cgroupsInside(extraArgs: string[]): Promise<Inside> {
  const launch = prepareSandbox({ memory: '256M', pids: 64 }, { statusFd: 3 })
  const procsFiles = launch.cgroup?.procsFiles ?? []
  // The command prints its cgroups, then waits for its stdin to close: the launcher is alive meanwhile.
  const { launcher: child, result: ended } = startSandbox(launch, () =>
    spawn(launch.file, [...extraArgs, ...launch.args, 'sh', '-c', 'cat /proc/self/cgroup; echo END; cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'inherit', 'pipe'],
      env: { ...process.env, ...launch.env },
      cwd: launch.options.cwd,
    }),
  )
  let out = ''
  let launcher: string[] = []
  const printed = new Promise<void>((resolve) => {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (out.includes('END\n')) resolve()
    })
  })
  await Promise.race([printed, ended])
  try {
    launcher = readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').trim().split('\n')
  } finally {
    child.stdin?.end()
  }
  const result = await ended
  expect(result.code).toBe(0)
  return {
    lines: out.replace('END\n', '').trim().split('\n'),
    ownNamespace: launch.args.includes('--cgroupns'),
    launcher,
    procsFiles,
  }
}

/** A procs file → the `/proc/<pid>/cgroup` line of its hierarchy (`0::` for cgroup2) and the path that line should show. */
function expected(procs: string): { line: (l: string) => boolean; path: string; unified: boolean } {
  const m = readCgroupMounts()
  const dir = dirname(procs)
  if (m.unified !== undefined && dir.startsWith(`${m.unified}/`)) {
    const path = `/${relative(m.unified, dir)}`
    const full = m.unifiedMountRoot === '/' ? path : m.unifiedMountRoot + path
    return { line: (l) => l.startsWith('0::'), path: full, unified: true }
  }
  for (const [controller, mount] of m.v1) {
    if (dir.startsWith(`${mount}/`)) {
      const line = (l: string) => l.split(':')[1]?.split(',').includes(controller) === true
      return { line, path: `/${relative(mount, dir)}`, unified: false }
    }
  }
  throw new Error(`${procs} is in no cgroup mount`)
}

/** A cgroup path at or below another. */
const within = (path: string | undefined, top: string) => path === top || path?.startsWith(`${top}/`) === true

const pathOf = (lines: string[], line: (l: string) => boolean) => {
  const l = lines.find(line)
  return l?.slice(l.indexOf(':', l.indexOf(':') + 1) + 1)
}

describe('joining the sandbox cgroups', { tags: ['root'] }, () => {
  const layout = readCgroupMounts().layout
  for (const [name, args, clone3] of [
    ['fast path (tasks "0", clone3 into the cgroup)', [], true],
    ['fallback (pid into cgroup.procs, no clone3)', ['--no-clone3'], false],
  ] as const) {
    it(`${name}: the command is in every hierarchy's sandbox cgroup`, async () => {
      const { lines, ownNamespace, launcher, procsFiles } = await cgroupsInside([...args])
      // One cgroup on v2; on v1/hybrid one per hierarchy used (memory, pids, and the unified one's).
      if (layout === 'v2') expect(procsFiles).toHaveLength(1)
      else expect(procsFiles.length).toBeGreaterThanOrEqual(2)
      for (const f of procsFiles) {
        const { line, path, unified } = expected(f)
        // In a cgroup namespace of its own, the sandbox's cgroup is that namespace's root.
        expect(within(pathOf(lines, line), unified && ownNamespace ? '/' : path), `${f} in\n${lines.join('\n')}`).toBe(
          true,
        )
      }
      // Which way the cgroup2 join went: clone3(CLONE_INTO_CGROUP) forks PID 1
      // into it and leaves the launcher where it was; the fallback moves the
      // launcher itself in before it forks.
      const unified = procsFiles.find((f) => expected(f).unified)
      if (unified !== undefined) {
        const { line, path } = expected(unified)
        expect(within(pathOf(launcher, line), path), launcher.join('\n')).toBe(!clone3)
      }
    })
  }
})
