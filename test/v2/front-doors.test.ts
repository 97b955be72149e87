// The front doors with caps on a real pure-v2 kernel, end to end: a Vitest
// file and a Jest file hit their memory cap in their sandboxes and the
// usage report says so; `ns-isolated doctor` describes the host.
import { spawnSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { root } from '../helpers.ts'
import * as jest from '../jest/helpers.ts'
import * as vitest from '../vitest/helpers.ts'
import { onV2AsRoot } from './helpers.ts'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

describe.runIf(onV2AsRoot)('front doors on cgroup v2 (real kernel)', () => {
  it('Vitest: a file over its memory cap fails naming the cap; the usage report marks it', async () => {
    const p = vitest.project('caps', {
      'vitest.config.ts': vitest.config("{ memory: '192M', report: { json: 'report.json' } }"),
    })
    cleanups.push(p.cleanup)
    const r = await p.run(['memory-hog'])
    expect(r.code, r.output).toBe(1)
    expect(r.output).toContain('memory-hog.spec.ts exceeded memory cap 192 MiB')
    expect(r.output).toContain('OOM-killed')
    expect(r.output).toContain('ns-isolated usage (1 sandboxed file)')
    expect(r.output).toMatch(/memory!/)
    const hog = JSON.parse(p.read('report.json')).files[0]
    expect(hog).toMatchObject({ file: 'memory-hog.spec.ts', capHit: { cap: 'memory', limit: 192 * 2 ** 20 } })
    expect(hog.oomKills).toBeGreaterThan(0)
    expect(hog.memoryPeakBytes).toBeLessThanOrEqual(192 * 2 ** 20)
  })

  it('Jest: a file over its memory cap fails naming the cap; the usage report marks it', async () => {
    const p = jest.project('caps')
    cleanups.push(p.cleanup)
    const r = await jest.runJest(p, ['memory-hog'])
    expect(r.code, jest.output(r)).toBe(1)
    expect(r.results.testResults[0]?.message).toContain('memory cap')
    expect(r.stderr).toContain('ns-isolated usage')
    expect(r.stderr).toMatch(/memory!/)
    const hog = r.usage?.files.find((f) => f.file === 'memory-hog.test.js')
    expect(hog?.capHit?.cap).toBe('memory')
    expect(hog?.oomKills).toBeGreaterThan(0)
  })

  it('doctor says v2, writable, with every cap', () => {
    const r = spawnSync(process.execPath, ['dist/cli/main.js', 'doctor', '--json'], { cwd: root, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const cgroups = (JSON.parse(r.stdout) as { name: string; status: string; detail: string }[]).find(
      (c) => c.name === 'cgroups',
    )
    expect(cgroups).toMatchObject({ status: 'ok', detail: 'v2, writable; caps: memory, pids, cpu' })
  })
})
