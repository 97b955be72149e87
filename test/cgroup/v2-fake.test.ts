/**
 * The cgroup v2 logic, against a fake cgroupfs (this host is hybrid: pure v2
 * cannot be exercised for real here). See fake-cgroupfs.ts for what it mimics.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { removeEmptyParents } from '../../src/cgroup/driver.ts'
import { readCgroupMounts } from '../../src/cgroup/layout.ts'
import { openSandboxCgroupWith } from '../../src/cgroup/open.ts'
import { describeCgroupSupportWith } from '../../src/cgroup/support.ts'
import { pidNamespaceId, sweepStaleCgroups } from '../../src/cgroup/sweep.ts'
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
    { rootless: f.uid !== 0, unenforceable: extra.unenforceable ?? 'error', root: f.root },
    { io: f, mountinfo: NOT_MOUNTED, selfCgroup: extra.selfCgroup ?? '0::/\n' },
  )
}
const text = (p: string) => readFileSync(p, 'utf8').trim()
const procs = (p: string) => text(p).split('\n').filter(Boolean).map(Number)

describe('cgroup v2 (fake cgroupfs)', () => {
  it('detects v2', () => {
    const f = fake()
    expect(readCgroupMounts(f.root, NOT_MOUNTED, f).layout).toBe('v2')
  })

  it('moves the runner into a leaf before enabling controllers, then writes the caps', async () => {
    const f = fake()
    const cg = open(f, { memory: 256 * MiB, pids: 100, cpu: 1.5 })
    if (!cg) throw new Error('no cgroup')
    expect(cg.layout).toBe('v2')
    expect(cg.enforced).toEqual({ memory: true, pids: true, cpu: true })
    expect(cg.warnings).toEqual([])

    // No internal processes: our cgroup is empty, the runner (and the other
    // process of the namespace root) sit in the leaf.
    expect(procs(f.at('cgroup.procs'))).toEqual([])
    expect(procs(f.at('ns-isolated-runner', 'cgroup.procs'))).toEqual([process.pid, 1])
    const moved = f.log.findIndex(
      (e) => e.path === f.at('ns-isolated-runner', 'cgroup.procs') && e.data === String(process.pid),
    )
    const enabled = f.log.findIndex((e) => e.path === f.at('cgroup.subtree_control'))
    expect(moved).toBeGreaterThanOrEqual(0)
    expect(moved).toBeLessThan(enabled)
    expect(text(f.at('cgroup.subtree_control')).split(' ').sort()).toEqual(['cpu', 'memory', 'pids'])
    expect(text(f.at('ns-isolated', 'cgroup.subtree_control')).split(' ').sort()).toEqual(['cpu', 'memory', 'pids'])

    const dir = cg.procsFiles[0]?.replace(/\/cgroup\.procs$/, '') as string
    expect(cg.procsFiles).toHaveLength(1)
    expect(dir.startsWith(f.at('ns-isolated', `${process.pid}-`))).toBe(true)
    expect(text(`${dir}/memory.max`)).toBe(String(256 * MiB))
    expect(text(`${dir}/memory.swap.max`)).toBe('0')
    expect(text(`${dir}/pids.max`)).toBe('100')
    expect(text(`${dir}/cpu.max`)).toBe('150000 100000')
    await cg.close()
    expect(existsSync(dir)).toBe(false)
  })

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

  it('parses figures from cpu.stat, memory.peak, pids.peak and memory.events', async () => {
    const f = fake()
    const cg = open(f, {})
    if (!cg) throw new Error('no cgroup')
    const dir = (cg.procsFiles[0] as string).replace(/\/cgroup\.procs$/, '')
    const put = (file: string, data: string) => f.write(`${dir}/${file}`, data)
    put('cpu.stat', 'usage_usec 1500000\nuser_usec 1200000\nsystem_usec 300000\nnr_periods 0\n')
    put('memory.peak', '209715200\n')
    put('pids.peak', '42\n')
    put('memory.events', 'low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n')
    expect(cg.read()).toEqual({
      cpuUserMs: 1200,
      cpuSystemMs: 300,
      memoryPeakBytes: 200 * MiB,
      memoryPeakIncludesCache: true,
      pidsPeak: 42,
      oomKills: 2,
      source: 'cgroup',
    })
    // Figures survive to close (read after the kill, before rmdir).
    expect((await cg.close()).oomKills).toBe(2)
  })

  it('killAll writes cgroup.kill', async () => {
    const f = fake()
    const cg = open(f, { pids: 10 })
    if (!cg) throw new Error('no cgroup')
    f.write(cg.procsFiles[0] as string, '1') // something inside (the fake never signals)
    await cg.killAll()
    const kill = f.log.find((e) => e.path.endsWith('/cgroup.kill'))
    expect(kill?.data).toBe('1')
    expect(text(cg.procsFiles[0] as string)).toBe('')
    await cg.close()
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
    const freezes = f.log.filter((e) => e.path.endsWith('/cgroup.freeze')).map((e) => e.data)
    expect(freezes).toEqual(['1', '0'])
    await cg.close()
  })

  it('as root in a cgroup shared with processes not ours, leaves them alone and uses the root', {
    tags: ['root'],
  }, async () => {
    const f = fake({ namespaceRoot: false, rootProcs: [1] })
    f.write(f.at('cgroup.subtree_control'), '+memory +pids +cpu') // systemd does this at boot
    f.makeCgroup(f.at('user.slice'), [4242, process.pid])
    const cg = open(f, { memory: 64 * MiB }, { selfCgroup: '0::/user.slice\n' })
    expect(cg?.enforced.memory).toBe(true)
    expect(procs(f.at('user.slice', 'cgroup.procs'))).toEqual([4242, process.pid])
    expect(cg?.procsFiles[0]?.startsWith(f.at('ns-isolated'))).toBe(true)
    await cg?.close()
  })

  it('a nested runner (root, inside a sandbox cgroup) moves the sandbox into a leaf and nests under it', async () => {
    const f = fake({ namespaceRoot: false, rootProcs: [1] })
    f.write(f.at('cgroup.subtree_control'), '+memory +pids +cpu')
    f.makeCgroup(f.at('ns-isolated'), [])
    f.write(f.at('ns-isolated', 'cgroup.subtree_control'), '+memory +pids +cpu')
    const outer = f.at('ns-isolated', '77-4026531836-0-ab12-outer')
    f.makeCgroup(outer, [4242, process.pid]) // the outer sandbox's PID 1, and us
    const cg = open(f, { memory: 64 * MiB }, { selfCgroup: '0::/ns-isolated/77-4026531836-0-ab12-outer\n' })
    expect(cg?.enforced.memory).toBe(true)
    expect(cg?.procsFiles[0]?.startsWith(join(outer, 'ns-isolated', ''))).toBe(true)
    expect(procs(join(outer, 'ns-isolated-runner', 'cgroup.procs')).sort()).toEqual([4242, process.pid].sort())
    await cg?.close()
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

  it('reports support for doctor', () => {
    const f = fake({ controllers: ['memory', 'pids'] })
    const s = describeCgroupSupportWith(
      { rootless: false, root: f.root },
      { io: f, mountinfo: NOT_MOUNTED, selfCgroup: '0::/\n' },
    )
    expect(s).toMatchObject({ layout: 'v2', writable: true, canEnforce: { memory: true, pids: true, cpu: false } })
    expect(s.fix).toBeDefined()
  })

  it('sweeps the sandboxes of a dead runner', () => {
    const f = fake()
    const dead = f.at('ns-isolated', `4194399-${pidNamespaceId()}-0-abcd`)
    f.mkdir(f.at('ns-isolated'))
    f.mkdir(dead)
    f.write(`${dead}/cgroup.procs`, '777')
    expect(sweepStaleCgroups(f.root, f, NOT_MOUNTED)).toBe(1)
    expect(existsSync(dead)).toBe(false)
    expect(f.log.some((e) => e.path === `${dead}/cgroup.kill`)).toBe(true)
  })

  it('the last runner out removes the empty shared parent; one still in use stays', async () => {
    const f = fake()
    const a = open(f, { pids: 10 })
    const b = open(f, { pids: 10 })
    await a?.close()
    expect(removeEmptyParents(f)).toBe(0) // b is still there: EBUSY
    expect(existsSync(f.at('ns-isolated'))).toBe(true)
    await b?.close()
    expect(removeEmptyParents(f)).toBe(1)
    expect(existsSync(f.at('ns-isolated'))).toBe(false)
  })

  it("leaves another PID namespace's sandboxes alone (their runner's pid means nothing here)", () => {
    const f = fake()
    const foreign = f.at('ns-isolated', '4194399-1-0-abcd') // no PID namespace has inode 1
    f.mkdir(f.at('ns-isolated'))
    f.mkdir(foreign)
    f.write(`${foreign}/cgroup.procs`, '777')
    expect(sweepStaleCgroups(f.root, f, NOT_MOUNTED)).toBe(0)
    expect(existsSync(foreign)).toBe(true)
    expect(f.log.some((e) => e.path === `${foreign}/cgroup.kill`)).toBe(false)
  })
})
