// A reused sandbox started before its writable paths are known (Jest's
// first worker, started while Jest reads its config) gets a new plan from
// the host over the launcher's control socket (`--control-fd`), and PID 1
// rebuilds its filesystem from it. Proven from inside a real sandbox, as
// root and as nobody: a path made writable by the new plan reaches the
// host, what the command wrote before is gone, and the command never holds
// the control socket, so it cannot send a plan of its own.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isRoot, mountCount, runScript, tempDir } from '../helpers.ts'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

/** The command: writes before and after the host's new plan, and lists the sockets it holds. */
const SCRIPT = `
set -u
echo x > "$W/before"
echo "before.inside=$(cat "$W/before")"
sockets=0
for f in /proc/$$/fd/*; do
  case "\${f##*/}" in 0|1|2|"$NS_ISOLATED_RESET_FD") continue;; esac
  case "$(readlink "$f")" in socket:*) sockets=$((sockets+1));; esac
done
echo "sockets=$sockets"
pid1=0
for f in /proc/1/fd/*; do readlink "$f" > /dev/null 2>&1 && pid1=$((pid1+1)); done
echo "pid1fds=$pid1"
echo ready
read -r go
cd "$START"
echo y > "$W/after"
echo "after.before=$(test -e "$W/before" && echo kept || echo gone)"
echo "mounts.after=$(wc -l < /proc/self/mountinfo)"
`

function run(asNobody: boolean) {
  const dir = tempDir()
  cleanups.push(dir.cleanup)
  const w = join(dir.path, 'snapshots')
  const { json, stderr } = runScript(
    `
    import { prepareSandbox, replanSandbox, startSandbox } from '@dist/index.js'
    import { spawn } from 'node:child_process'
    import { mkdirSync } from 'node:fs'
    mkdirSync(${JSON.stringify(w)}, { recursive: true })
    const statusFile = ${JSON.stringify(join(dir.path, 'status'))}
    const launch = prepareSandbox({ cwd: ${JSON.stringify(dir.path)} }, { statusFile }, { extraLauncherArgs: ['--reuse', '--control-fd', '4'] })
    let refused
    try { await replanSandbox(launch, undefined, { writable: ['/proc/1'], keep: [] }) } catch (e) { refused = e.code }
    let child
    let out = ''
    let replanned, env
    const exited = new Promise((resolve) => {
      child = spawn(launch.file, [...launch.args, '/bin/bash', '-c', ${JSON.stringify(SCRIPT)}], {
        cwd: ${JSON.stringify(dir.path)},
        env: { ...process.env, ...launch.env, W: ${JSON.stringify(w)}, START: ${JSON.stringify(dir.path)} },
        stdio: ['pipe', 'pipe', 'inherit', 'ignore', 'pipe'],
      })
      child.on('exit', (code, signal) => resolve({ code, signal }))
    })
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', async (d) => {
      out += d
      if (replanned === undefined && out.includes('ready\\n')) {
        replanned = 'pending'
        env = await replanSandbox(launch, child.stdio[4], { writable: [${JSON.stringify(w)}], keep: [] })
        replanned = 'done'
        child.stdin.write('go\\n')
      }
    })
    const result = await startSandbox(launch, () => ({ exited })).result
    const seen = Object.fromEntries(out.trim().split('\\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    console.log(JSON.stringify({ seen, refused, replanned, planInEnv: Object.keys(env ?? {}).some((k) => k.startsWith('NS_ISOLATED_PLAN')) && env.NS_ISOLATED_PLAN.includes(${JSON.stringify(w)}), code: result.code }))
    `,
    { asNobody },
  )
  return {
    out: json as { seen: Record<string, string>; refused: string; replanned: string; planInEnv: boolean; code: number },
    stderr,
    w,
  }
}

describe.each([...(isRoot ? [['as root', false] as const] : []), ['rootless (as nobody)', true] as const])(
  'a new plan from the host (%s)',
  (_, asNobody) => {
    it('makes a path writable to the host and rebuilds the root; the command holds no control socket', () => {
      const mounts = mountCount()
      const { out, stderr, w } = run(asNobody)
      expect(out, stderr).toBeDefined()
      // The paths of a new plan are checked as the option is.
      expect(out.refused).toBe('ENS_WRITABLE_KERNEL_FS')
      expect(out.replanned).toBe('done')
      expect(out.code).toBe(0)
      // Before: the write stayed in the sandbox's copy-on-write root.
      expect(out.seen['before.inside']).toBe('x')
      expect(existsSync(join(w, 'before'))).toBe(false)
      // After: the path is the host's, and the old root's write is gone with it.
      expect(readFileSync(join(w, 'after'), 'utf8')).toBe('y\n')
      expect(out.seen['after.before']).toBe('gone')
      // No socket beyond its stdio and the reset socket every reused sandbox has (the control socket was the launcher's fd 4); PID 1's fds out of reach.
      expect(out.seen.sockets).toBe('0')
      expect(out.seen.pid1fds).toBe('0')
      // A launcher started again (a restarted worker) gets the new plan.
      expect(out.planInEnv).toBe(true)
      expect(mountCount()).toBe(mounts)
      writeFileSync(join(w, 'after'), '') // (removed with the temp dir)
    })
  },
)
