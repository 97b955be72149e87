// isolate() called from code that itself runs in a sandbox (started with runSandbox): nested namespaces.
import { spawnSync } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isRoot, root, tempDir } from '../helpers.ts'

/** Runs outer.mjs (which starts inner.mjs in a sandbox) as root or as nobody; returns inner's JSON line. */
function nested(asNobody: boolean): { json: unknown; stdout: string; stderr: string } {
  const dir = tempDir('nsiso-nest-')
  const dist = join(root, 'dist')
  writeFileSync(
    join(dir.path, 'inner.mjs'),
    `import { isolate } from '${dist}/isolate/isolate.js'
import { hostname } from 'node:os'
try {
  const r = await isolate(async () => {
    const os = await import('node:os')
    return { host: os.hostname(), pid: process.pid }
  })
  console.log(JSON.stringify({ outerHost: hostname(), outerPid: process.pid, inner: r.value, usageHost: r.usage.hostname }))
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
  const argv = [
    ...(asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []),
    process.execPath,
    'outer.mjs',
  ]
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

/**
 * As root, preparing a sandbox inside a sandbox is refused for now: the
 * core's stale-cgroup sweep, run inside a PID namespace, cannot see the
 * outer runners' pids and kills every ns-isolated cgroup on the host —
 * its own sandbox and other tests' included (so this cannot be probed
 * safely either). Set NS_ISOLATED_TEST_ROOT_NESTING=1 once the core skips
 * the sweep inside a sandbox and the guard in src/isolate/nesting.ts is gone.
 */
const rootNesting = isRoot && process.env.NS_ISOLATED_TEST_ROOT_NESTING === '1'

describe('nesting', () => {
  it.skipIf(!rootNesting)('as root: isolate inside a sandbox gets its own, nested namespaces', () => {
    const { json, stderr } = nested(false)
    const r = json as { outerHost: string; outerPid: number; inner: { host: string; pid: number }; usageHost: string }
    expect(r?.inner, stderr).toBeDefined()
    expect(r.outerPid).toBe(2)
    expect(r.inner.pid).toBe(2)
    expect(r.inner.host).not.toBe(r.outerHost)
    expect(r.inner.host).toBe(r.usageHost)
  })

  it.runIf(isRoot && !rootNesting)(
    'as root, for now: a clear ENS_NESTING_UNSUPPORTED, and the outer sandbox survives',
    () => {
      const { json, stderr } = nested(false)
      expect(json, stderr).toMatchObject({
        error: 'ENS_NESTING_UNSUPPORTED',
        message: expect.stringMatching(/outside the sandbox.*rootless/),
      })
    },
  )

  it('rootless: isolate inside a rootless sandbox works (a user namespace inside a user namespace)', () => {
    const { json, stderr } = nested(true)
    const r = json as { outerHost: string; inner: { host: string; pid: number } }
    expect(r?.inner, `${stderr}\n${JSON.stringify(json)}`).toBeDefined()
    expect(r.inner.pid).toBe(2)
    expect(r.inner.host).not.toBe(r.outerHost)
  })
})
