// Lifecycle guarantees for unprivileged users: the runner's death kills the
// sandbox, and many sandboxes in a row leave nothing behind.
import { describe, expect, it } from 'vitest'
import { mountCount, pidsWithMarker, runScript, uniqueSleep } from '../helpers.ts'

describe('as an unprivileged user', () => {
  it('SIGKILL of the runner leaves no sandbox process alive', () => {
    const marker = uniqueSleep()
    // The runner (nobody) starts a sandbox with a daemon and a busy command, then SIGKILLs itself.
    const { stderr } = runScript(
      `
      import { spawnSandbox } from '@dist/index.js'
      import { readdirSync, readFileSync } from 'node:fs'
      spawnSandbox('/bin/sh', ['-c', '(setsid sleep ${marker} &); sleep ${marker}'], { stdio: 'ignore' })
      const count = () => readdirSync('/proc').filter((p) => { try { return readFileSync('/proc/' + p + '/cmdline', 'utf8').startsWith('sleep') && readFileSync('/proc/' + p + '/cmdline', 'utf8').includes('${marker}') } catch { return false } }).length
      const t = setInterval(() => { if (count() === 2) { clearInterval(t); process.kill(process.pid, 'SIGKILL') } }, 20)
      `,
      { asNobody: true },
    )
    expect(stderr).toBe('')
    // spawnSync returned: the runner is dead; its sandbox must follow at once
    const deadline = Date.now() + 3000
    while (Date.now() < deadline && pidsWithMarker(marker).length > 0) {}
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it('50 sandboxes in a row leave no mount or process behind', () => {
    const marker = uniqueSleep()
    const mounts = mountCount()
    const { json, stderr } = runScript(
      `
      import { runSandbox } from '@dist/index.js'
      let leaked = 0
      for (let i = 0; i < 50; i++) {
        const r = await runSandbox('/bin/sh', ['-c', '(sleep ${marker} &); echo x > /tmp/many'], { stdio: 'ignore' })
        if (r.code !== 0) throw new Error('exit ' + r.code)
        leaked += r.leaked.length
      }
      console.log(JSON.stringify({ leaked }))
      `,
      { asNobody: true },
    )
    expect(json, stderr).toEqual({ leaked: 50 })
    expect(mountCount()).toBe(mounts)
    expect(pidsWithMarker(marker)).toEqual([])
  })

  it('`ns-isolated run` works as an unprivileged user', () => {
    const { json, stderr } = runScript(
      `
      import { spawnSync } from 'node:child_process'
      const r = spawnSync(process.execPath, ['@dist/cli/main.js', 'run', '--json', '--hostname', 'rl-cli', '--', 'sh', '-c', 'hostname; id -u'], { encoding: 'utf8' })
      console.log(JSON.stringify({ status: r.status, stdout: r.stdout, result: JSON.parse(r.stderr) }))
      `,
      { asNobody: true },
    )
    const j = json as { status: number; stdout: string; result: { strategy: string } }
    expect(j, stderr).toBeDefined()
    expect(j.status).toBe(0)
    expect(j.stdout).toBe('rl-cli\n65534\n') // as the caller, not root of its namespace
    expect(j.result.strategy).toBe('rootless')
  })
})
