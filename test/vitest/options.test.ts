/**
 * Bad options are rejected clearly: the plugin's own keys (validated by the
 * plugin), the sandbox keys (validated by the core's resolveOptions), at
 * config load and per file.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { resolveFileOptions, resolvePluginOptions } from '../../plugins/vitest/dist/options.js'
import { config, type Project, project } from './helpers.ts'

describe('resolvePluginOptions', () => {
  test('defaults', () => {
    expect(resolvePluginOptions(undefined)).toEqual({
      sandbox: {},
      leaks: 'report',
      fallback: 'error',
      report: { json: undefined, heaviest: 5, table: true },
      prewarm: true,
      compileCache: true,
      environment: 'node',
      environments: [],
      isolation: 'file',
    })
    expect(resolvePluginOptions({ prewarm: false }).prewarm).toBe(false)
    expect(resolvePluginOptions({ isolation: 'test' }).isolation).toBe('test')
    expect(resolvePluginOptions({ compileCache: false }).compileCache).toBe(false)
  })

  test('keeps the sandbox options apart from the plugin options', () => {
    const r = resolvePluginOptions({
      memory: '512M',
      pids: 256,
      leaks: 'fail',
      report: { json: 'r.json', heaviest: 2 },
    })
    expect(r.sandbox).toEqual({ memory: '512M', pids: 256 })
    expect(r.leaks).toBe('fail')
    expect(r.report).toEqual({ json: 'r.json', heaviest: 2, table: true })
  })

  test.each([
    [{ leaks: 'sometimes' }, "option `leaks` must be one of 'report', 'fail', 'ignore'; got 'sometimes'"],
    [{ fallback: true }, "option `fallback` must be one of 'error', 'unisolated', 'subreaper'; got true"],
    [{ environment: 'ns-isolated' }, 'option `environment` must name the environment to run inside the sandbox'],
    [{ environment: '' }, 'option `environment` must name the environment to run inside the sandbox'],
    [
      { environments: 'jsdom' },
      "option `environments` must be 'all' or a list of environment names like ['jsdom', 'happy-dom']; got 'jsdom'",
    ],
    [{ environments: [1] }, "option `environments` must be 'all' or a list of environment names"],
    [{ report: 'yes' }, 'option `report` must be an object'],
    [{ prewarm: 'yes' }, "option `prewarm` must be true or false; got 'yes'"],
    [{ compileCache: 1 }, 'option `compileCache` must be true or false; got 1'],
    [{ report: { table: 'no' } }, "option `report.table` must be true or false; got 'no'"],
    [{ report: { heaviest: -1 } }, 'option `report.heaviest` must be a whole number ≥ 0; got -1'],
    [{ report: { jsn: 'x' } }, 'unknown option `report.jsn`'],
    [{ memory: 'lots' }, "option `memory` must be a positive byte count or a size like '512M' or '2G'; got 'lots'"],
    [{ network: 'wifi' }, "option `network` must be one of 'loopback', 'none', 'host'; got 'wifi'"],
    [
      { leak: 'fail' },
      'unknown option `leak`. Known options: capabilities, compileCache, cpu, cwd, environment, environments, fallback, hostname, isolation, leaks',
    ],
    ['512M', "options must be an object; got '512M'"],
    [{ isolation: 'tests' }, "option `isolation` must be one of 'file', 'test'; got 'tests'"],
  ])('%j is rejected', (input, message) => {
    expect(() => resolvePluginOptions(input)).toThrow(TypeError)
    expect(() => resolvePluginOptions(input)).toThrow(message)
  })

  test('per-file options override, writable paths add up, and mistakes name where they are', () => {
    const base = resolvePluginOptions({ memory: '512M', writable: ['a'] })
    const r = resolveFileOptions(base, [
      { where: 'docblock', value: { memory: '1G', writable: ['b'], leaks: 'ignore' } },
    ])
    expect(r).toEqual({
      sandbox: { memory: '1G', writable: ['a', 'b'] },
      leaks: 'ignore',
      environment: 'node',
      isolation: 'file',
    })
    // isolation per file, over the plugin's; a mistake names the docblock.
    expect(resolveFileOptions(base, [{ where: 'docblock', value: { isolation: 'test' } }]).isolation).toBe('test')
    expect(() => resolveFileOptions(base, [{ where: '@vitest-environment-options', value: { isolation: 1 } }])).toThrow(
      "ns-isolated (@vitest-environment-options): option `isolation` must be one of 'file', 'test'; got 1",
    )
    // The inner environment per file, over the plugin's.
    const jsdom = resolvePluginOptions({ environment: 'jsdom' })
    expect(resolveFileOptions(jsdom, []).environment).toBe('jsdom')
    expect(resolveFileOptions(jsdom, [{ where: 'docblock', value: { environment: 'happy-dom' } }]).environment).toBe(
      'happy-dom',
    )
    expect(() =>
      resolveFileOptions(base, [{ where: '@vitest-environment-options', value: { environments: 'all' } }]),
    ).toThrow('ns-isolated (@vitest-environment-options): unknown option `environments`')
    expect(() =>
      resolveFileOptions(base, [{ where: '@vitest-environment-options', value: { fallback: 'unisolated' } }]),
    ).toThrow('ns-isolated (@vitest-environment-options): unknown option `fallback`')
  })
})

describe('in a real run', () => {
  let p: Project | undefined
  afterEach(() => {
    p?.cleanup()
    p = undefined
  })

  test('a bad plugin option stops the run at config load with the precise message', async () => {
    p = project('mixed', { 'vitest.config.ts': config("{ leaks: 'sometimes' }", "{ environment: 'node' }") })
    const r = await p.run()
    expect(r.code).toBe(1)
    expect(r.output).toContain(
      "ns-isolated (vitest plugin): option `leaks` must be one of 'report', 'fail', 'ignore'; got 'sometimes'.",
    )
  })

  test('a bad per-file option fails that file with the precise message', async () => {
    p = project('mixed', { 'vitest.config.ts': config('{}', "{ environment: 'node' }") })
    p.write(
      'isolated.spec.ts',
      `// @vitest-${'environment'} ns-isolated\n// @vitest-${'environment'}-options { "pids": -3 }\nimport { test } from 'vitest'\ntest('x', () => {})\n`,
    )
    const r = await p.run()
    expect(r.code).toBe(1)
    expect(r.output).toContain(
      'ns-isolated (@vitest-environment-options): option `pids` must be a positive whole number; got -3.',
    )
  })

  test('per-file options apply: a docblock raises the cap of one file', { tags: ['root'] }, async () => {
    p = project('mixed', {
      'vitest.config.ts': config("{ pids: 200, report: { json: 'r.json' } }", "{ environment: 'node' }"),
    })
    p.write(
      'isolated.spec.ts',
      `// @vitest-${'environment'} ns-isolated\n// @vitest-${'environment'}-options { "pids": 321, "hostname": "docblock-host" }\nimport { expect, test } from 'vitest'\nimport { hostname } from 'node:os'\ntest('x', () => { expect(hostname()).toBe('docblock-host') })\n`,
    )
    const r = await p.run()
    expect(r.code).toBe(0)
    expect(JSON.parse(p.read('r.json')).files[0].capsEnforced.pids).toBe(true)
  })
})
