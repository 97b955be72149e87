import { mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { detectCgroupLayout } from '../../src/cgroup/index.ts'
import { readCgroupMounts, sandboxBase } from '../../src/cgroup/layout.ts'

/** statfs(2) f_type of cgroup2 and of a cgroup v1 hierarchy. */
const CGROUP2_MAGIC = 0x63677270
const CGROUP_MAGIC = 0x27e0eb

const V1 = `22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw
31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
`
const HYBRID = `${V1}41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`
const V2 = `22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
const DOCKER_V2 = `700 690 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup ro
`
const NONE = `22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw
`

describe('detectCgroupLayout', () => {
  it('says what statfs says of the real tree (hybrid on this host, v2 in the VM)', () => {
    const type = (p: string) => {
      try {
        return statfsSync(p).type
      } catch {
        return 0
      }
    }
    const m = readCgroupMounts()
    if (type('/sys/fs/cgroup') === CGROUP2_MAGIC) {
      expect(m.layout).toBe('v2')
      expect(m.unified).toBe('/sys/fs/cgroup')
      expect(m.v1.size).toBe(0)
      return
    }
    const dirs = readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d))
    const v1 = dirs.filter((d) => type(d) === CGROUP_MAGIC)
    const unified = dirs.find((d) => type(d) === CGROUP2_MAGIC)
    expect(m.layout).toBe(v1.length === 0 ? 'none' : unified ? 'hybrid' : 'v1')
    expect(m.unified).toBe(unified)
    const memory = v1.find((d) => basename(d).split(',').includes('memory'))
    expect(m.v1.get('memory')).toBe(memory)
  })

  it('reads v1, hybrid, v2 and none from mountinfo texts', () => {
    expect(detectCgroupLayout(undefined, V1)).toBe('v1')
    expect(detectCgroupLayout(undefined, HYBRID)).toBe('hybrid')
    expect(detectCgroupLayout(undefined, V2)).toBe('v2')
    expect(detectCgroupLayout(undefined, NONE)).toBe('none')
  })

  it('maps co-mounted v1 controllers to one hierarchy and ignores named ones', () => {
    const m = readCgroupMounts('/sys/fs/cgroup', V1)
    expect(m.v1.get('cpu')).toBe('/sys/fs/cgroup/cpu,cpuacct')
    expect(m.v1.get('cpuacct')).toBe('/sys/fs/cgroup/cpu,cpuacct')
    expect([...m.v1.keys()]).not.toContain('name=systemd')
  })

  it('notices a read-only cgroup2 (Docker without privileges)', () => {
    const m = readCgroupMounts('/sys/fs/cgroup', DOCKER_V2)
    expect(m.layout).toBe('v2')
    expect(m.readOnly).toBe(true)
  })

  describe('a root that is not in mountinfo: probed from its files', () => {
    let dir = ''
    afterEach(() => rmSync(dir, { recursive: true, force: true }))
    const fake = (files: string[]) => {
      dir = mkdtempSync(join(tmpdir(), 'layout-'))
      for (const f of files) {
        mkdirSync(join(dir, f, '..'), { recursive: true })
        writeFileSync(join(dir, f), '')
      }
      return dir
    }
    it('v2', () => expect(detectCgroupLayout(fake(['cgroup.controllers']), NONE)).toBe('v2'))
    it('v1', () => expect(detectCgroupLayout(fake(['memory/cgroup.procs', 'pids/cgroup.procs']), NONE)).toBe('v1'))
    it('hybrid', () =>
      expect(detectCgroupLayout(fake(['memory/cgroup.procs', 'unified/cgroup.controllers']), NONE)).toBe('hybrid'))
    it('none', () => expect(detectCgroupLayout(fake(['README']), NONE)).toBe('none'))
    it('missing', () => expect(detectCgroupLayout('/nonexistent/cgroup', NONE)).toBe('none'))
  })
})

describe('sandboxBase: where a runner puts its sandboxes', () => {
  const self = [
    '12:pids:/ns-isolated/77-4026531836-0-ab12-outer',
    '4:memory:/user.slice',
    '3:cpu,cpuacct:/',
    '0::/ns-isolated/77-4026531836-0-ab12-outer',
  ].join('\n')
  it('at the mount root, for a runner outside any sandbox', () => {
    expect(sandboxBase('/sys/fs/cgroup/memory', 'memory', self)).toBe('/sys/fs/cgroup/memory')
    expect(sandboxBase('/sys/fs/cgroup/cpu,cpuacct', 'cpuacct', self)).toBe('/sys/fs/cgroup/cpu,cpuacct')
    expect(sandboxBase('/sys/fs/cgroup/memory', 'memory', '')).toBe('/sys/fs/cgroup/memory')
  })
  it('under its own cgroup, for a runner inside a sandbox (v1 and the unified hierarchy)', () => {
    expect(sandboxBase('/sys/fs/cgroup/pids', 'pids', self)).toBe(
      '/sys/fs/cgroup/pids/ns-isolated/77-4026531836-0-ab12-outer',
    )
    expect(sandboxBase('/sys/fs/cgroup/unified', '', self)).toBe(
      '/sys/fs/cgroup/unified/ns-isolated/77-4026531836-0-ab12-outer',
    )
  })
})
