/**
 * The cgroup v2 logic a real kernel cannot show cheaply, against a fake
 * cgroupfs (see fake-cgroupfs.ts for what it mimics): how many writes the
 * set-up takes, a kernel older than cgroup.kill, a tree that lacks a
 * controller. Everything else of v2 is proven on a real pure-v2 kernel:
 * test/v2 (in a VM) and the test/cgroup files it runs there.
 */
import { spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { openSandboxCgroupWith } from '../../src/cgroup/open.ts'
import { describeCgroupSupportWith } from '../../src/cgroup/support.ts'
import { NsIsolatedError } from '../../src/errors.ts'
import { FakeCgroupfs, type FakeOptions } from './fake-cgroupfs.ts'

const NOT_MOUNTED = '' // mountinfo without the fake root: it is probed from files
const MiB = 1024 ** 2
let fakes: FakeCgroupfs[] = []
afterEach(() => {
  for (const f of fakes) f.dispose()
  fakes = []
})

function fake(options: FakeOptions = {}): FakeCgroupfs {
  const f = new FakeCgroupfs({ rootProcs: [1, process.pid], ...options })
  fakes.push(f)
  return f
}
function open(f: FakeCgroupfs, limits: object, extra: { unenforceable?: 'error' | 'warn'; selfCgroup?: string } = {}) {
  return openSandboxCgroupWith(
    'v2',
    limits,
    { rootless: false, unenforceable: extra.unenforceable ?? 'error', root: f.root },
    { io: f, mountinfo: NOT_MOUNTED, selfCgroup: extra.selfCgroup ?? '0::/\n' },
  )
}

describe('cgroup v2 (fake cgroupfs)', () => {
  it('a second sandbox does not redo the set-up', async () => {
    const f = fake()
    await open(f, { memory: 64 * MiB })?.close()
    const before = f.log.length
    const cg = open(f, { memory: 64 * MiB })
    const writes = f.log
      .slice(before)
      .filter((e) => e.op === 'write')
      .map((e) => e.path.slice(f.root.length))
    expect(writes.every((p) => !p.includes('subtree_control') && !p.includes('ns-isolated-runner'))).toBe(true)
    await cg?.close()
  })

  it('without cgroup.kill (before 5.14): freeze, SIGKILL each, thaw', async () => {
    const f = fake({ kill: false })
    const cg = open(f, { pids: 10 })
    if (!cg) throw new Error('no cgroup')
    const victim = spawn('sleep', ['60'], { stdio: 'ignore' })
    const gone = new Promise((r) => victim.on('exit', (_c, s) => r(s)))
    f.track(victim.pid as number)
    f.write(cg.procsFiles[0] as string, String(victim.pid))
    await cg.killAll()
    expect(await gone).toBe('SIGKILL')
    // Frozen for the kill, thawed after it; killAll kills again (another round) while the victim is still
    // listed 20 ms on, which a loaded machine can take.
    const freezes = f.log.filter((e) => e.path.endsWith('/cgroup.freeze')).map((e) => e.data)
    expect(freezes.length).toBeGreaterThanOrEqual(2)
    expect(freezes.join('')).toMatch(/^(10)+$/)
    await cg.close()
  })

  it('a runner already in ns-isolated-runner counts as its parent cgroup', async () => {
    const f = fake()
    await open(f, { pids: 5 })?.close()
    const cg = open(f, { pids: 5 }, { selfCgroup: '0::/ns-isolated-runner\n' })
    expect(cg?.procsFiles[0]?.startsWith(f.at('ns-isolated', ''))).toBe(true)
    await cg?.close()
  })

  it('a controller the parent does not offer: error names the fix, warn runs without that cap', async () => {
    const f = fake({ controllers: ['memory', 'pids'] })
    let error: unknown
    try {
      open(f, { cpu: 1 })
    } catch (e) {
      error = e
    }
    expect(NsIsolatedError.is(error)).toBe(true)
    expect((error as NsIsolatedError).code).toBe('ENS_CGROUP_UNAVAILABLE')
    expect((error as Error).message).toMatch(/cpu/)
    expect((error as Error).message).toMatch(/unenforceable: 'warn'/)
    const cg = open(f, { cpu: 1, memory: 64 * MiB }, { unenforceable: 'warn' })
    expect(cg?.enforced).toEqual({ memory: true, pids: false, cpu: false })
    expect(cg?.warnings.join('\n')).toMatch(/without the cpu cap/)
    await cg?.close()
  })

  it('doctor, on a tree without the cpu controller: writable, no cpu cap, and the fix', () => {
    const f = fake({ controllers: ['memory', 'pids'] })
    const s = describeCgroupSupportWith(
      { rootless: false, root: f.root },
      { io: f, mountinfo: NOT_MOUNTED, selfCgroup: '0::/\n' },
    )
    expect(s).toMatchObject({ layout: 'v2', writable: true, canEnforce: { memory: true, pids: true, cpu: false } })
    expect(s.fix).toBeDefined()
  })
})
