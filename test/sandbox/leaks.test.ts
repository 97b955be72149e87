// The reaper: leaked processes are reported, killed, and nothing outlives a sandbox.
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { runSandbox } from '../../dist/index.js'
import { mountCount, pidsWithMarker, root, runScript, uniqueSleep, waitFor, zombieChildren } from '../helpers.ts'

describe('leaked processes', () => {
  it('a daemon (double fork + setsid) is reported with its command line and is dead afterwards', async () => {
    const marker = uniqueSleep()
    const r = await runSandbox(
      process.execPath,
      [
        '-e',
        `require('child_process').spawn('/bin/sh', ['-c', '(setsid sleep ${marker} &); exit 0'], { stdio: 'ignore', detached: true }).unref(); setTimeout(() => {}, 200)`,
      ],
      { stdio: 'inherit' },
    )
    expect(r.code).toBe(0)
    expect(r.leaksKnown).toBe(true)
    expect(r.leaked).toHaveLength(1)
    expect(r.leaked[0]?.command).toBe(`sleep ${marker}`)
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it('a rootless daemon is reported and dead too', () => {
    const marker = uniqueSleep()
    const { json, stderr } = runScript(
      `
      import { runSandbox } from '@dist/index.js'
      const r = await runSandbox('/bin/sh', ['-c', '(setsid sleep ${marker} &); sleep 0.1'])
      console.log(JSON.stringify(r.leaked))
      `,
      { asNobody: true },
    )
    expect(json, stderr).toEqual([{ pid: expect.any(Number), command: `sleep ${marker}` }])
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it('passes SIGTERM on to the command and reports how it ended', async () => {
    const { spawnSandbox } = await import('../../dist/index.js')
    const s = spawnSandbox('/bin/sh', ['-c', 'echo running; exec sleep 1000'], { stdio: ['ignore', 'pipe', 'ignore'] })
    // Relayed to a command that runs (not one the launcher has yet to start).
    await new Promise<void>((r) => s.child.stdout?.on('data', (d) => String(d).includes('running') && r()))
    s.kill('SIGTERM')
    const r = await s.result
    expect(r.signal).toBe('SIGTERM')
    expect(r.code).toBe(null)
  })

  it('a sandbox SIGKILLed before PID 1 reported: its report says the leaks are unknown, not none', async () => {
    const { spawnSandbox, fileReportFromResult, createRunReport, formatUsageTable, LEAKS_UNKNOWN } = await import(
      '../../dist/index.js'
    )
    const marker = uniqueSleep()
    const s = spawnSandbox('/bin/sh', ['-c', `(setsid sleep ${marker} &); echo running; exec sleep ${marker}`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    await new Promise<void>((r) => s.child.stdout?.on('data', (d) => String(d).includes('running') && r()))
    s.kill('SIGKILL')
    const r = await s.result
    expect(r.leaksKnown).toBe(false)
    const file = fileReportFromResult({ file: 'killed.test.ts', result: r })
    expect(file.leaksUnknown).toBe(LEAKS_UNKNOWN)
    const table = formatUsageTable(createRunReport([file]), { colour: false, columns: 200 })
    expect(table).toMatch(/killed\.test\.ts .* 0\? │\n/)
    expect(table).toContain(`? leaks not all known: ${LEAKS_UNKNOWN}`)
    expect(await waitFor(() => pidsWithMarker(marker).length === 0, 60_000)).toBe(true)
  })

  it('SIGKILL of the runner leaves no sandbox process alive', async () => {
    const marker = uniqueSleep()
    // A runner process that starts a sandbox with a daemon and a busy worker, then is SIGKILLed.
    const runner = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { spawnSandbox } from '${root}/dist/index.js'; spawnSandbox('/bin/sh', ['-c', '(setsid sleep ${marker} &); sleep ${marker}'], { stdio: 'ignore' }); setInterval(() => {}, 1000)`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    )
    expect(await waitFor(() => pidsWithMarker(marker).length >= 5, 60_000), pidsWithMarker(marker).join()).toBe(true)
    runner.kill('SIGKILL')
    expect(await waitFor(() => pidsWithMarker(marker).length === 0, 60_000)).toBe(true)
  })

  it('50 sandboxes in a row leave no mount, zombie or process behind', {
    tags: ['root'],
    timeout: 120_000,
  }, async () => {
    const mounts = mountCount()
    const marker = uniqueSleep()
    for (let i = 0; i < 50; i++) {
      const r = await runSandbox('/bin/sh', ['-c', `(sleep ${marker} &); echo x > /etc/many`], { stdio: 'ignore' })
      expect(r.code).toBe(0)
      expect(r.leaked).toHaveLength(1)
    }
    expect(mountCount()).toBe(mounts)
    expect(zombieChildren()).toEqual([])
    expect(pidsWithMarker(marker)).toEqual([])
  })
})
