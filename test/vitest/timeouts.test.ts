/**
 * Test and hook timeouts fire inside the sandbox with Vitest's own messages,
 * and the file runs on after them.
 */
import { afterEach, expect, test } from 'vitest'
import { config, hostPidsWith, type Project, project, summary, uniqueSleep } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

test('a test over testTimeout (or its own timeout) fails with the timeout message; a hook over its timeout too', async () => {
  p = project('timeouts', { 'vitest.config.ts': config('{}', "{ environment: 'ns-isolated', testTimeout: 300 }") })
  const r = await p.run(['--reporter=verbose', 'slow'])
  expect(r.code).toBe(1)
  // (Vitest 4 names these errors plain `Error`)
  expect(r.output).toMatch(
    /FAIL .*slow\.spec\.ts > exceeds testTimeout\n(TestTimeout)?Error: Test timed out in 300ms\./,
  )
  expect(r.output).toMatch(
    /FAIL .*slow\.spec\.ts > exceeds its own timeout\n(TestTimeout)?Error: Test timed out in 400ms\./,
  )
  expect(r.output).toContain('configure it globally with "testTimeout"')
  expect(r.output).toMatch(/FAIL .*slow\.spec\.ts > a hook\n(HookTimeout)?Error: Hook timed out in 500ms\./)
  // the worker was not killed by the timeouts: the tests after them ran, inside
  expect(r.output).toMatch(/✓ .*slow\.spec\.ts > runs on after the timeouts, inside the sandbox/)
  expect(r.output).toMatch(/✓ .*slow\.spec\.ts > a hook > passes before its afterAll times out/)
  expect(summary(r.output)).toEqual(['Test Files 1 failed (1)', 'Tests 2 failed | 2 passed (4)'])
  expect(r.output).toContain('ns-isolated usage (1 sandboxed file)')
})

test("leaks: 'fail' under a test's fake timers reports the leak, not a timeout of its own hook", async () => {
  const sleep = uniqueSleep()
  p = project('timeouts', {
    'vitest.config.ts': config("{ leaks: 'fail' }", "{ environment: 'ns-isolated', hookTimeout: 5_000 }"),
  })
  const r = await p.run(['fake-timers'], { NSV_SLEEP: sleep })
  expect(r.code).toBe(1)
  expect(r.output).toContain('this test left 1 process running: pid')
  expect(r.output).toContain(`sleep ${sleep}`)
  expect(r.output).not.toContain('timed out')
  expect(hostPidsWith(sleep)).toEqual([])
})
