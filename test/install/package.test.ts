/**
 * The release tarballs (scripts/pack.mjs) as the registry would serve them:
 * what is in them, the launchers they carry (x64 and arm64, static; the
 * arm64 one run under qemu), the CLI of an installed core (`--version`,
 * `build-launcher` where no launcher matches), and the old Node every front
 * door of the core refuses.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { aptInstall, have } from '../../scripts/lib/apt.mjs'
import { PACKAGES, run, tarball, type UserProject, userProject, version } from './helpers.ts'

const REPO = 'https://github.com/ns-isolated/ns-isolated'

/** The three tarballs unpacked, each in `<dir>/<name>/package`. */
let unpacked: string
beforeAll(() => {
  unpacked = mkdtempSync(join(tmpdir(), 'nsiso-unpacked-'))
  for (const pkg of Object.keys(PACKAGES) as (keyof typeof PACKAGES)[]) {
    const dir = join(unpacked, pkg)
    mkdirSync(dir)
    const r = spawnSync('tar', ['-xzf', tarball(pkg), '-C', dir], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`tar: ${r.stderr}`)
  }
})
afterAll(() => rmSync(unpacked, { recursive: true, force: true }))

const file = (pkg: keyof typeof PACKAGES, path: string) => join(unpacked, pkg, 'package', path)
const manifest = (pkg: keyof typeof PACKAGES) =>
  JSON.parse(readFileSync(file(pkg, 'package.json'), 'utf8')) as Record<string, unknown>

describe('the tarballs', () => {
  it.each(Object.keys(PACKAGES) as (keyof typeof PACKAGES)[])(
    '%s: LICENSE, README, metadata, no file: dependency',
    (pkg) => {
      expect(readFileSync(file(pkg, 'LICENSE'), 'utf8')).toMatch(
        /^MIT License\n\nCopyright \(c\) \d{4} ns-isolated contributors/,
      )
      const m = manifest(pkg)
      expect(m.name).toBe(PACKAGES[pkg])
      expect(m.version).toBe(version)
      expect(m.license).toBe('MIT')
      expect(m.repository).toMatchObject({ type: 'git', url: `git+${REPO}.git` })
      if (pkg !== 'core') expect(m.repository).toMatchObject({ directory: `plugins/${pkg}` })
      expect(m.homepage).toMatch(new RegExp(`^${REPO}`))
      expect(m.bugs).toEqual({ url: `${REPO}/issues` })
      expect(m.scripts).toBeUndefined() // nothing runs at install
      expect(m.devDependencies).toBeUndefined()
      expect(JSON.stringify(m)).not.toContain('file:')
      // Every link of the README works from the npm page: absolute, or an anchor of the page itself.
      const readme = readFileSync(file(pkg, 'README.md'), 'utf8')
      const targets = [...readme.matchAll(/\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)/gm)].map((x) => x[1] ?? x[2])
      expect(targets.length).toBeGreaterThan(0)
      for (const t of targets) expect(t, `README link ${t}`).toMatch(/^(https?:\/\/|#|mailto:)/)
    },
  )

  it('the plugins depend on the core by a version range, and take the runners as peers', () => {
    expect(manifest('vitest').dependencies).toEqual({ 'ns-isolated': `^${version}` })
    expect(manifest('vitest').peerDependencies).toEqual({ vitest: '^4.0.0 || ^5.0.0' })
    expect(manifest('jest').dependencies).toEqual({ 'ns-isolated': `^${version}` })
    expect(manifest('jest').peerDependencies).toEqual({ jest: '^29.7.0 || ^30.0.0' })
  })

  it('the core carries the launcher source and the CLI', () => {
    expect(existsSync(file('core', 'src/launcher/launcher.c'))).toBe(true)
    expect(manifest('core').bin).toEqual({ 'ns-isolated': './dist/cli/main.js' })
    expect(existsSync(file('core', 'dist/cli/main.js'))).toBe(true)
  })
})

/** The facts of an ELF file's header that say what it runs on and whether it needs a loader. */
function elf(path: string): { machine: number; bits: number; type: number; interp: boolean; dynamic: boolean } {
  const b = readFileSync(path)
  expect(b.subarray(0, 4).toString('latin1')).toBe('\x7fELF')
  expect(b[5]).toBe(1) // little-endian, both arches
  const bits = b[4] === 2 ? 64 : 32
  const phoff = Number(b.readBigUInt64LE(32))
  const phentsize = b.readUInt16LE(54)
  const phnum = b.readUInt16LE(56)
  const types = Array.from({ length: phnum }, (_, i) => b.readUInt32LE(phoff + i * phentsize))
  return {
    machine: b.readUInt16LE(18),
    bits,
    type: b.readUInt16LE(16),
    interp: types.includes(3),
    dynamic: types.includes(2),
  }
}

describe('the launchers in the core tarball', () => {
  it('linux-x64: a static x86-64 executable', () => {
    expect(elf(file('core', 'prebuilds/linux-x64/ns-isolated-launcher'))).toEqual({
      machine: 62,
      bits: 64,
      type: 2,
      interp: false,
      dynamic: false,
    })
  })

  it("linux-x64: built with musl, whose start probes no CPU (glibc's runs dozens of CPUIDs, each a trap in a VM)", () => {
    // glibc's static start-up carries its tunables' names, the CPU ones among them.
    const text = readFileSync(file('core', 'prebuilds/linux-x64/ns-isolated-launcher')).toString('latin1')
    expect(text).not.toContain('glibc.cpu.')
  })

  it('linux-arm64: a static AArch64 executable that runs (under qemu here) and says its version', (ctx) => {
    if (!inject('bothArches'))
      ctx.skip('no cross compiler here: packed for this arch only (Debian: gcc-aarch64-linux-gnu)')
    const path = file('core', 'prebuilds/linux-arm64/ns-isolated-launcher')
    expect(elf(path)).toEqual({ machine: 183, bits: 64, type: 2, interp: false, dynamic: false })
    if (process.arch === 'arm64') {
      expect(spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout).toBe(`ns-isolated-launcher ${version}\n`)
      return
    }
    const qemus = ['qemu-aarch64-static', 'qemu-aarch64']
    if (!qemus.some(have)) {
      // Debian's qemu-user-static (qemu-user, where a release folds the static binaries into it)
      const problem = aptInstall(['qemu-user-static'], 'running the arm64 launcher')
      if (problem && aptInstall(['qemu-user'], 'running the arm64 launcher')) ctx.skip(problem)
    }
    const q = qemus.find(have) as string
    const r = spawnSync(q, [path, '--version'], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe(`ns-isolated-launcher ${version}\n`)
    expect(r.status).toBe(0)
  })
})

describe('the CLI of an installed core', () => {
  let p: UserProject
  beforeAll(async () => {
    p = userProject('cli')
    await p.install([tarball('core')])
  })
  afterAll(() => p.cleanup())
  const cli = (args: string[], node = process.execPath) =>
    run(node, [join(p.dir, 'node_modules/ns-isolated/dist/cli/main.js'), ...args], { cwd: p.dir, hangGuard: 120_000 })

  it('--version and -V print the version', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag])
      expect(r.stdout).toBe(`${version}\n`)
      expect(r.code).toBe(0)
    }
    // and npx finds the bin
    const x = await run('npx', ['--no-install', 'ns-isolated', '--version'], { cwd: p.dir })
    expect(x.stdout.trim()).toBe(version)
  })

  it('an unknown option exits 2', async () => {
    const r = await cli(['run', '--no-such-option', '--', 'true'])
    expect(r.output).toContain("unknown option '--no-such-option'")
    expect(r.code).toBe(2)
  })

  it('with no launcher for this arch: ENS_LAUNCHER_MISSING names build-launcher and the compiler; build-launcher fixes it', async () => {
    const prebuilds = join(p.dir, 'node_modules/ns-isolated/prebuilds', `linux-${process.arch}`)
    const ok = await cli(['run', '-q', '--', 'sh', '-c', 'echo $$'])
    expect(ok.stdout).toBe('2\n')
    rmSync(prebuilds, { recursive: true, force: true })
    const missing = await cli(['run', '--', 'true'])
    expect(missing.code).toBe(125)
    expect(missing.output).toContain('ENS_LAUNCHER_MISSING')
    expect(missing.output).toContain('`npx ns-isolated build-launcher`')
    expect(missing.output).toContain('Debian/Ubuntu: apt-get install gcc libc6-dev; Alpine: apk add build-base')
    const built = await cli(['build-launcher'])
    expect(built.output).toContain(`built ${join(prebuilds, 'ns-isolated-launcher')}`)
    expect(built.output).toContain(`ns-isolated-launcher ${version}`)
    expect(built.code).toBe(0)
    const again = await cli(['run', '-q', '--', 'sh', '-c', 'echo $$'])
    expect(again.stdout).toBe('2\n')
    expect(again.code).toBe(0)
  })

  it('refuses every old Node at once, from every front door of the core, naming the version and the fix', async () => {
    const script = `
      const m = await import('ns-isolated')
      const doors = {
        isolate: () => m.isolate(() => 1),
        createIsolatePool: () => m.createIsolatePool(),
        runSandbox: () => m.runSandbox('true'),
        spawnSandbox: () => m.spawnSandbox('true'),
        prepareSandbox: () => m.prepareSandbox({}, { statusFd: 3 }),
      }
      const seen = {}
      for (const [name, door] of Object.entries(doors)) {
        try { await door(); seen[name] = 'no error' } catch (e) { seen[name] = m.NsIsolatedError.is(e) ? e.code + ': ' + e.message : String(e) }
      }
      console.log(JSON.stringify(seen))
    `
    for (const old of inject('oldNodes')) {
      const r = await run(old.path, ['--input-type=module', '-e', script], { cwd: p.dir, hangGuard: 120_000 })
      expect(r.code, `${old.why}: ${r.output}`).toBe(0)
      const seen = JSON.parse(r.stdout) as Record<string, string>
      for (const [door, what] of Object.entries(seen)) {
        expect(what, `${door} on ${old.why}`).toMatch(
          new RegExp(
            `^ENS_NODE_UNSUPPORTED: ns-isolated needs Node >= 22\\.12\\.0, and this is Node ${old.version.replaceAll('.', '\\.')} `,
          ),
        )
        expect(what).toContain('nvm install 22')
      }
      const c = await cli(['run', '--', 'true'], old.path)
      expect(c.output).toContain(`ns-isolated needs Node >= 22.12.0, and this is Node ${old.version}`)
      expect(c.output).toContain('[ENS_NODE_UNSUPPORTED]')
      expect(c.code).toBe(125)
      const doctor = await cli(['doctor', '--json'], old.path)
      const node = (JSON.parse(doctor.stdout) as { name: string; status: string; fix?: string }[]).find(
        (x) => x.name === 'node',
      )
      expect(node).toMatchObject({ status: 'fail', fix: expect.stringContaining('nvm install 22') })
      expect(doctor.code).toBe(1)
    }
  })
})
