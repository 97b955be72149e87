// Real Jest with the preset: every file in its own namespaces; what a file
// does (ports, hostname, /etc, daemons, fork bombs, memory hogs) stays
// inside and shows in the usage report.
import { existsSync, rmSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pidsWithMarker, uniqueSleep } from '../helpers.ts'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

describe('jest: isolation', () => {
  it('two files listen on 127.0.0.1:3000 at the same time', async () => {
    p = project('isolation')
    const r = await runJest(p, ['--maxWorkers=2', 'port-'])
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(2)
    // both met: each saw the other's marker while listening
    expect(p.exists('markers/a') && p.exists('markers/b')).toBe(true)
    // and each was its own sandbox
    const sandboxes = new Set(r.usage?.files.map((f) => f.sandbox))
    expect(sandboxes.size).toBe(2)
  })

  it("a small suite that ran fast before still runs its files side by side (Jest's heuristic would run it in band)", async () => {
    p = project('isolation')
    // The first run records the files' timings; on the second, Jest's
    // shouldRunInBand says "≤ 20 fast files: in band". Both files only pass
    // if they run at the same time (each waits to see the other listening).
    const first = await runJest(p, ['--maxWorkers=2', 'port-'])
    expect(first.code, output(first)).toBe(0)
    for (const m of ['a', 'b']) rmSync(join(p.dir, 'markers', m), { force: true })
    const second = await runJest(p, ['--maxWorkers=2', 'port-'])
    expect(second.code, output(second)).toBe(0)
    expect(second.results.numPassedTests).toBe(2)
  })

  // (changing the hostname takes CAP_SYS_ADMIN, granted as root; the rootless variant is below)
  it('hostname, /etc writes and a leaked daemon stay inside and are reported against their test', {
    tags: ['root'],
  }, async () => {
    p = project('isolation')
    const marker = uniqueSleep()
    const etc = `nsiso-jest-${process.pid}-${Date.now()}`
    const r = await runJest(p, ['inside'], { SLEEP_MARKER: marker, ETC_MARKER: etc, HOST_HOSTNAME: hostname() })
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(4)
    // nothing reached the host
    expect(hostname()).not.toBe('changed-inside')
    expect(existsSync(`/etc/${etc}`)).toBe(false)
    expect(pidsWithMarker(marker)).toEqual([])
    // the report names the daemon and the test that started it
    const file = r.usage?.files.find((f) => f.file === 'inside.test.js')
    expect(file?.leaked).toEqual([
      expect.objectContaining({ command: `sleep ${marker}`, test: 'starts a daemon and leaves it running' }),
    ])
    expect(file?.tests.map((t) => t.name)).toEqual([
      'runs in its own namespaces',
      'changes the hostname and writes /etc',
      'starts a daemon and leaves it running',
      'a test that leaks nothing',
    ])
    for (const t of file?.tests ?? []) {
      expect(t.wallMs).toBeGreaterThanOrEqual(0)
      expect(t.cpuMs).not.toBeNull()
    }
    expect(r.stderr).toContain('ns-isolated usage')
    expect(r.stderr).toContain(`inside.test.js > starts a daemon and leaves it running: sleep ${marker}`)
  })

  it('rootless (as nobody): isolated, the daemon reported and gone', async () => {
    p = project('isolation')
    const marker = uniqueSleep()
    const r = await runJest(
      p,
      ['inside', '-t', 'namespaces|daemon'],
      { SLEEP_MARKER: marker, ETC_MARKER: 'x', HOST_HOSTNAME: hostname() },
      true,
    )
    expect(r.code, output(r)).toBe(0)
    expect(r.results.numPassedTests).toBe(2)
    expect(r.usage?.files[0]?.leaked).toEqual([expect.objectContaining({ command: `sleep ${marker}` })])
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it("leaks: 'fail' fails the test that started the process", async () => {
    p = project('isolation')
    p.write(
      'jest.config.js',
      "module.exports = { preset: 'jest-environment-ns-isolated', testEnvironmentOptions: { leaks: 'fail', report: { json: 'usage.json' } } }",
    )
    const marker = uniqueSleep()
    const r = await runJest(p, ['inside'], { SLEEP_MARKER: marker, ETC_MARKER: 'x', HOST_HOSTNAME: hostname() })
    expect(r.code, output(r)).toBe(1)
    const tests = r.results.testResults[0]?.assertionResults ?? []
    expect(tests.find((t) => t.title === 'starts a daemon and leaves it running')?.status).toBe('failed')
    expect(tests.find((t) => t.title === 'a test that leaks nothing')?.status).toBe('passed')
    expect(r.stderr).toContain(`leaked process`)
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it('a fork bomb and a memory hog hit their caps: the files fail naming the cap, nothing survives', {
    tags: ['root'],
  }, async () => {
    p = project('caps')
    const marker = uniqueSleep()
    const r = await runJest(p, ['--maxWorkers=2'], { SLEEP_MARKER: marker })
    expect(r.code, output(r)).toBe(1)
    expect(pidsWithMarker(marker)).toEqual([])
    const byFile = new Map(r.usage?.files.map((f) => [f.file, f]))
    const bomb = byFile.get('fork-bomb.test.js')
    const hog = byFile.get('memory-hog.test.js')
    expect(bomb?.capHit?.cap).toBe('pids')
    expect(bomb?.pidsPeak).toBe(48)
    expect(bomb?.leaked.length).toBeGreaterThan(0)
    expect(bomb?.leaked.every((l) => l.test === 'fork bomb')).toBe(true)
    expect(hog?.capHit?.cap).toBe('memory')
    expect(hog?.oomKills).toBeGreaterThan(0)
    const status = new Map(r.results.testResults.map((t) => [t.name.split('/').pop(), t]))
    expect(status.get('fork-bomb.test.js')?.message).toContain('pids cap')
    expect(status.get('memory-hog.test.js')?.message).toContain('memory cap')
    expect(status.get('calm.test.js')?.status).toBe('passed')
  })
})
