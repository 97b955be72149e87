// Hermetic as root: a test running as root in a sandbox reaches nothing of the
// host beyond its writable paths (the cgroupfs part is cgroupfs.test.ts).
// Every probe runs inside a real sandbox against harmless witnesses made here:
// a file outside every writable path, a key the probe revokes itself, a project
// with node_modules. Rootless variants run as nobody.
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { launcherPath } from '../../dist/host/launcher-binary.js'
import { buildPlan, realHost } from '../../dist/host/plan.js'
import { defaultBounds, planEnv } from '../../dist/host/prepare.js'
import { capabilityMask, DEFAULT_CAPABILITIES } from '../../dist/host/privileges.js'
import { runSandbox } from '../../dist/index.js'
import { delegableCgroups, runScript } from '../helpers.ts'
import { attempt, probeDir, shellInside } from './probes.ts'

const dir = probeDir('nsiso-sec-')
const probe = dir.probe
const project = join(dir.path, 'proj')
const nodeModules = join(project, 'node_modules')
/** Docker's default set without MKNOD, as /proc/<pid>/status prints masks. */
const DOCKER_MASK = capabilityMask(DEFAULT_CAPABILITIES).toString(16).padStart(16, '0')

beforeAll(() => {
  mkdirSync(join(nodeModules, 'dep'), { recursive: true })
  writeFileSync(join(nodeModules, 'dep', 'index.js'), 'module.exports = 1\n')
})

/** Runs a shell script in a sandbox whose cwd is the project (so the probe and node_modules come in). */
const inside = (script: string, options: Record<string, unknown> = {}) =>
  shellInside(script, { cwd: project, env: { ...process.env, PROBE: probe, NM: nodeModules }, ...options })

const status = (field: string) => `echo ${field}=$(awk '/^${field}:/ {print $2}' /proc/self/status)`

describe('as root', { tags: ['root'] }, () => {
  it("keeps only Docker's default capabilities, bounding set included, with no_new_privs and a seccomp filter", async () => {
    const { v } = await inside(
      ['CapEff', 'CapPrm', 'CapBnd', 'CapInh', 'CapAmb', 'NoNewPrivs', 'Seccomp'].map(status).join('; '),
    )
    expect(v).toEqual({
      CapEff: DOCKER_MASK,
      CapPrm: DOCKER_MASK,
      CapBnd: DOCKER_MASK,
      CapInh: '0000000000000000',
      CapAmb: '0000000000000000',
      NoNewPrivs: '1',
      Seccomp: '2',
    })
  })

  it('cannot make a read-only mount writable: /proc/sys and node_modules stay read-only, also from a user namespace of its own', async () => {
    const { v } = await inside(
      [
        attempt('remount_sys', 'mount -o remount,bind,rw /proc/sys'),
        attempt('pid_max', 'echo 40000 > /proc/sys/kernel/pid_max'),
        attempt('remount_nm', 'mount -o remount,bind,rw $NM'),
        attempt('nested_remount_nm', `unshare -Urm sh -c 'mount -o remount,bind,rw "$NM"'`),
        attempt('write_nm', 'touch $NM/dep/written'),
        attempt('own_mount', 'mount -t tmpfs x /mnt'),
        // what nested sandboxes need: mounts in a user namespace it made itself
        attempt('nested_mount', `unshare -Urm sh -c 'mount -t tmpfs x /mnt'`),
      ].join('; '),
    )
    expect(v).toEqual({
      remount_sys: 'refused',
      pid_max: 'refused',
      remount_nm: 'refused',
      nested_remount_nm: 'refused',
      write_nm: 'refused',
      own_mount: 'refused',
      nested_mount: 'ok',
    })
    expect(existsSync(join(nodeModules, 'dep', 'written'))).toBe(false)
  })

  it('bounds what it writes (the root’s changes, /tmp, /dev/shm) by its tmpfs: ENOSPC at the bound, and reported', async () => {
    const { v, result } = await inside(
      [
        attempt('dd', 'dd if=/dev/zero of=/tmp/fill bs=1M count=512'),
        'echo tmp_kib=$(du -k /tmp/fill | cut -f1)',
        attempt('shm', 'dd if=/dev/zero of=/dev/shm/more bs=1M count=1'),
      ].join('; '),
      { tmpfsSize: '96M' },
    )
    expect(v.dd).toBe('refused')
    expect(Number(v.tmp_kib)).toBeLessThanOrEqual(96 * 1024)
    expect(Number(v.tmp_kib)).toBeGreaterThan(90 * 1024)
    expect(v.shm).toBe('refused') // one bound for all of it
    expect(result.tmpfs?.sizeBytes).toBe(96 * 2 ** 20)
    expect(result.caps.hit.map((h) => h.cap)).toContain('tmpfs')
  })

  it('has a bound by default: the memory cap, else a share of RAM per CPU', async () => {
    const { v } = await inside("echo kib=$(df -k /tmp | awk 'NR == 2 {print $2}')")
    expect(Number(v.kib) * 1024).toBe(defaultBounds().tmpfsBytes)
    const capped = await inside("echo kib=$(df -k /tmp | awk 'NR == 2 {print $2}')", { memory: '300M' })
    expect(Number(capped.v.kib)).toBe(300 * 1024)
  })

  it('stops a fork bomb at the default pids cap, and says so', async () => {
    const events = delegableCgroups
      ? '/sys/fs/cgroup/pids.events'
      : '/sys/fs/cgroup/pids$(grep :pids: /proc/self/cgroup | cut -d: -f3)/pids.events'
    const { result } = await inside(
      // run it until the kernel refused a fork (polled with shell builtins: nothing here can fork then)
      `$PROBE forkbomb & ev=${events}; while read -r _ n < $ev; [ "$n" = 0 ]; do :; done; exit 0`,
      { memory: '1G' },
    )
    expect(result.caps.limits.pids).toBe(defaultBounds().pids)
    expect(result.caps.enforced.pids).toBe(true)
    expect(result.caps.hit.find((h) => h.cap === 'pids')?.limit).toBe(defaultBounds().pids)
    // thousands left behind: the first 256 listed, all killed, and the list says it is cut
    expect(result.leaked).toHaveLength(256)
    expect(result.leaksTruncated).toBe(true)
  })

  it('closes what the runner did not mean it to have: an inherited fd is gone inside, the IPC channel stays', async () => {
    const { prepareSandbox } = await import('../../dist/index.js')
    const witness = join(dir.path, 'fd-witness')
    writeFileSync(witness, 'secret\n')
    const fd = openSync(witness, 'r')
    const run = (env: Record<string, string>) => {
      const launch = prepareSandbox({ cwd: project }, { statusFd: 3 })
      // the file at fd 4 of the launcher, as a runner's stray descriptor would be
      const r = spawnSync(
        launch.file,
        [...launch.args, 'sh', '-c', 'test -e /proc/self/fd/4 && echo open || echo closed'],
        {
          stdio: ['ignore', 'pipe', 'inherit', 'pipe', fd],
          env: { ...process.env, ...launch.env, ...env },
          encoding: 'utf8',
        },
      )
      void launch.abandon()
      return r.stdout.trim()
    }
    try {
      expect(run({})).toBe('closed')
      expect(run({ NODE_CHANNEL_FD: '4' })).toBe('open') // a Node runner's IPC channel is meant for its worker
    } finally {
      closeSync(fd)
    }
  })

  it('refuses a reset asked for by anything but the worker (reuse mode), and puts the attempt on record', async () => {
    const { prepareSandbox, startSandbox } = await import('../../dist/index.js')
    const statusFile = join(dir.path, 'reset-status')
    const launch = prepareSandbox({ cwd: project }, { statusFile }, { extraLauncherArgs: ['--reuse'] })
    const run = () =>
      spawnSync(
        launch.file,
        [
          ...launch.args,
          '/bin/bash',
          '-c',
          // a child asks (it is not the worker), then the worker asks and reads its one answer
          '(printf R >&$NS_ISOLATED_RESET_FD) & child=$!; wait $child; echo child=$child; printf R >&$NS_ISOLATED_RESET_FD; read -r line <&$NS_ISOLATED_RESET_FD; echo "answer=$line"',
        ],
        { env: { ...process.env, ...launch.env }, encoding: 'utf8', cwd: project },
      )
    let r = { stdout: '', status: null as number | null }
    await startSandbox(launch, () => {
      r = run()
      return { exited: Promise.resolve({ code: r.status, signal: null }) }
    }).result
    const status = readFileSync(statusFile, 'utf8')
    rmSync(statusFile)
    const child = /child=(\d+)/.exec(r.stdout)?.[1]
    expect(r.stdout).toMatch(/answer=\{"v":1,"reset":/)
    expect(status).toContain(`{"v":1,"resetRefused":{"pid":${child}}}`)
  })
})

describe('as an unprivileged user', () => {
  it('runs the command as you, with no capabilities, no_new_privs and the seccomp filter; a 0400 directory of yours refuses a write', () => {
    const { json, stderr } = runScript(
      `
      import { spawnSandbox } from '@dist/index.js'
      const s = spawnSandbox('/bin/sh', ['-c', ${JSON.stringify(
        [
          'echo uid=$(id -u) gid=$(id -g)',
          ...['CapEff', 'CapBnd', 'NoNewPrivs', 'Seccomp'].map(status),
          'mkdir /tmp/mine && chmod 400 /tmp/mine',
          attempt('write_0400', 'touch /tmp/mine/f'),
          attempt('etc', 'touch /etc/nsiso-rootless'),
          attempt('remount', 'mount -o remount,bind,rw /proc'),
          attempt('nested_mount', `unshare -Urm sh -c 'mount -t tmpfs x /mnt'`),
        ].join('; '),
      )}], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''; s.child.stdout.on('data', (d) => out += d)
      const r = await s.result
      console.log(JSON.stringify({ code: r.code, out }))
      `,
      { asNobody: true },
    )
    const j = json as { code: number; out: string }
    expect(j, stderr).toBeDefined()
    const v = Object.fromEntries(
      j.out
        .trim()
        .split(/\s+/)
        .map((l) => l.split('=') as [string, string]),
    )
    expect(v).toEqual({
      uid: '65534',
      gid: '65534',
      CapEff: '0000000000000000',
      CapBnd: DOCKER_MASK,
      NoNewPrivs: '1',
      Seccomp: '2',
      write_0400: 'refused', // as on the host: not uid 0 of a namespace, which could
      etc: 'refused',
      remount: 'refused',
      nested_mount: 'ok',
    })
  })

  it("with user: 'root', runs as uid 0 of its own namespace, which still cannot touch the sandbox's mounts", () => {
    const { json, stderr } = runScript(
      `
      import { spawnSandbox } from '@dist/index.js'
      const s = spawnSandbox('/bin/sh', ['-c', ${JSON.stringify(
        [
          'echo uid=$(id -u)',
          attempt('remount', 'mount -o remount,bind,rw /proc'),
          attempt('etc', 'touch /etc/x'),
        ].join('; '),
      )}], { stdio: ['ignore', 'pipe', 'inherit'], user: 'root' })
      let out = ''; s.child.stdout.on('data', (d) => out += d)
      await s.result
      console.log(JSON.stringify(out))
      `,
      { asNobody: true },
    )
    expect(json, stderr).toBe('uid=0\nremount=refused\netc=ok\n')
  })
})

describe('opt-in privileges', () => {
  it("capabilities: ['SYS_ADMIN'] lets mounts through; privileged: true gives everything", {
    tags: ['root'],
  }, async () => {
    const mounts = await inside(attempt('mount', 'mount -t tmpfs x /mnt'), { capabilities: ['SYS_ADMIN'] })
    expect(mounts.v.mount).toBe('ok')
    const all = await inside(['CapEff', 'Seccomp'].map(status).join('; '), { privileged: true })
    expect(all.v.Seccomp).toBe('0')
    expect(BigInt(`0x${all.v.CapEff}`) & capabilityMask(['SYS_ADMIN', 'SYS_MODULE'])).toBe(
      capabilityMask(['SYS_ADMIN', 'SYS_MODULE']),
    )
  })

  it('rejects an unknown capability name', () => {
    expect(() => runSandbox('/bin/true', [], { capabilities: ['NET_ADMIN', 'WIZARD'] })).toThrow(
      /option `capabilities\[1\]` must be a Linux capability name/,
    )
  })
})

describe('the launcher fails closed', { tags: ['root'] }, () => {
  /** Runs the launcher on a plan of our own; its status lines. */
  function launch(plan: string, command: string[]) {
    const r = spawnSync(launcherPath(), ['--status-fd', '3', '--', ...command], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...planEnv(plan) },
      encoding: 'utf8',
    })
    const status = String(r.output[3] ?? '')
    return {
      r,
      lines: status
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    }
  }

  it('a read-only step that fails fails the sandbox, with the step named', () => {
    const { r, lines } = launch('R\t/proc/no-such-mount\n', ['true'])
    expect(r.status).toBe(125)
    expect(lines[0]).toMatchObject({ setupError: { code: 'ENS_MOUNT_FAILED', step: 'make read-only' } })
  })

  it('a host with 500 mounts: every overlay is listed, the writes in the last one found', () => {
    const base = join('/var/tmp', `nsiso-many-${process.pid}-${'x'.repeat(40)}`)
    const dirs = Array.from({ length: 500 }, (_, i) => join(base, `mount-${String(i).padStart(3, '0')}`))
    for (const d of dirs) mkdirSync(d, { recursive: true })
    try {
      // A fake view of the host's mounts (500 of them); the files are real.
      const mountinfo = `${readFileSync('/proc/self/mountinfo', 'utf8')}${dirs
        .map((d, i) => `${9000 + i} 1 0:99 / ${d} rw - ext4 /dev/fake rw`)
        .join('\n')}\n`
      const plan = buildPlan(
        {
          strategy: 'root',
          hostname: 'many',
          network: 'loopback',
          writable: [],
          keep: [],
          cwd: '/',
          tmpfsBytes: 256 * 2 ** 20,
          cgroupfs: 'none',
          lockdown: null,
        },
        { ...realHost, mountinfo: () => mountinfo },
      )
      const last = dirs.at(-1) as string
      const { r, lines } = launch(plan.text, ['sh', '-c', `echo x > ${last}/written`])
      expect(r.status, r.stderr).toBe(0)
      const final = lines.find((l) => 'leaked' in l)
      expect(final.writes).toContainEqual({ path: `${last}/written`, kind: 'file' })
      expect(existsSync(`${last}/written`)).toBe(false)
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  })

  it('a writable directory made for a sandbox that failed is removed again', async () => {
    const made = join(dir.path, 'made', 'for', 'it')
    await expect(runSandbox('/no/such/command', [], { writable: [made], stdio: 'ignore' })).rejects.toMatchObject({
      code: 'ENS_COMMAND_NOT_FOUND',
    })
    expect(existsSync(join(dir.path, 'made'))).toBe(false)
  })
})
