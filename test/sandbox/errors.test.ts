// Every documented error code, produced by a test. Where the host failure can
// be caused for real here it is; where it cannot (AppArmor, Docker's seccomp),
// the diagnosis is driven by the same host facts read from a fake tree.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { explainLauncherError, explainSetupError } from '../../dist/host/explain.js'
import { type HostFacts, readHostFacts } from '../../dist/host/facts.js'
import { assertLinux, launcherPath } from '../../dist/host/launcher-binary.js'
import {
  assertNodeSupported,
  ErrorCodes,
  isNodeSupported,
  NsIsolatedError,
  prepareSandbox,
  runSandbox,
  startSandbox,
} from '../../dist/index.js'
import { runScript, tempDir } from '../helpers.ts'
import { resolvedInstead } from '../isolate/expect-rejection.ts'

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    expect(NsIsolatedError.is(e), String(e)).toBe(true)
    return (e as NsIsolatedError).code
  }
  return 'no error'
}

const facts = (over: Partial<HostFacts>): HostFacts => ({
  platform: 'linux',
  kernel: '6.18',
  uid: 1000,
  unprivilegedUsernsClone: undefined,
  maxUserNamespaces: 15000,
  apparmorRestrictsUserns: false,
  seccompFiltered: false,
  container: undefined,
  ...over,
})

describe('error codes', () => {
  it('ENS_NOT_LINUX on anything but Linux, naming what to do', async () => {
    expect(await codeOf(() => assertLinux('darwin'))).toBe(ErrorCodes.NOT_LINUX)
    expect(() => assertLinux('darwin')).toThrow(/Linux VM or container/)
  })

  it('ENS_NODE_UNSUPPORTED under a Node older than 22.12, naming the version found, the minimum and the fix', async () => {
    for (const v of ['20.20.2', '22.11.0', '18.19.1', '0.0.0']) expect(isNodeSupported(v), v).toBe(false)
    for (const v of ['22.12.0', '22.23.5', '23.0.0', '24.11.0', '30.1.2']) expect(isNodeSupported(v), v).toBe(true)
    expect(await codeOf(() => assertNodeSupported('20.20.2', '/usr/bin/node'))).toBe(ErrorCodes.NODE_UNSUPPORTED)
    expect(() => assertNodeSupported('20.20.2', '/usr/bin/node')).toThrow(
      /^ns-isolated needs Node >= 22\.12\.0, and this is Node 20\.20\.2 \(\/usr\/bin\/node\)\. .*`nvm install 22 && nvm use 22`/,
    )
    expect(() => assertNodeSupported()).not.toThrow()
    // (every front door refusing a real old Node: test/install/package.test.ts)
  })

  it('ENS_LAUNCHER_MISSING without a binary for the platform, naming the build command', async () => {
    expect(await codeOf(() => launcherPath({}, 'riscv64'))).toBe(ErrorCodes.LAUNCHER_MISSING)
    expect(() => launcherPath({}, 'riscv64')).toThrow(
      /`npx ns-isolated build-launcher` \(needs a C compiler: Debian\/Ubuntu: apt-get install gcc libc6-dev; Alpine: apk add build-base\)/,
    )
    expect(await codeOf(() => launcherPath({ NS_ISOLATED_LAUNCHER: '/nonexistent' }))).toBe(ErrorCodes.LAUNCHER_MISSING)
  })

  it('ENS_COMMAND_NOT_FOUND for a command that does not exist inside', async () => {
    expect(await codeOf(runSandbox('/no/such/command'))).toBe(ErrorCodes.COMMAND_NOT_FOUND)
  })

  it('ENS_TIMEOUT kills the sandbox and carries its result', async () => {
    const err = await runSandbox('/bin/sleep', ['100'], { timeout: 200, stdio: 'ignore' }).catch((e) => e)
    expect(err.code).toBe(ErrorCodes.TIMEOUT)
    expect(err.details.result.signal).toBe('SIGKILL')
  })

  it('ENS_ABORTED through an AbortSignal', async () => {
    const { spawnSandbox } = await import('../../dist/index.js')
    const ac = new AbortController()
    const s = spawnSandbox('/bin/sleep', ['100'], { signal: ac.signal, stdio: 'ignore' })
    setTimeout(() => ac.abort(), 100)
    expect(await codeOf(s.result)).toBe(ErrorCodes.ABORTED)
  })

  it('ENS_MOUNT_FAILED when a mount of the plan fails (a writable path removed before start)', {
    tags: ['root'],
  }, async () => {
    const dir = tempDir()
    const gone = join(dir.path, 'gone')
    const launch = prepareSandbox({ writable: [gone], cwd: '/' }, { statusFd: 3 })
    const s = startSandbox(launch, () => {
      rmSync(gone, { recursive: true }) // gone by the time the launcher binds it
      return spawn(launch.file, [...launch.args, '/bin/true'], {
        stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...launch.env },
      })
    })
    const err = await s.result.then(resolvedInstead, (e: unknown) => e as NsIsolatedError)
    dir.cleanup()
    expect(s.launcher.exitCode).toBe(125)
    expect(err.code).toBe(ErrorCodes.MOUNT_FAILED)
    expect(err.message).toMatch(new RegExp(gone))
  })

  it("ENS_NAMESPACE_DENIED as root without CAP_SYS_ADMIN in mode 'root'; mode 'auto' takes a user namespace instead", {
    tags: ['root'],
  }, () => {
    const { json, stderr } = runScript(
      `
      import { runSandbox } from '@dist/index.js'
      const out = {}
      try { await runSandbox('/bin/true', [], { mode: 'root' }); out.root = 'no error' }
      catch (e) { out.root = { code: e.code, message: e.message } }
      const auto = await runSandbox('/bin/true')
      out.auto = { code: auto.code, strategy: auto.strategy }
      console.log(JSON.stringify(out))
      `,
      { prefix: ['setpriv', '--inh-caps=-all', '--bounding-set=-sys_admin'] },
    )
    const r = json as { root: { code: string; message: string }; auto: { code: number; strategy: string } }
    expect(r, stderr).toBeDefined()
    expect(r.root.code).toBe(ErrorCodes.NAMESPACE_DENIED)
    expect(r.root.message).toMatch(/CAP_SYS_ADMIN/)
    expect(r.auto).toEqual({ code: 0, strategy: 'rootless' })
  })

  it('ENS_USERNS_DISABLED when user namespaces are switched off (user.max_user_namespaces=0 in a namespace of our own)', {
    tags: ['root'],
  }, () => {
    // max_user_namespaces is per user namespace: set it to 0 inside one we own,
    // so the host's setting is untouched, then ask for a rootless sandbox there.
    const { json, stderr } = runScript(
      `
      import { runSandbox } from '@dist/index.js'
      try { await runSandbox('/bin/true', [], { mode: 'rootless' }); console.log(JSON.stringify('no error')) }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }
      `,
      {
        prefix: [
          'unshare',
          '--user',
          '--map-root-user',
          '--',
          'sh',
          '-c',
          'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
          'sh',
        ],
      },
    )
    const r = json as { code: string; message: string }
    expect(r, stderr).toBeDefined()
    expect(r.code).toBe(ErrorCodes.USERNS_DISABLED)
    expect(r.message).toMatch(/max_user_namespaces/)
  })

  it('ENS_USERNS_APPARMOR on Ubuntu 24.04-style hosts, naming the three fixes', () => {
    const e = explainLauncherError(
      { v: 1, error: { step: 'uid_map', errno: 1, detail: '' } },
      facts({ apparmorRestrictsUserns: true }),
    )
    expect(e.code).toBe(ErrorCodes.USERNS_APPARMOR)
    expect(e.message).toMatch(/apparmor_restrict_unprivileged_userns=0/)
    // the restriction shows up later too: a mount refused in the user namespace
    const m = explainSetupError(
      { v: 1, setupError: { code: 'ENS_MOUNT_FAILED', step: 'tmpfs', message: 'x', errnoNumber: 1, path: '/tmp' } },
      facts({ apparmorRestrictsUserns: true }),
      true,
    )
    expect(m.code).toBe(ErrorCodes.USERNS_APPARMOR)
  })

  it('ENS_SECCOMP_DENIED in a Docker container with the default profile', () => {
    const line = { v: 1 as const, error: { step: 'unshare namespaces', errno: 1, detail: '' } }
    const e = explainLauncherError(line, facts({ uid: 0, seccompFiltered: true, container: 'docker' }))
    expect(e.code).toBe(ErrorCodes.SECCOMP_DENIED)
    expect(e.message).toMatch(/seccomp=unconfined/)
  })

  it('ENS_USERNS_DENIED for other user-namespace refusals; ENS_LAUNCHER_FAILED for the rest', () => {
    expect(
      explainLauncherError({ v: 1, error: { step: 'unshare user namespace', errno: 22, detail: '' } }, facts({})).code,
    ).toBe(ErrorCodes.USERNS_DENIED)
    expect(explainLauncherError({ v: 1, error: { step: 'socketpair', errno: 24, detail: '' } }, facts({})).code).toBe(
      ErrorCodes.LAUNCHER_FAILED,
    )
  })

  it('ENS_NETWORK_FAILED and ENS_CGROUP_READONLY are mapped from the launcher and setup lines', () => {
    const n = explainSetupError(
      {
        v: 1,
        setupError: { code: 'ENS_NETWORK_FAILED', step: 'bring lo up', message: 'x', errnoNumber: 1, path: 'lo' },
      },
      facts({}),
      false,
    )
    expect(n.code).toBe(ErrorCodes.NETWORK_FAILED)
    const c = explainLauncherError(
      { v: 1, error: { step: 'join cgroup', errno: 30, detail: '/sys/fs/cgroup/x/cgroup.procs' } },
      facts({}),
    )
    expect(c.code).toBe(ErrorCodes.CGROUP_READONLY)
  })

  it('reads host facts from a fake /proc tree', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsiso-facts-'))
    mkdirSync(join(dir, 'proc/sys/kernel'), { recursive: true })
    mkdirSync(join(dir, 'proc/sys/user'), { recursive: true })
    mkdirSync(join(dir, 'proc/self'), { recursive: true })
    writeFileSync(join(dir, 'proc/sys/kernel/apparmor_restrict_unprivileged_userns'), '1\n')
    writeFileSync(join(dir, 'proc/sys/user/max_user_namespaces'), '0\n')
    writeFileSync(join(dir, 'proc/self/status'), 'Name:\tnode\nSeccomp:\t2\n')
    writeFileSync(join(dir, '.dockerenv'), '')
    const f = readHostFacts(dir)
    rmSync(dir, { recursive: true })
    expect(f).toMatchObject({
      apparmorRestrictsUserns: true,
      maxUserNamespaces: 0,
      seccompFiltered: true,
      container: 'docker',
    })
  })
})
