// Options are validated in one place, with messages that name the fix.
import { describe, expect, it } from 'vitest'
import { resolveOptions } from '../../dist/index.js'

describe('resolveOptions', () => {
  it('fills defaults', () => {
    const o = resolveOptions({})
    expect(o).toMatchObject({
      network: 'loopback',
      mode: 'auto',
      writable: [],
      unenforceable: 'error',
      cwd: process.cwd(),
      nodeModules: 'read-only',
      tmpfsSize: undefined,
      user: 'self',
      capabilities: [],
      privileged: false,
    })
    expect(o.hostname).toMatch(/^ns-isolated-[0-9a-f]{6}$/)
    expect(resolveOptions({}).hostname).not.toBe(o.hostname)
  })

  it.each([
    [{ network: 'bridge' }, /`network` must be one of 'loopback', 'none', 'host'; got 'bridge'/],
    [{ mode: 'sudo' }, /`mode` must be one of 'auto', 'root', 'rootless'/],
    [{ hostname: 'bad host!' }, /`hostname` must be a valid hostname/],
    [{ hostname: 'a'.repeat(65) }, /`hostname` must be a valid hostname/],
    [{ writable: '/tmp' }, /`writable` must be an array of paths; got '\/tmp'/],
    [{ writable: [''] }, /`writable\[0\]` must be a non-empty path/],
    [{ writable: ['/'] }, /cannot contain '\/'/],
    [{ memory: 'lots' }, /`memory` must be a positive byte count or a size like '512M'/],
    [{ memory: -1 }, /`memory` must be a positive byte count/],
    [{ pids: 1.5 }, /`pids` must be a positive whole number; got 1.5/],
    [{ pids: '64' }, /`pids` must be a positive whole number; got '64'/],
    [{ cpu: 0 }, /`cpu` must be a number of cores of at least 0.01/],
    [{ timeout: -5 }, /`timeout` must be a positive number of milliseconds/],
    [{ unenforceable: 'ignore' }, /`unenforceable` must be one of 'error', 'warn'/],
    [{ nodeModules: 'writable' }, /`nodeModules` must be one of 'read-only', 'overlay'; got 'writable'/],
    [{ memroy: '1G' }, /unknown option `memroy`. Known options: .*memory/],
    [{ tmpfsSize: '1 bucket' }, /`tmpfsSize` must be a positive byte count/],
    [{ user: 'admin' }, /`user` must be one of 'self', 'root'/],
    [{ capabilities: 'NET_ADMIN' }, /`capabilities` must be an array of capability names/],
    [{ capabilities: ['CAP_BOGUS'] }, /`capabilities\[0\]` must be a Linux capability name/],
    [{ privileged: 'yes' }, /`privileged` must be true or false/],
  ])('rejects %o', (input, message) => {
    expect(() => resolveOptions(input as never)).toThrow(TypeError)
    expect(() => resolveOptions(input as never)).toThrow(message)
  })

  it('parses sizes and resolves paths', () => {
    expect(resolveOptions({ memory: '512M' }).memory).toBe(512 * 2 ** 20)
    expect(resolveOptions({ memory: '1.5g' }).memory).toBe(1.5 * 2 ** 30)
    expect(resolveOptions({ memory: '100KiB' }).memory).toBe(100 * 1024)
    expect(resolveOptions({ memory: 4096 }).memory).toBe(4096)
    expect(resolveOptions({ cwd: '/srv/app', writable: ['snap', '/abs', 'snap'] }).writable).toEqual([
      '/srv/app/snap',
      '/abs',
    ])
  })

  it.each([['/proc'], ['/proc/1/root'], ['/sys'], ['/sys/fs/cgroup'], ['/dev'], ['/dev/shm'], ['/dev/../proc']])(
    'refuses the kernel’s own filesystems in writable (%s), with a code naming the fix',
    (path) => {
      let error: (TypeError & { code?: string }) | undefined
      try {
        resolveOptions({ writable: ['/srv/ok', path] })
      } catch (e) {
        error = e as TypeError & { code?: string }
      }
      expect(error).toBeInstanceOf(TypeError)
      expect(error?.code).toBe('ENS_WRITABLE_KERNEL_FS')
      expect(error?.message).toMatch(/is the kernel's own filesystem.*has a \/(proc|sys|dev) of its own/)
    },
  )

  it('takes capability names with or without CAP_, in any case', () => {
    expect(resolveOptions({ capabilities: ['net_admin', 'CAP_SYS_PTRACE', 'NET_ADMIN'] }).capabilities).toEqual([
      'NET_ADMIN',
      'SYS_PTRACE',
    ])
  })

  it('lets a front door add keys of its own', () => {
    expect(() => resolveOptions({ leaks: 'fail' } as never, ['leaks'])).not.toThrow()
  })
})
