// What the seccomp filter and the dropped capabilities refuse, probed from
// inside a real sandbox as root (a C probe: each call's errno). Also run in
// the v2 VM (test/v2/vitest.config.ts), whose kernel takes the i386 entry
// point from a 64-bit process, which this machine's hypervisor refuses.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isRoot, tempDir } from '../helpers.ts'

const dir = tempDir('nsiso-sys-')
const probe = join(dir.path, 'probe')
beforeAll(() => {
  const cc = spawnSync('cc', ['-O1', '-o', probe, join(import.meta.dirname, 'fixtures/syscall-probe.c')], {
    encoding: 'utf8',
  })
  expect(cc.status, cc.stderr).toBe(0)
})
afterAll(() => dir.cleanup())

async function inside(script: string, options: Record<string, unknown> = {}) {
  const out: string[] = []
  const s = (await import('../../dist/index.js')).spawnSandbox('/bin/sh', ['-c', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
    cwd: dir.path,
    env: { ...process.env, PROBE: probe },
    ...options,
  })
  s.child.stdout?.on('data', (d) => out.push(String(d)))
  await s.result
  return Object.fromEntries(
    out
      .join('')
      .trim()
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )
}

const project = dir.path

describe.runIf(isRoot)('system calls (root)', () => {
  it('refuses keyrings, open_by_handle_at, device nodes and the 32-bit entry points; answers clone3 callers with ENOSYS', async () => {
    writeFileSync(join(project, 'witness'), 'host\n')
    const v = await inside(
      [
        'echo add_key=$($PROBE add_key)',
        `echo handle=$($PROBE open_by_handle_at ${join(project, 'witness')})`,
        // where the host's filesystem gives no handles (9p in the VM), a tmpfs file does
        'echo x > /dev/shm/witness; echo tmpfs_handle=$($PROBE open_by_handle_at /dev/shm/witness)',
        'echo mknod=$($PROBE mknod /tmp/null-again)',
        'echo i386_add_key=$($PROBE i386-add_key)',
        'echo i386_mount=$($PROBE i386-mount)',
        'echo x32=$($PROBE x32-getpid)',
        `echo dev_nodev=$(awk '$5 == "/dev" {print $6}' /proc/self/mountinfo | grep -c nodev)`,
      ].join('; '),
      { writable: [project] },
    )
    expect(v.add_key).toBe('EPERM')
    // the "Shocker" way past a bind: CAP_DAC_READ_SEARCH gone, the call refused
    if (v.handle === 'name_to_handle_at:EOPNOTSUPP') expect(v.tmpfs_handle).toBe('EPERM')
    else expect(v.handle).toBe('EPERM')
    expect(v.mknod).toBe('EPERM') // no CAP_MKNOD
    // Some kernels (this machine's hypervisor) fault on int 0x80 from a 64-bit process: nothing to probe
    // there. Where the host takes it (the v2 VM), the filter must refuse both calls.
    const int80 = spawnSync(probe, ['i386-add_key'], { encoding: 'utf8' }).stdout.trim() !== 'no-int80'
    for (const k of ['i386_add_key', 'i386_mount'] as const) expect(v[k]).toBe(int80 ? 'EPERM' : 'no-int80')
    expect(v.x32).toBe('ENOSYS')
    expect(v.dev_nodev).toBe('1')
  })
})
