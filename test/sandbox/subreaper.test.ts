// Without namespaces (hosts that refuse them: Docker's default seccomp
// profile, AppArmor): the launcher is the command's subreaper. Refused for
// real here: a seccomp filter that does what Docker's profile does to
// namespaces, installed by a helper of these tests (syscall-probe.c).
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { runSandbox } from '../../dist/index.js'
import { dist, pidsWithMarker, runScript, uniqueSleep, waitFor } from '../helpers.ts'
import { probeDir } from './probes.ts'

const { probe } = probeDir('nsiso-sub-')

const underDockerSeccomp = (args: string[]) =>
  spawnSync(probe, ['docker-seccomp', process.execPath, dist('cli/main.js'), ...args], { encoding: 'utf8' })

describe('under a seccomp filter like Docker’s', () => {
  it('namespaces are refused and the error says so, naming the namespace-free mode', () => {
    const r = underDockerSeccomp(['run', '--', 'true'])
    expect(r.status).toBe(125)
    expect(r.stderr).toContain('[ENS_SECCOMP_DENIED]')
    expect(r.stderr).toContain('--no-namespaces')
  })

  it('doctor says which mode this host gets, and why', () => {
    const r = underDockerSeccomp(['doctor', '--json'])
    const mode = (JSON.parse(r.stdout) as { name: string; status: string; detail: string }[]).find(
      (c) => c.name === 'mode on this host',
    )
    expect(mode?.status).toBe('warn')
    expect(mode?.detail).toMatch(/^namespaces refused \(ENS_SECCOMP_DENIED\); without them, leaks are still reported/)
  })

  it('--no-namespaces runs the command, reports the setsid daemon by its command, and leaves nothing alive', () => {
    const sleep = uniqueSleep()
    const r = underDockerSeccomp([
      'run',
      '--json',
      '--no-namespaces',
      '--',
      'sh',
      '-c',
      `setsid sleep ${sleep} & echo ok`,
    ])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe('ok\n')
    const result = JSON.parse(r.stderr) as { namespaces: boolean; leaked: { command: string }[] }
    expect(result.namespaces).toBe(false)
    expect(result.leaked.map((l) => l.command)).toEqual([`sleep ${sleep}`])
    expect(pidsWithMarker(sleep)).toEqual([])
  })
})

describe('namespaces: false', () => {
  it('as root: double forks and setsid daemons are reported and killed; caps and figures from its cgroup', {
    tags: ['root'],
  }, async () => {
    const sleep = uniqueSleep()
    const r = await runSandbox(
      'sh',
      ['-c', `setsid sleep ${sleep} </dev/null >/dev/null 2>&1 & (sleep ${sleep} &); exit 3`],
      {
        namespaces: false,
        pids: 64,
        stdio: 'ignore',
      },
    )
    expect(r.code).toBe(3)
    expect(r.namespaces).toBe(false)
    expect(r.leaked.map((l) => l.command).sort()).toEqual([`sleep ${sleep}`, `sleep ${sleep}`])
    expect(r.caps.enforced.pids).toBe(true)
    expect(r.usage.source).toBe('cgroup')
    expect(pidsWithMarker(sleep)).toEqual([])
  })

  it('rootless: the same, figures from rusage where there is no cgroup', () => {
    const sleep = uniqueSleep()
    const { json, stderr } = runScript(
      `
      import { runSandbox } from '@dist/index.js'
      const r = await runSandbox('sh', ['-c', 'setsid sleep ${sleep} </dev/null >/dev/null 2>&1 & echo $(id -u)'], { namespaces: false, stdio: ['ignore', 'ignore', 'inherit'] })
      console.log(JSON.stringify({ code: r.code, leaked: r.leaked.map((l) => l.command), namespaces: r.namespaces }))
      `,
      { asNobody: true },
    )
    expect(json, stderr).toEqual({ code: 0, leaked: [`sleep ${sleep}`], namespaces: false })
    expect(pidsWithMarker(sleep)).toEqual([])
  })

  it('a SIGKILLed runner takes the whole tree along, setsid daemon included', async () => {
    const sleep = uniqueSleep()
    const runner = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { spawnSandbox } from '${dist('index.js')}'
const s = spawnSandbox('sh', ['-c', 'setsid sleep ${sleep} </dev/null >/dev/null 2>&1 & sleep ${sleep} & echo ready; wait'], { namespaces: false, stdio: ['ignore', 'inherit', 'inherit'] })
await s.result`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    await new Promise<void>((ready) => runner.stdout.on('data', (d) => String(d).includes('ready') && ready()))
    // A process may end between the listing and the read: it is no sleeper then.
    const cmdline = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      } catch {
        return ''
      }
    }
    const sleepers = () => pidsWithMarker(sleep).filter((p) => cmdline(p).startsWith('sleep\0'))
    expect(await waitFor(() => sleepers().length === 2, 60_000)).toBe(true) // both exec'd
    runner.kill('SIGKILL')
    expect(await waitFor(() => sleepers().length === 0, 60_000)).toBe(true)
  })
})
