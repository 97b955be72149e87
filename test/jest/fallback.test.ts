// fallback: 'subreaper'. Namespaces work on this machine, so they are refused
// for real: Jest runs under a seccomp filter that does what Docker's default
// profile does to namespaces (test/sandbox/fixtures/syscall-probe.c). The
// files then run without namespaces, under the launcher as their subreaper:
// the tracker reads the host's /proc (only the launcher's descendants are
// the file's), the leaked daemon is reported under its test and killed, and
// every file says which isolation it ran without. The default, 'error',
// fails every file naming the fix.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { pidsWithMarker, tempDir, uniqueSleep } from '../helpers.ts'
import { eventually, output, type Project, project, runJest, startJest } from './helpers.ts'

const dir = tempDir('nsiso-jest-fallback-')
const probe = join(dir.path, 'probe')
const underDockerSeccomp = [probe, 'docker-seccomp']
beforeAll(() => {
  const cc = spawnSync('cc', ['-O1', '-o', probe, join(import.meta.dirname, '../sandbox/fixtures/syscall-probe.c')], {
    encoding: 'utf8',
  })
  expect(cc.status, cc.stderr).toBe(0)
})
afterAll(() => dir.cleanup())

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

describe("jest: fallback 'subreaper' under a seccomp filter like Docker's", () => {
  it.for([
    ['reuse', 'jest.config.js'],
    ['fresh', 'jest.fresh.config.js'],
  ])(
    '%s: runs every file without namespaces, says so on each, and reports the leaked daemon under its test',
    async ([, config]) => {
      p = project('fallback')
      const marker = uniqueSleep()
      const r = await runJest(
        p,
        ['-c', config as string, '--maxWorkers=2'],
        { SLEEP_MARKER: marker },
        false,
        underDockerSeccomp,
      )
      expect(r.code, output(r)).toBe(0)
      expect(r.results.numPassedTests).toBe(3)
      const files = r.usage?.files ?? []
      const seccomp = { missing: 'namespaces', why: 'seccomp', code: 'ENS_SECCOMP_DENIED' }
      expect(files.map((f) => [f.file, f.missingIsolation]).sort()).toEqual([
        ['calm.test.js', seccomp],
        ['daemon.test.js', seccomp],
        ['waits.test.js', seccomp],
      ])
      const daemon = files.find((f) => f.file === 'daemon.test.js')
      expect(daemon?.leaked.map((l) => [l.command, l.test])).toEqual([
        [`sleep ${marker}`, 'starts a setsid daemon and leaves it running'],
      ])
      expect(pidsWithMarker(marker)).toEqual([])
      // The usage table, each file marked, and the closing count.
      expect(r.stderr).toContain('ns-isolated usage')
      expect(r.stderr).toMatch(/daemon\.test\.js[^\n]*\n[^\n]*no namespaces \(seccomp\)/)
      expect(r.stderr).toContain('ns-isolated: 0 files sandboxed, 3 without namespaces (seccomp), 0 not sandboxed')
    },
  )

  it("the default, fallback: 'error', fails every file naming the code and the fix", async () => {
    p = project('fallback')
    const r = await runJest(p, ['-c', 'jest.error.config.js'], {}, false, underDockerSeccomp)
    expect(r.code, output(r)).toBe(1)
    expect(r.results.numFailedTestSuites).toBe(2)
    for (const f of r.results.testResults) {
      expect(f.message).toContain('A seccomp filter refuses namespace creation')
      expect(f.message).toContain("fallback: 'subreaper'")
    }
  })

  it('a SIGKILLed Jest takes the tree along, setsid daemon included', async () => {
    p = project('fallback')
    const marker = uniqueSleep()
    const jest = startJest(
      p,
      ['--ci=false', 'waits'],
      { SLEEP_MARKER: marker, WAIT_FILE: join(p.dir, 'never') },
      underDockerSeccomp,
    )
    jest.stdin.end()
    try {
      expect(await eventually(() => pidsWithMarker(marker).length > 0, 60_000)).toBe(true)
      jest.kill('SIGKILL')
      expect(await eventually(() => pidsWithMarker(marker).length === 0, 20_000)).toBe(true)
    } finally {
      jest.kill('SIGKILL')
    }
  })
})
