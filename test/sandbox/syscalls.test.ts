// What the seccomp filter and the dropped capabilities refuse, probed from
// inside a real sandbox as root (a C probe: each call's errno). Also run in
// the v2 VM (test/v2/vitest.config.ts), whose kernel takes the i386 entry
// point from a 64-bit process, which this machine's hypervisor refuses.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { probeDir, shellInside } from './probes.ts'

const dir = probeDir('nsiso-sys-')
const probe = dir.probe
const project = dir.path
const inside = async (script: string, options: Record<string, unknown> = {}) =>
  (await shellInside(script, { cwd: dir.path, env: { ...process.env, PROBE: probe }, ...options })).v

describe('system calls (root)', { tags: ['root'] }, () => {
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
