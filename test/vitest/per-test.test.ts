/**
 * `isolation: 'test'`: each test of a file in a fresh sandbox of its own,
 * proven with the witnesses (a port, /etc, a global, the hostname,
 * a leaked process): what test A leaves, test B of the same file does not
 * find, and A's leak is reported under A with exact figures. The same file
 * in one sandbox per file fails.
 */
import { afterEach, expect, test } from 'vitest'
import { config, hostPidsWith, type Project, project, type RunOutput, uniqueSleep } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

type Report = {
  files: { file: string; leaked: { command: string; test?: string }[]; tests: Record<string, unknown>[] }[]
}

/** The proof file, run with these plugin options (as root, CAP_SYS_ADMIN kept for the hostname), and its sleep's marker. */
async function proof(options: string): Promise<{ r: RunOutput; sleep: string }> {
  const sleep = uniqueSleep()
  p = project('per-test', {
    'vitest.config.ts': config(
      `{ ${options}user: 'root', capabilities: ['SYS_ADMIN'], report: { json: 'report.json' } }`,
      "{ environment: 'ns-isolated', maxWorkers: 1 }",
    ),
  })
  const r = await p.run(['--reporter=verbose'], { NSV_SLEEP: sleep })
  // Whatever the mode, nothing of it outlives the run.
  expect(hostPidsWith(sleep)).toEqual([])
  return { r, sleep }
}

test("with isolation 'test', test B finds nothing test A left, and A's leak is reported under A", async () => {
  const { r, sleep } = await proof("isolation: 'test', ")
  expect(r.output).toContain('✓ proof.spec.ts > A changes everything')
  expect(r.output).toContain('✓ proof.spec.ts > B finds none of it')
  expect(r.code).toBe(0)
  // The table's per-test CPU is exact: no '≈'.
  expect(r.output).toMatch(/│ heaviest tests\s+│\s+cpu │/)
  const report = JSON.parse(p?.read('report.json') ?? '') as Report
  expect(report.files).toHaveLength(1)
  const [file] = report.files
  expect(file?.leaked).toEqual([expect.objectContaining({ command: `sleep ${sleep}`, test: 'A changes everything' })])
  const [a, b] = file?.tests ?? []
  expect(a).toMatchObject({ name: 'A changes everything', exact: true, leaked: [expect.anything()] })
  expect(b).toMatchObject({ name: 'B finds none of it', exact: true })
  expect(b?.leaked).toBeUndefined()
  for (const t of [a, b]) {
    expect(t?.cpuMs).toBeGreaterThan(0)
    expect(t?.memoryPeakBytes).toBeGreaterThan(0)
    expect(t?.pidsPeak).toBeGreaterThan(0)
    expect(t?.oomKills).toBe(0)
  }
})

test('in one sandbox per file (the default), test B finds what test A left', async () => {
  const { r } = await proof('')
  expect(r.output).toContain('✓ proof.spec.ts > A changes everything')
  expect(r.output).toContain('× proof.spec.ts > B finds none of it')
  expect(r.code).toBe(1)
})

test("with isolation 'test', an OOM kill counts for the test whose sandbox it happened in, exactly", async () => {
  p = project(undefined, {
    'vitest.config.ts': config(
      "{ isolation: 'test', memory: '160M', report: { json: 'report.json' } }",
      "{ environment: 'ns-isolated', maxWorkers: 1 }",
    ),
    'oom.spec.ts': `import { spawnSync } from 'node:child_process'
import { expect, test } from 'vitest'
test('hog', () => {
  const r = spawnSync(process.execPath, ['-e', 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))'])
  expect(r.signal).toBe('SIGKILL')
})
test('calm', () => {})
`,
  })
  const r = await p.run(['--reporter=verbose'])
  // The tracker fails the test during which the cap was hit, naming it.
  expect(r.output).toContain('× oom.spec.ts > hog')
  expect(r.output).toContain('memory cap')
  expect(r.output).toContain('✓ oom.spec.ts > calm')
  const report = JSON.parse(p.read('report.json')) as Report & { files: { oomKills: number }[] }
  const [file] = report.files
  expect(file?.oomKills).toBe(1)
  expect(file?.tests.map((t) => [t.name, t.exact, t.oomKills])).toEqual([
    ['hog', true, 1],
    ['calm', true, 0],
  ])
})
