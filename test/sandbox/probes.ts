/**
 * What the sandbox-probing tests share: the C probe (fixtures/syscall-probe.c)
 * compiled into a temp dir, and a shell script run in a sandbox whose `k=v`
 * lines come back as a record.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, expect } from 'vitest'
import type { SandboxResult, SpawnOptions } from '../../dist/index.js'
import { tempDir } from '../helpers.ts'

/** A temp dir with the probe compiled into it, for this test file (made before its tests, removed after). */
export function probeDir(prefix: string): { path: string; probe: string } {
  const dir = tempDir(prefix)
  const probe = join(dir.path, 'probe')
  beforeAll(() => {
    const cc = spawnSync('cc', ['-O1', '-o', probe, join(import.meta.dirname, 'fixtures/syscall-probe.c')], {
      encoding: 'utf8',
    })
    expect(cc.status, cc.stderr).toBe(0)
  })
  afterAll(() => dir.cleanup())
  return { path: dir.path, probe }
}

/** Runs `sh -c script` in a sandbox; its `k=v` stdout lines, and the result. */
export async function shellInside(
  script: string,
  options: SpawnOptions,
): Promise<{ v: Record<string, string>; result: SandboxResult }> {
  const out: string[] = []
  const s = (await import('../../dist/index.js')).spawnSandbox('/bin/sh', ['-c', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
    ...options,
  })
  s.child.stdout?.on('data', (d) => out.push(String(d)))
  const result = await s.result
  const v = Object.fromEntries(
    out
      .join('')
      .trim()
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )
  return { v, result }
}

/** `name=ok` when the command succeeded, `name=refused` when not. */
export const attempt = (name: string, cmd: string) =>
  `if ${cmd} 2>/dev/null; then echo ${name}=ok; else echo ${name}=refused; fi`
