/**
 * Rootless without delegation: a real privilege drop (setpriv to nobody; as
 * itself when the suite runs unprivileged)
 * against the real tree: this host's hybrid one (v1 cannot be delegated),
 * and a pure-v2 one whose cgroups are root's (test/v2 runs this file in a
 * VM; a delegated subtree is proven there, in test/v2/rootless.test.ts).
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { asUnprivileged, unprivilegedUid } from '../helpers.ts'
import { leftoverCgroups } from './helpers.ts'

const NOBODY = unprivilegedUid
const SCRIPT = fileURLToPath(new URL('./fixtures/rootless.ts', import.meta.url))

interface Outcome {
  uid: number
  error?: { code: string; message: string }
  result?: unknown
  enforced?: Record<string, boolean>
  warnings: string[]
  procsFiles?: string[]
  exit?: number
  usage: { source: string }
}

function asNobody(...args: string[]): Outcome {
  const [cmd, ...rest] = [...asUnprivileged, process.execPath, SCRIPT, ...args] as [string, ...string[]]
  const out = execFileSync(cmd, rest, { encoding: 'utf8', cwd: '/' })
  return JSON.parse(out.trim().split('\n').pop() as string)
}

describe('rootless (real privilege drop)', () => {
  it('without delegation: a cap gives ENS_CGROUP_UNAVAILABLE naming the fix', () => {
    const r = asNobody('real-error')
    expect(r.uid).toBe(NOBODY)
    expect(r.error?.code).toBe('ENS_CGROUP_UNAVAILABLE')
    expect(r.error?.message).toMatch(/run as root/)
    expect(r.error?.message).toMatch(/systemd-run --user --scope -p Delegate=yes/)
    expect(r.error?.message).toMatch(/unenforceable: 'warn'/)
  })

  it("'warn' runs uncapped with a warning", () => {
    const r = asNobody('real-warn')
    expect(r.enforced).toEqual({ memory: false, pids: false, cpu: false })
    expect(r.warnings.join('\n')).toMatch(/without the memory, pids caps/)
    expect(r.procsFiles).toEqual([])
    expect(r.exit).toBe(0)
    expect(r.usage.source).toBe('rusage')
  })

  it('without caps: null (figures come from rusage)', () => {
    expect(asNobody('real-none').result).toBeNull()
    expect(leftoverCgroups()).toEqual([])
  })
})
