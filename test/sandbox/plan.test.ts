// The mount plan, decided on the host, for hosts we cannot be on: a Docker
// container (bind-mounted files), a rootless run with submounts below a
// top-level directory, a project under /tmp, paths that need escaping.
import { describe, expect, it } from 'vitest'
import { buildPlan, type HostView } from '../../dist/host/plan.js'

const dirent = (name: string, kind: 'dir' | 'link' | 'file') => ({
  name,
  isDirectory: () => kind === 'dir',
  isSymbolicLink: () => kind === 'link',
  isFile: () => kind === 'file',
})
const dirStat = { isDirectory: () => true, isFile: () => false, size: 0 }
const fileStat = (size: number) => ({ isDirectory: () => false, isFile: () => true, size })

const MOUNTINFO = [
  '21 1 0:20 / / rw - ext4 /dev/vda rw',
  '22 21 0:21 / /proc rw - proc proc rw',
  '23 21 0:22 / /sys rw - sysfs sysfs rw',
  '24 21 0:5 / /dev rw - devtmpfs udev rw',
  '25 21 0:30 / /tmp rw - tmpfs tmpfs rw',
  '26 21 0:31 / /var/lib/docker rw - ext4 /dev/vdb rw',
  '27 21 0:32 /hosts /etc/hosts rw - ext4 /dev/vdc rw',
  '28 21 0:33 / /run rw - tmpfs tmpfs rw',
  '29 28 0:34 / /run/user/1000 rw - tmpfs tmpfs rw',
  '30 21 0:35 / /mnt/with\\040space rw - ext4 /dev/vdd rw',
  '31 21 0:36 / /run/netns/x rw - nsfs nsfs rw',
].join('\n')

const host: HostView = {
  mountinfo: () => MOUNTINFO,
  stat: (p) => (p === '/etc/hosts' ? fileStat(200) : p === '/etc/big' ? fileStat(10 << 20) : dirStat),
  readdir: (p) =>
    p === '/'
      ? [
          dirent('usr', 'dir'),
          dirent('bin', 'link'),
          dirent('var', 'dir'),
          dirent('etc', 'dir'),
          dirent('tmp', 'dir'),
          dirent('proc', 'dir'),
          dirent('run', 'dir'),
        ]
      : p === '/var'
        ? [dirent('lib', 'dir'), dirent('log', 'dir')]
        : p === '/var/lib'
          ? [dirent('docker', 'dir'), dirent('apt', 'dir')]
          : [],
  readlink: () => 'usr/bin',
  readText: () => '127.0.0.1 localhost\n',
}

const ops = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => l.split('\t'))
const base = {
  hostname: 'h',
  network: 'loopback' as const,
  writable: [],
  keep: [],
  cwd: '/srv',
  tmpfsBytes: 1 << 30,
  cgroupfs: 'host' as const,
  lockdown: null,
}

describe('buildPlan', () => {
  it('as root: one overlay of /, one per data submount, bind-mounted files copied, pseudo filesystems skipped', () => {
    const p = buildPlan({ ...base, strategy: 'root' }, host)
    const o = ops(p.text)
    const overlays = o.filter((f) => f[0] === 'O').map((f) => f[4])
    expect(overlays).toEqual(['/', '/run', '/mnt/with space', '/var/lib/docker', '/run/user/1000'])
    expect(o).toContainEqual(['F', '/etc/hosts', '/tmp/root/etc/hosts'])
    expect(p.created).toEqual(['/etc/hosts', '/etc/resolv.conf']) // copied, then ours bound over them
    expect(p.text).not.toContain('netns')
    expect(o.at(-1)).toEqual(['P', '/tmp/root', '/srv'])
    expect(o).toContainEqual(['U'])
    expect(o).toContainEqual(['H', 'h'])
  })

  it('rootless: a skeleton root, overlays per directory, and directories holding submounts laid out down to them', () => {
    const o = ops(buildPlan({ ...base, strategy: 'rootless' }, host).text)
    const overlays = o.filter((f) => f[0] === 'O').map((f) => [f[4], f[5]])
    // /var holds /var/lib/docker: /var and /var/lib become skeletons, their other
    // children overlays. /etc holds the /etc/hosts mount: it is laid out entry by
    // entry too (the fake /etc has no other entries).
    expect(overlays).toEqual([
      ['/usr', '1'],
      ['/var/lib/apt', '1'],
      ['/var/log', '1'],
      ['/run', '1'],
      ['/mnt/with space', '1'],
      ['/var/lib/docker', '1'],
      ['/run/user/1000', '1'],
    ])
    expect(o).toContainEqual(['D', '/tmp/root/etc', '755'])
    expect(o).toContainEqual(['F', '/etc/hosts', '/tmp/root/etc/hosts'])
    expect(o).toContainEqual(['L', 'usr/bin', '/tmp/root/bin'])
    // /proc's knobs are made read-only as real root only; not rootless (the kernel checks them against the host's root)
    expect(o.some((f) => f[0] === 'M' && f[2]?.endsWith('/proc/sys'))).toBe(false)
    const root = ops(buildPlan({ ...base, strategy: 'root' }, host).text)
    expect(root).toContainEqual(['M', '/tmp/root/proc/sys', '/tmp/root/proc/sys', '-', String(0x1000), '-'])
    expect(root[root.findIndex((f) => f[0] === 'M' && f[2] === '/tmp/root/proc/sys') + 1]).toEqual([
      'R',
      '/tmp/root/proc/sys',
    ])
  })

  it('carries a working directory under /tmp copy-on-write, and binds writable paths last', () => {
    const o = ops(
      buildPlan(
        { ...base, strategy: 'root', cwd: '/tmp/proj', writable: ['/tmp/proj/__snapshots__', '/srv/cache'] },
        host,
      ).text,
    )
    const keep = o.find((f) => f[0] === 'O' && f[4] === '/tmp/proj')
    expect(keep?.[1]).toBe('@tmp/proj')
    const binds = o.filter((f) => f[0] === 'B' && f[3] === String(0x1000 | 0x4000)).map((f) => f[1])
    expect(binds).toEqual(['/sys/fs/cgroup', '@tmp/proj/__snapshots__', '/srv/cache'])
    const iBind = o.findIndex((f) => f[1] === '/srv/cache')
    const iTmp = o.findIndex((f) => f[0] === 'M' && f[1] === '/tmp/tmp' && f[2] === '/tmp/root/tmp')
    expect(iBind).toBeGreaterThan(iTmp)
  })

  it('escapes tabs and newlines in paths', () => {
    const p = buildPlan({ ...base, strategy: 'root', hostname: 'h', cwd: '/srv/a\tb' }, host)
    expect(p.text).toContain('P\t/tmp/root\t/srv/a\\tb')
  })

  it("network 'host' binds the host's /sys and does not bring lo up", () => {
    const o = ops(buildPlan({ ...base, strategy: 'root', network: 'host' }, host).text)
    const i = o.findIndex((f) => f[0] === 'B' && f[1] === '/sys')
    expect(o[i]).toEqual(['B', '/sys', '/tmp/root/sys', String(0x1000 | 0x4000)])
    expect(o[i + 1]).toEqual(['R', '/tmp/root/sys']) // read-only, cgroupfs included
    expect(o).not.toContainEqual(['U'])
  })

  it('binds the Node binary read-only over its overlay view, after the overlays; not one under /tmp or a writable path', () => {
    const withNode: HostView = { ...host, stat: (p) => (p.endsWith('/bin/node') ? fileStat(100 << 20) : host.stat(p)) }
    for (const strategy of ['root', 'rootless'] as const) {
      const o = ops(
        buildPlan(
          {
            ...base,
            strategy,
            writable: ['/srv/tools'],
            binaries: ['/opt/node/bin/node', '/tmp/n/bin/node', '/srv/tools/bin/node'],
          },
          withNode,
        ).text,
      )
      const bound = o.filter((f) => f[0] === 'B' && f[1]?.endsWith('/bin/node')).map((f) => f[1])
      expect(bound).toEqual(['/opt/node/bin/node'])
      const iBind = o.findIndex((f) => f[0] === 'B' && f[1] === '/opt/node/bin/node')
      // the mount point made only where missing (the launcher's 'T' leaves an existing file alone: no copy-up)
      expect(o[iBind - 1]).toEqual(['T', '/tmp/root/opt/node/bin/node'])
      expect(o[iBind + 1]).toEqual(['R', '/tmp/root/opt/node/bin/node'])
      expect(iBind).toBeGreaterThan(o.findLastIndex((f) => f[0] === 'O'))
    }
    // One under /tmp where a kept path brings it into the fresh /tmp (a checkout there): bound from the host's /tmp.
    const kept = ops(
      buildPlan({ ...base, strategy: 'root', keep: ['/tmp/n'], binaries: ['/tmp/n/bin/node'] }, withNode).text,
    )
    expect(kept).toContainEqual(['B', '@tmp/n/bin/node', '/tmp/root/tmp/n/bin/node', String(0x1000)])
    expect(kept.findIndex((f) => f[1] === '@tmp/n/bin/node')).toBeGreaterThan(
      kept.findIndex((f) => f[0] === 'O' && f[4] === '/tmp/n'),
    )
  })

  it('rootless, inside another sandbox (its Node binary is a bind there): laid out, bound once, never copied', () => {
    const nested: HostView = {
      mountinfo: () => `${MOUNTINFO}\n40 21 0:20 /opt/node/bin/node /opt/node/bin/node ro - ext4 /dev/vda rw`,
      stat: (p) => (p === '/opt/node/bin/node' ? fileStat(100 << 20) : host.stat(p)),
      readdir: (p) =>
        p === '/'
          ? [dirent('opt', 'dir'), dirent('etc', 'dir')]
          : p === '/opt'
            ? [dirent('node', 'dir')]
            : p === '/opt/node'
              ? [dirent('bin', 'dir'), dirent('lib', 'dir')]
              : p === '/opt/node/bin'
                ? [dirent('node', 'file'), dirent('npm', 'link')]
                : p === '/etc'
                  ? [dirent('hosts', 'file')]
                  : [],
      readlink: () => '../lib/npm-cli.js',
      readText: () => '',
    }
    const o = ops(buildPlan({ ...base, strategy: 'rootless', binaries: ['/opt/node/bin/node'] }, nested).text)
    const node = o.filter((f) => f.slice(1).some((x) => x.endsWith('/opt/node/bin/node')))
    expect(node).toEqual([
      ['T', '/tmp/root/opt/node/bin/node'],
      ['B', '/opt/node/bin/node', '/tmp/root/opt/node/bin/node', String(0x1000)],
      ['R', '/tmp/root/opt/node/bin/node'],
    ])
    // A file that is a submount (Docker's /etc/hosts) is copied once, not once per pass.
    expect(o.filter((f) => f[0] === 'F' && f[1] === '/etc/hosts')).toHaveLength(1)
  })

  it('binds node_modules read-only after the overlays and kept paths, before the writable paths in them', () => {
    const o = ops(
      buildPlan(
        {
          ...base,
          strategy: 'root',
          cwd: '/tmp/proj',
          writable: ['/srv/app/node_modules/.vite', '/srv/cache'],
          readOnly: [
            '/tmp/proj/node_modules',
            '/tmp/other/node_modules',
            '/srv/app/node_modules',
            '/srv/cache/node_modules',
          ],
        },
        host,
      ).text,
    )
    const ro = o.filter((f) => f[0] === 'B' && f[3] === String(0x1000 | 0x4000) && f[1]?.endsWith('node_modules'))
    // under /tmp only when a kept path brought it in; none inside a writable path
    expect(ro.map((f) => f[1])).toEqual(['@tmp/proj/node_modules', '/srv/app/node_modules'])
    for (const f of ro) expect(o[o.indexOf(f) + 1]).toEqual(['R', f[2]])
    const at = (pred: (f: string[]) => boolean) => o.findIndex(pred)
    const iRo = at((f) => f[1] === '/srv/app/node_modules')
    expect(iRo).toBeGreaterThan(at((f) => f[0] === 'O' && f[4] === '/tmp/proj'))
    expect(iRo).toBeLessThan(at((f) => f[1] === '/srv/app/node_modules/.vite'))
    // A Node binary inside a read-only tree comes with it: not bound a second time.
    const withNode: HostView = { ...host, stat: (p) => (p.endsWith('/bin/node') ? fileStat(100 << 20) : host.stat(p)) }
    const n = ops(
      buildPlan(
        {
          ...base,
          strategy: 'root',
          readOnly: ['/srv/app/node_modules'],
          binaries: ['/srv/app/node_modules/node/bin/node', '/usr/bin/node'],
        },
        withNode,
      ).text,
    )
    expect(n.filter((f) => f[0] === 'B' && f[1]?.endsWith('/bin/node')).map((f) => f[1])).toEqual(['/usr/bin/node'])
  })
})
