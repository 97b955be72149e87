// How the launcher joins a sandbox's cgroups, for real on this host: v1 by
// "0" into `tasks` (no global lock), v2 by clone3(CLONE_INTO_CGROUP), and the
// fallback (the pid into cgroup.procs) that Docker's seccomp profile forces.
import { spawn } from 'node:child_process'
import type { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { prepareSandbox } from '../../src/index.ts'

async function cgroupsInside(extraArgs: string[]): Promise<{ lines: string[]; procsFiles: string[] }> {
  const launch = prepareSandbox({ memory: '256M', pids: 64 }, { statusFd: 3 })
  const procsFiles = launch.cgroup?.procsFiles ?? []
  const child = spawn(launch.file, [...extraArgs, ...launch.args, 'cat', '/proc/self/cgroup'], {
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
    env: { ...process.env, ...launch.env },
    cwd: launch.options.cwd,
  })
  let out = ''
  let status = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  ;(child.stdio[3] as Readable).setEncoding('utf8').on('data', (d: string) => {
    status += d
  })
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  )
  const result = launch.finish(status, exit, 0)
  await launch.disposed
  expect(result.code).toBe(0)
  return { lines: out.trim().split('\n'), procsFiles }
}

/** `/sys/fs/cgroup/<h>/<rel>/cgroup.procs` → the line `/proc/self/cgroup` should have for it. */
function expected(procs: string): { hierarchy: string; path: string } {
  const m = /^\/sys\/fs\/cgroup\/([^/]+)(\/.*)\/cgroup\.procs$/.exec(procs)
  if (!m) throw new Error(`unexpected procs path ${procs}`)
  return { hierarchy: m[1] as string, path: m[2] as string }
}

describe('joining the sandbox cgroups', { tags: ['root'] }, () => {
  for (const [name, args] of [
    ['fast path (tasks "0", clone3 into the cgroup)', []],
    ['fallback (pid into cgroup.procs, no clone3)', ['--no-clone3']],
  ] as const) {
    it(`${name}: the command is in every hierarchy's sandbox cgroup`, async () => {
      const { lines, procsFiles } = await cgroupsInside([...args])
      expect(procsFiles.length).toBeGreaterThanOrEqual(2)
      for (const f of procsFiles) {
        const { hierarchy, path } = expected(f)
        const line = lines.find((l) =>
          hierarchy === 'unified' ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes(hierarchy),
        )
        expect(line, `${hierarchy} in\n${lines.join('\n')}`).toBeDefined()
        expect(line?.slice(line.lastIndexOf(':') + 1)).toBe(path)
      }
    })
  }
})
