// isolate() called from code that itself runs in a sandbox (started with runSandbox): nested namespaces.
import { spawnSync } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { asUnprivileged, delegableCgroups, root, tempDir } from '../helpers.ts'

/** Runs outer.mjs (which starts inner.mjs in a sandbox) as root or as nobody; returns inner's JSON line. */
function nested(asNobody: boolean): { json: unknown; stdout: string; stderr: string } {
  const dir = tempDir('nsiso-nest-')
  const dist = join(root, 'dist')
  writeFileSync(
    join(dir.path, 'inner.mjs'),
    `import { isolate } from '${dist}/isolate/isolate.js'
import { hostname } from 'node:os'
import { readFileSync } from 'node:fs'
try {
  const r = await isolate(async () => {
    const os = await import('node:os')
    const fs = await import('node:fs')
    const cgroup = /^[0-9]+:(?:[^:]*,)?pids(?:,[^:]*)?:(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1]
    return { host: os.hostname(), pid: process.pid, cgroup }
  })
  const outerCgroup = /^[0-9]+:(?:[^:]*,)?pids(?:,[^:]*)?:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1]
  console.log(JSON.stringify({ outerHost: hostname(), outerPid: process.pid, inner: r.value, usageHost: r.usage.hostname, usageSource: r.usage.source, outerCgroup }))
} catch (e) {
  console.log(JSON.stringify({ error: e.code ?? e.name, message: e.message }))
}
`,
  )
  writeFileSync(
    join(dir.path, 'outer.mjs'),
    `import { runSandbox } from '${dist}/index.js'
const r = await runSandbox(process.execPath, ['inner.mjs'], { stdio: 'inherit' })
if (r.code !== 0) console.log(JSON.stringify({ outerCode: r.code, outerSignal: r.signal }))
`,
  )
  for (const f of ['inner.mjs', 'outer.mjs']) chmodSync(join(dir.path, f), 0o644)
  const argv = [...(asNobody ? asUnprivileged : []), process.execPath, 'outer.mjs']
  const r = spawnSync(argv[0] as string, argv.slice(1), {
    cwd: dir.path,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, HOME: dir.path },
  })
  dir.cleanup()
  const last = r.stdout.trim().split('\n').pop() ?? ''
  let json: unknown
  try {
    json = JSON.parse(last)
  } catch {}
  return { json, stdout: r.stdout, stderr: r.stderr }
}

describe('nesting', () => {
  it('as root: isolate inside a sandbox gets its own, nested namespaces (built in a user namespace)', {
    tags: ['root'],
  }, () => {
    const { json, stderr } = nested(false)
    const r = json as {
      outerHost: string
      outerPid: number
      inner: { host: string; pid: number; cgroup: string }
      usageHost: string
      usageSource: string
      outerCgroup: string
    }
    expect(r?.inner, `${stderr}\n${JSON.stringify(json)}`).toBeDefined()
    expect(r.outerPid).toBe(2)
    expect(r.inner.pid).toBe(2)
    expect(r.inner.host).not.toBe(r.outerHost)
    expect(r.inner.host).toBe(r.usageHost)
    if (delegableCgroups) {
      // v2 with nsdelegate: figures from its own cgroup, under the outer's (whose caps hold, whose cleanup takes it along).
      expect(r.usageSource).toBe('cgroup')
    } else {
      // v1/hybrid: the outer sees the host's cgroupfs read-only; the inner runs in the outer's cgroup, figures from rusage.
      expect(r.usageSource).toBe('rusage')
      expect(r.inner.cgroup).toBe(r.outerCgroup)
    }
  })

  it('rootless: isolate inside a rootless sandbox works (a user namespace inside a user namespace)', () => {
    const { json, stderr } = nested(true)
    const r = json as { outerHost: string; inner: { host: string; pid: number } }
    expect(r?.inner, `${stderr}\n${JSON.stringify(json)}`).toBeDefined()
    expect(r.inner.pid).toBe(2)
    expect(r.inner.host).not.toBe(r.outerHost)
  })
})
