/**
 * Rootless: a real privilege drop (setpriv to nobody; as itself when the suite runs unprivileged), against this host's
 * real hybrid tree (v1 cannot be delegated) and a fake v2 tree that is or is
 * not delegated to that user.
 */
import { execFileSync } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { asUnprivileged, unprivilegedUid } from '../helpers.ts'
import { FakeCgroupfs } from './fake-cgroupfs.ts'
import { leftoverCgroups } from './helpers.ts'

const NOBODY = unprivilegedUid
const SCRIPT = fileURLToPath(new URL('./fixtures/rootless.ts', import.meta.url))
const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

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
  it('on hybrid without delegation: a cap gives ENS_CGROUP_UNAVAILABLE naming the fix', () => {
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

  it('v2 delegated to the user (fake tree owned by it): caps enforced', () => {
    const root = mkdtempSync(join(tmpdir(), 'fake-delegated-'))
    dirs.push(root)
    chownSync(root, NOBODY, NOBODY)
    const r = asNobody('fake-delegated', root)
    expect(r.error).toBeUndefined()
    expect(r.enforced).toEqual({ memory: true, pids: true, cpu: true })
  })

  it('v2 not delegated (fake tree owned by root): ENS_CGROUP_UNAVAILABLE', { tags: ['root'] }, () => {
    const f = new FakeCgroupfs({ rootProcs: [1] })
    dirs.push(f.root)
    const r = asNobody('fake-not-delegated', f.root)
    expect(r.error?.code).toBe('ENS_CGROUP_UNAVAILABLE')
    expect(r.error?.message).toContain(`not delegated to uid ${NOBODY}`)
    expect(r.error?.message).toMatch(/systemd-run --user --scope -p Delegate=yes/)
  })
})
