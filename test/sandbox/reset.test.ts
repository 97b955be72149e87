// The launcher's reset (`--reuse`, what Jest's `isolation: 'reuse'` uses):
// on the worker's request PID 1 builds the sandbox's filesystem again from
// the host's files and pivots everyone into it. Proven from inside a real
// sandbox, as root and as nobody: what the command wrote, deleted or left
// behind is gone after the reset; a reset that cannot be done leaves the
// sandbox as it was; nothing piles up over many resets.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isRoot, mountCount, runScript, tempDir } from '../helpers.ts'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

/** The command: leaves state, asks for a reset, reports what it sees, then breaks the reset on purpose. */
const SCRIPT = `
set -u
ask() { printf R >&$NS_ISOLATED_RESET_FD; read -r line <&$NS_ISOLATED_RESET_FD; echo "$1=$line"; }
state() {
  echo "$1.victim=$(test -e victim && cat victim || echo gone)"
  echo "$1.made=$(test -e made && echo yes || echo no)"
  echo "$1.etc=$(test -e /etc/$MARK && echo yes || echo no)"
  echo "$1.tmp=$(ls /tmp | grep -c junk)"
  echo "$1.shm=$(ls /dev/shm | grep -c junk)"
  echo "$1.sysv=$(($(wc -l < /proc/sysvipc/shm) - 1))"
  echo "$1.hostname=$(hostname)"
  echo "$1.pwd=$(pwd)"
}
rm victim; echo x > made; echo 1 > /etc/$MARK; echo j > /tmp/junk; echo j > /dev/shm/junk
ipcmk -M 4096 > /dev/null; hostname changed-inside
echo "mounts.before=$(wc -l < /proc/self/mountinfo)"
state before
ask first
cd "$START"
state after
for i in $(seq 20); do echo $i > /etc/$MARK-$i; ask loop > /dev/null; done
cd "$START"
echo "mounts.after=$(wc -l < /proc/self/mountinfo)"
echo "loop.etc=$(ls /etc | grep -c "$MARK")"
# Break it: take the held host tree away (its cover, then itself). The reset
# must then fail before touching anything, and say why.
echo j > /tmp/junk
echo "held.mounts=$(grep -c ' /dev/.ns-isolated-host' /proc/self/mountinfo)"
umount -l /dev/.ns-isolated-host && umount -l /dev/.ns-isolated-host
ask broken
cd "$START"
echo "broken.tmp=$(ls /tmp | grep -c junk)"
echo "broken.mounts=$(wc -l < /proc/self/mountinfo)"
`

function run(asNobody: boolean) {
  const dir = tempDir()
  cleanups.push(dir.cleanup)
  writeFileSync(join(dir.path, 'victim'), 'host\n')
  const mark = `nsiso-reset-${process.pid}-${Date.now()}`
  const { json, stderr } = runScript(
    `
    import { prepareSandbox, startSandbox } from '@dist/index.js'
    import { spawnSync } from 'node:child_process'
    const statusFile = ${JSON.stringify(join(dir.path, 'status'))}
    // privileged: the script changes the hostname and breaks the reset on purpose (umount), which a test may not do
    const launch = prepareSandbox({ cwd: ${JSON.stringify(dir.path)}, privileged: true }, { statusFile }, { extraLauncherArgs: ['--reuse'] })
    let r
    const result = await startSandbox(launch, () => {
      r = spawnSync(launch.file, [...launch.args, '/bin/bash', '-c', ${JSON.stringify(SCRIPT)}], {
        cwd: ${JSON.stringify(dir.path)},
        env: { ...process.env, ...launch.env, MARK: ${JSON.stringify(mark)}, START: ${JSON.stringify(dir.path)} },
        encoding: 'utf8',
      })
      return { exited: Promise.resolve({ code: r.status, signal: r.signal }) }
    }).result
    const seen = Object.fromEntries(r.stdout.trim().split('\\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    console.log(JSON.stringify({ seen, stderr: r.stderr, code: result.code, writes: result.writes, sandbox: result.hostname }))
    `,
    { asNobody },
  )
  return {
    out: json as { seen: Record<string, string>; stderr: string; code: number; sandbox: string },
    stderr,
    mark,
    dir,
  }
}

describe.each([...(isRoot ? [['as root', false] as const] : []), ['rootless (as nobody)', true] as const])(
  'launcher reset (%s)',
  (_, asNobody) => {
    it('undoes writes, deletions, /tmp, /dev/shm, SysV IPC and the hostname; a broken reset changes nothing', () => {
      const mounts = mountCount()
      const { out, stderr, mark, dir } = run(asNobody)
      expect(out, stderr).toBeDefined()
      const s = out.seen
      expect(s, out.stderr).toMatchObject({
        'before.victim': 'gone',
        'before.made': 'yes',
        'before.etc': 'yes',
        'before.tmp': '1',
        'before.shm': '1',
        'before.sysv': '1',
        'before.hostname': 'changed-inside',
      })
      expect(JSON.parse(s.first ?? '')).toEqual({ v: 1, reset: { degraded: [], ipcRemoved: 1 } })
      // The working directory was under the host's /tmp: carried in copy-on-write, and again after the reset.
      expect(s).toMatchObject({
        'after.victim': 'host',
        'after.made': 'no',
        'after.etc': 'no',
        'after.tmp': '0',
        'after.shm': '0',
        'after.sysv': '0',
        'after.hostname': out.sandbox,
        'after.pwd': dir.path,
      })
      // 20 more: no mount piles up, and each reset undid the write before it
      expect(s['mounts.after']).toBe(s['mounts.before'])
      expect(s['loop.etc']).toBe('0')
      // Without the held tree the reset fails, says why, and leaves the sandbox as it was.
      const broken = JSON.parse(s.broken ?? '')
      expect(broken.setupError?.message, s.broken).toMatch(/^overlay .*: Invalid argument$|^bind .*: Invalid argument$/)
      expect(s['broken.tmp']).toBe('1')
      expect(Number(s['broken.mounts'])).toBe(Number(s['mounts.after']) - Number(s['held.mounts']))
      expect(out.code).toBe(0)
      // and the host never saw any of it
      expect(readFileSync(join(dir.path, 'victim'), 'utf8')).toBe('host\n')
      expect(existsSync(join(dir.path, 'made'))).toBe(false)
      expect(existsSync(`/etc/${mark}`)).toBe(false)
      expect(mountCount()).toBe(mounts)
    })
  },
)
