/**
 * Any environment, sandboxed: files in `ns-isolated` run the plugin's inner
 * `environment` (jsdom, happy-dom, a custom one) inside their sandbox, per
 * project or per file; `environments` sandboxes files whatever their
 * environment, each running its own (config or docblock). The per-test
 * figures and leak attribution work in all of them.
 */
import { afterEach, expect, test } from 'vitest'
import { config, hostPidsWith, type Project, project, uniqueSleep } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

/** `@vitest-environment`, split in this source, or Vitest would read the fixtures' docblocks as this file's own. */
const ENV = `@vitest-${'environment'}`

/** A test file (a docblock, when given, first) that prints where it ran and which DOM it has, and leaks `sleep <sleep>` (unless undefined). */
function probe(docblock: string, sleep: string | undefined): string {
  return `${docblock}
import { spawn } from 'node:child_process'
import { hostname } from 'node:os'
import { expect, test } from 'vitest'
test('renders a button', () => {
  document.body.innerHTML = '<button id="b">ok</button>'
  expect(document.getElementById('b')?.textContent).toBe('ok')
  console.log(\`where: \${process.env.NS_ISOLATED_INSIDE === hostname() ? 'sandbox' : 'host'} pid \${process.pid} dom \${navigator.userAgent.match(/jsdom|HappyDOM/)?.[0]}\`)
  console.log(\`location: \${location.href}\`)
})
${
  sleep === undefined
    ? ''
    : `test('leaks a daemon', () => {
  spawn('sleep', ['${sleep}'], { detached: true, stdio: 'ignore' }).unref()
})`
}
`
}

/** Lines the probes printed: `where: sandbox pid 2 dom jsdom`. */
const wheres = (output: string) => (output.match(/^where: .*$/gm) ?? []).sort()

test("environment: 'jsdom' runs the files in 'ns-isolated' with jsdom inside their sandbox; a docblock picks happy-dom", async () => {
  const sleep = uniqueSleep()
  p = project(undefined, {
    'vitest.config.ts': config(
      "{ environment: 'jsdom', report: { json: 'r.json' } }",
      "{ environment: 'ns-isolated', environmentOptions: { jsdom: { url: 'http://from-the-config.test/' } } }",
    ),
    'a.spec.ts': probe('', sleep),
    'b.spec.ts': probe(`// ${ENV}-options { "environment": "happy-dom" }`, sleep),
  })
  const r = await p.run()
  expect(r.code, r.output).toBe(0)
  expect(wheres(r.output)).toEqual(['where: sandbox pid 2 dom HappyDOM', 'where: sandbox pid 2 dom jsdom'])
  // jsdom got the project's environmentOptions.
  expect(r.output).toContain('location: http://from-the-config.test/')
  const report = JSON.parse(p.read('r.json'))
  expect(report.files).toHaveLength(2)
  for (const f of report.files) {
    expect(f.tests.map((t: { cpuMs: number | null }) => t.cpuMs)).not.toContain(null)
    expect(f.leaked).toEqual([{ pid: expect.any(Number), command: `sleep ${sleep}`, test: 'leaks a daemon' }])
  }
  expect(hostPidsWith(sleep)).toEqual([])
})

test("environments: 'all' sandboxes every file in its own environment: the config's, a docblock's, a custom one", async () => {
  const sleep = uniqueSleep()
  p = project(undefined, {
    'vitest.config.ts': config(
      "{ environments: 'all', report: { json: 'r.json' } }",
      `{ projects: [
        { extends: true, test: { name: 'dom', environment: 'jsdom', include: ['dom/*.spec.ts'] } },
        { extends: true, test: { name: 'custom', environment: './custom-env.ts', include: ['custom/*.spec.ts'] } },
      ] }`,
    ),
    'dom/config.spec.ts': probe('', sleep),
    'dom/docblock.spec.ts': probe(`// ${ENV} happy-dom`, sleep),
    'custom-env.ts': `import type { Environment } from 'vitest/runtime'
export default <Environment>{
  name: 'custom',
  viteEnvironment: 'ssr',
  setup(global) {
    global.customMarker = 'set by the custom environment'
    return { teardown() { delete global.customMarker } }
  },
}
`,
    'custom/custom.spec.ts': `import { expect, test } from 'vitest'
test('has its environment, in a sandbox', () => {
  expect((globalThis as { customMarker?: string }).customMarker).toBe('set by the custom environment')
  expect(process.pid).toBe(2)
})
`,
  })
  const r = await p.run()
  expect(r.code, r.output).toBe(0)
  expect(wheres(r.output)).toEqual(['where: sandbox pid 2 dom HappyDOM', 'where: sandbox pid 2 dom jsdom'])
  expect(r.output).toContain('ns-isolated usage (3 sandboxed files)')
  expect(r.output).not.toContain('not sandboxed')
  const report = JSON.parse(p.read('r.json'))
  expect(report.files.map((f: { file: string }) => f.file).sort()).toEqual([
    'custom/custom.spec.ts',
    'dom/config.spec.ts',
    'dom/docblock.spec.ts',
  ])
  expect(report.files.flatMap((f: { leaked: { test?: string }[] }) => f.leaked.map((l) => l.test))).toEqual([
    'leaks a daemon',
    'leaks a daemon',
  ])
  expect(hostPidsWith(sleep)).toEqual([])
})

test('environments: a list sandboxes those environments; the others are listed as not sandboxed', async () => {
  // (no leaks: the unsandboxed file's would be left on the host)
  p = project(undefined, {
    'vitest.config.ts': config("{ environments: ['happy-dom'] }", "{ environment: 'jsdom' }"),
    'config.spec.ts': probe('', undefined),
    'docblock.spec.ts': probe(`// ${ENV} happy-dom`, undefined),
  })
  const r = await p.run()
  expect(r.code, r.output).toBe(0)
  expect(wheres(r.output)).toEqual([
    expect.stringMatching(/^where: host pid \d+ dom jsdom$/),
    'where: sandbox pid 2 dom HappyDOM',
  ])
  expect(r.output).toContain('ns-isolated usage (1 sandboxed file, 1 not sandboxed)')
  expect(r.output).toContain('environment jsdom: not sandboxed, see docs/vitest.md#any-environment\n    config.spec.ts')
})
