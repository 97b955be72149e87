/**
 * A fake cgroup2 filesystem in a temp directory, for what a real kernel
 * cannot show cheaply (v2-fake.test.ts; the real v2 paths are proven in a
 * VM, test/v2). It behaves like the kernel where our logic depends on it:
 * mkdir populates the interface files of the controllers the parent
 * enables; writing a pid to cgroup.procs moves it; subtree_control refuses
 * (EBUSY) on a cgroup with processes (its root is a cgroup-namespace root,
 * under the rule too), and cgroup.procs refuses on one that enables
 * controllers for children; cgroup.kill empties a subtree; files that do
 * not exist cannot be written. Every write is logged, so tests can count them.
 */
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import type { CgroupIo } from '../../src/cgroup/io.ts'

export interface FakeOptions {
  /** Controllers the root offers. Default memory, pids, cpu. */
  controllers?: string[]
  /** Pids in the root's cgroup.procs. Default [1]. */
  rootProcs?: number[]
  /** cgroup.kill exists (5.14+). Default true. */
  kill?: boolean
  /** memory.swap.max exists. Default true. */
  swap?: boolean
}

function errno(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code, path })
}

export class FakeCgroupfs implements CgroupIo {
  readonly root: string
  readonly pid: number
  readonly uid: number
  readonly log: { op: 'write' | 'mkdir' | 'rmdir'; path: string; data?: string }[] = []
  private readonly options: FakeOptions

  constructor(options: FakeOptions = {}, root = mkdtempSync(join(tmpdir(), 'fake-cgroupfs-'))) {
    this.options = options
    this.root = root
    this.pid = process.pid
    this.uid = process.geteuid?.() ?? 0
    chmodSync(root, 0o755)
    const f = (name: string, text: string) => writeFileSync(join(root, name), text)
    f('cgroup.controllers', `${(options.controllers ?? ['cpu', 'memory', 'pids']).join(' ')}\n`)
    f('cgroup.subtree_control', '')
    f('cgroup.procs', (options.rootProcs ?? [1]).map((p) => `${p}\n`).join(''))
    f('cpu.stat', 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n')
    f('cgroup.type', 'domain\n') // a cgroup-namespace root: subject to the no-internal-processes rule
  }

  /** A path below the root given relative to it. */
  at(...parts: string[]): string {
    return join(this.root, ...parts)
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true })
  }

  private populate(path: string): void {
    mkdirSync(path)
    const enabled = this.tokens(join(dirname(path), 'cgroup.subtree_control'))
    const f = (name: string, text: string) => writeFileSync(join(path, name), text)
    f('cgroup.controllers', `${[...enabled].join(' ')}\n`)
    f('cgroup.subtree_control', '')
    f('cgroup.procs', '')
    f('cgroup.type', 'domain\n')
    f('cgroup.freeze', '0\n')
    if (this.options.kill !== false) f('cgroup.kill', '')
    f('cpu.stat', 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n')
    if (enabled.has('memory')) {
      f('memory.max', 'max\n')
      f('memory.peak', '0\n')
      f('memory.current', '0\n')
      f('memory.events', 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n')
      if (this.options.swap !== false) f('memory.swap.max', 'max\n')
    }
    if (enabled.has('pids')) {
      f('pids.max', 'max\n')
      f('pids.peak', '0\n')
    }
    if (enabled.has('cpu')) f('cpu.max', 'max 100000\n')
  }

  private tokens(path: string): Set<string> {
    try {
      return new Set(readFileSync(path, 'utf8').split(/\s+/).filter(Boolean))
    } catch {
      return new Set()
    }
  }

  private readonly mortal = new Set<number>()

  /** Marks a real process: it leaves every cgroup.procs once it is dead (as the kernel does). */
  track(pid: number): void {
    this.mortal.add(pid)
  }

  private alive(pid: number): boolean {
    if (!this.mortal.has(pid)) return true
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
    } catch {
      return false
    }
  }

  private procs(dir: string): number[] {
    try {
      return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number)
        .filter((p) => this.alive(p))
    } catch {
      return []
    }
  }

  private setProcs(dir: string, pids: number[]): void {
    writeFileSync(join(dir, 'cgroup.procs'), pids.map((p) => `${p}\n`).join(''))
  }

  private cgroupDirs(dir = this.root): string[] {
    const out = [dir]
    for (const d of readdirSync(dir, { withFileTypes: true }))
      if (d.isDirectory()) out.push(...this.cgroupDirs(join(dir, d.name)))
    return out
  }

  read(path: string): string {
    if (path.endsWith('/cgroup.procs')) {
      readFileSync(path) // ENOENT as the kernel would
      return this.procs(dirname(path))
        .map((p) => `${p}\n`)
        .join('')
    }
    return readFileSync(path, 'utf8')
  }

  write(path: string, data: string): void {
    this.log.push({ op: 'write', path, data })
    if (!existsSync(path)) throw errno('EACCES', path) // kernfs: no new files
    accessSync(path, constants.W_OK)
    const dir = dirname(path)
    const file = relative(dir, path)
    if (file === 'cgroup.procs') {
      const pid = Number(data.trim())
      if (this.tokens(join(dir, 'cgroup.subtree_control')).size > 0) throw errno('EBUSY', path)
      for (const d of this.cgroupDirs())
        this.setProcs(
          d,
          this.procs(d).filter((p) => p !== pid),
        )
      this.setProcs(dir, [...this.procs(dir), pid])
    } else if (file === 'cgroup.subtree_control') {
      const available = this.tokens(join(dir, 'cgroup.controllers'))
      const enabled = this.tokens(path)
      for (const t of data.split(/\s+/).filter(Boolean)) {
        const c = t.slice(1)
        if (!available.has(c)) throw errno('ENOENT', path)
        if (t.startsWith('+')) enabled.add(c)
        else enabled.delete(c)
      }
      if (this.procs(dir).length > 0) throw errno('EBUSY', path)
      writeFileSync(path, `${[...enabled].join(' ')}\n`)
    } else if (file === 'cgroup.kill') {
      for (const d of this.cgroupDirs(dir)) this.setProcs(d, [])
    } else {
      writeFileSync(path, data)
    }
  }

  exists(path: string): boolean {
    return existsSync(path)
  }

  mkdir(path: string): void {
    this.log.push({ op: 'mkdir', path })
    if (existsSync(path)) throw errno('EEXIST', path)
    if (!existsSync(dirname(path))) throw errno('ENOENT', path)
    accessSync(dirname(path), constants.W_OK)
    this.populate(path)
  }

  rmdir(path: string): void {
    this.log.push({ op: 'rmdir', path })
    if (!existsSync(path)) throw errno('ENOENT', path)
    if (this.procs(path).length > 0 || this.subdirs(path).length > 0) throw errno('EBUSY', path)
    for (const f of readdirSync(path)) unlinkSync(join(path, f))
    rmdirSync(path)
  }

  subdirs(path: string): string[] {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
  }

  writable(path: string): boolean {
    try {
      accessSync(path, constants.W_OK)
      return true
    } catch {
      return false
    }
  }
}
