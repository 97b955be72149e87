// The `ns-isolated` command, run as a user runs it.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { dist, isRoot, tempDir, uniqueSleep } from '../helpers.ts'

const cli = (args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) =>
  spawnSync(process.execPath, [dist('cli/main.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: 60_000,
  })

describe('ns-isolated run', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    'relays %s to the command, waits for it, prints the report and exits with its status',
    async (signal) => {
      const child = spawn(
        process.execPath,
        [
          dist('cli/main.js'),
          'run',
          '--',
          'sh',
          '-c',
          `trap 'echo trapped; exit 7' ${signal.slice(3)}; sleep ${uniqueSleep()} & echo ready; wait`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let out = ''
      let err = ''
      child.stderr.on('data', (d) => {
        err += d
      })
      await new Promise<void>((ready) =>
        child.stdout.on('data', (d) => {
          out += d
          if (out.includes('ready')) ready()
        }),
      )
      child.kill(signal)
      // 'close', not 'exit': the last output may still be in the pipe when the exit is known.
      const [code, killedBy] = await new Promise<[number | null, string | null]>((r) =>
        child.once('close', (c, s) => r([c, s])),
      )
      // One comparison, so a failure shows all the CLI did (its report is on stderr).
      expect({ out, code, killedBy, err }).toMatchObject({ out: 'ready\ntrapped\n', code: 7, killedBy: null })
      expect(err).toMatch(/ns-isolated: exit 7 in .*\n[\s\S]*leaked 1 process/)
    },
  )

  it('names a leak by the command it runs once its exec is done (a shell backgrounding setsid sleep), 20 of 20 times', () => {
    const sleep = uniqueSleep()
    const names = Array.from({ length: 20 }, () => {
      const r = cli([
        'run',
        '--json',
        '--',
        'sh',
        '-c',
        `setsid sleep ${sleep} </dev/null >/dev/null 2>&1 & echo started`,
      ])
      return (JSON.parse(r.stderr) as { leaked: { command: string }[] }).leaked.map((l) => l.command).join(' | ')
    })
    expect(names).toEqual(Array(20).fill(`sleep ${sleep}`))
  })

  it('--json-file that cannot be written fails before the command runs, with a code', () => {
    const dir = tempDir()
    const mark = join(dir.path, 'ran')
    const r = cli(['run', '--json-file', join(dir.path, 'no/such/dir/r.json'), '--', 'sh', '-c', `touch ${mark}`])
    dir.cleanup()
    expect(r.status).toBe(125)
    expect(r.stderr).toMatch(/cannot write the --json-file .*\(ENOENT\)/)
    expect(r.stderr).toContain('[ENS_REPORT_UNWRITABLE]')
  })

  it('a working directory that is gone gives a code, not a stack trace', () => {
    const dir = tempDir()
    const gone = join(dir.path, 'gone')
    mkdirSync(gone)
    const r = spawnSync(
      'sh',
      ['-c', `cd ${gone} && rmdir ${gone} && exec "$0" "$1" run -- true`, process.execPath, dist('cli/main.js')],
      {
        encoding: 'utf8',
      },
    )
    dir.cleanup()
    expect(r.status).toBe(125)
    expect(r.stderr).toContain('[ENS_CWD_UNAVAILABLE]')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('--hostname takes the kernel’s 64 characters, and no more', () => {
    const long = 'a'.repeat(64)
    const r = cli(['run', '-q', '--hostname', long, '--', 'hostname'])
    expect(r.stdout).toBe(`${long}\n`)
    const over = cli(['run', '-q', '--hostname', `${long}b`, '--', 'hostname'])
    expect(over.status).toBe(2)
    expect(over.stderr).toMatch(/option `hostname` must be a valid hostname/)
  })

  it('passes stdio through, exits with the command’s code, reports leaks and writes on stderr', () => {
    const mark = `/etc/nsiso-cli-${process.pid}`
    const r = cli([
      'run',
      '--hostname',
      'cli-box',
      '--',
      'sh',
      '-c',
      `hostname; echo x > ${mark}; (setsid sleep ${uniqueSleep()} &); sleep 0.1; exit 7`,
    ])
    expect(r.status).toBe(7)
    expect(r.stdout).toBe('cli-box\n')
    expect(r.stderr).toMatch(/exit 7 in .* \(host cli-box, network loopback/)
    expect(r.stderr).toMatch(/leaked 1 process \(all killed\):\n\s+pid \d+: sleep 1000\./)
    expect(r.stderr).toContain(mark)
    expect(existsSync(mark)).toBe(false)
  })

  it('--json gives the whole result; --json-file writes it', () => {
    const dir = tempDir()
    const file = join(dir.path, 'r.json')
    const r = cli(['run', '--json', '--json-file', file, '--network', 'none', '--', 'true'])
    expect(r.status).toBe(0)
    const j = JSON.parse(r.stderr)
    expect(j).toMatchObject({ code: 0, signal: null, network: 'none', leaked: [], writes: [] })
    expect(j.usage.source).toMatch(/cgroup|rusage/)
    expect(JSON.parse(readFileSync(file, 'utf8')).hostname).toBe(j.hostname)
    dir.cleanup()
  })

  it('--memory caps the sandbox and reports the OOM kill', { tags: ['root'] }, () => {
    const r = cli([
      'run',
      '--memory',
      '64M',
      '--',
      process.execPath,
      '-e',
      'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))',
    ])
    expect(r.status).toBe(128 + 9)
    expect(r.stderr).toMatch(/CAP HIT: exceeded memory cap 64 MiB: 1 process OOM-killed/)
  })

  it('exits 128+N when a signal ended the command', () => {
    const r = cli(['run', '--', 'sh', '-c', 'kill -TERM $$'])
    expect(r.status).toBe(128 + 15)
    expect(r.stderr).toMatch(/killed by SIGTERM/)
  })

  it('--node-modules: read-only by default (EROFS), overlay lets the write happen and vanish', {
    tags: ['root'],
  }, () => {
    const mark = `node_modules/.nsiso-cli-${process.pid}`
    const ro = cli(['run', '-q', '--', 'sh', '-c', `touch ${mark}`], {})
    expect(ro.status).toBe(1)
    expect(ro.stderr).toMatch(/Read-only file system/)
    const ov = cli(['run', '-q', '--node-modules', 'overlay', '--', 'sh', '-c', `touch ${mark} && test -e ${mark}`])
    expect(ov.status).toBe(0)
    expect(existsSync(mark)).toBe(false)
    const bad = cli(['run', '--node-modules', 'rw', '--', 'true'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/`nodeModules` must be one of 'read-only', 'overlay'; got 'rw'/)
  })

  it('bad options: exit 2 and the option named', () => {
    const r = cli(['run', '--network', 'bridge', '--', 'true'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/`network` must be one of 'loopback', 'none', 'host'; got 'bridge'/)
    const p = cli(['run', '--pids', 'many', '--', 'true'])
    expect(p.status).toBe(2)
    expect(p.stderr).toMatch(/`pids` must be a positive whole number; got 'many'/)
  })

  it('host problems: exit 125 with the code and the fix', () => {
    const r = cli(['run', '--', '/no/such/cmd'])
    expect(r.status).toBe(125)
    expect(r.stderr).toMatch(/ENS_COMMAND_NOT_FOUND/)
    const m = cli(['run', '--', 'true'], { env: { NS_ISOLATED_LAUNCHER: '/nonexistent' } })
    expect(m.status).toBe(125)
    expect(m.stderr).toMatch(/ENS_LAUNCHER_MISSING/)
  })
})

describe('ns-isolated doctor', () => {
  it('prints a table and exits 0 when everything needed works', () => {
    const r = cli(['doctor'])
    expect(r.stdout).toMatch(/operating system/)
    expect(r.stdout).toMatch(/cgroups/)
    expect(r.status, r.stdout).toBe(0)
    const j = JSON.parse(cli(['doctor', '--json']).stdout)
    const sandbox = j.find((c: { name: string }) => c.name.startsWith('sandbox'))
    // Rootless without a cgroup of its own (v1, or v2 not delegated), the default pids cap cannot be
    // set: the sandbox works, weakened, and doctor says so.
    if (isRoot) expect(sandbox.status).toBe('ok')
    else expect(sandbox.status === 'ok' || /weakened: no pids cap/.test(sandbox.detail), sandbox.detail).toBe(true)
  })

  it('its table fits the width and has no colours into a pipe; a terminal gets colours', () => {
    // CI as well: Node's hasColors() says no colours when CI is set (unless it names a known CI).
    const plain = { NO_COLOR: undefined, FORCE_COLOR: undefined, COLUMNS: undefined, CI: undefined }
    const widest = (text: string) => Math.max(...text.split('\n').map((l) => [...l].length))
    const piped = cli(['doctor'], { env: plain })
    expect(piped.stdout).not.toContain('\u001b[')
    expect(widest(piped.stdout)).toBeLessThanOrEqual(100)
    expect(widest(cli(['doctor'], { env: { ...plain, COLUMNS: '72' } }).stdout)).toBeLessThanOrEqual(72)
    // util-linux `script` gives it a terminal (80 columns unless told otherwise).
    const command = [process.execPath, dist('cli/main.js'), 'doctor'].map((a) => `'${a}'`).join(' ')
    const tty = spawnSync('script', ['-q', '-e', '-c', `stty cols 90; ${command}`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, ...plain, TERM: 'xterm-256color' },
      timeout: 60_000,
    })
    expect(tty.stdout).toContain('\u001b[1mcheck\u001b[22m')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the colour codes are not part of the width
    expect(widest(tty.stdout.replace(/\u001b\[[0-9;]*m/g, '').replaceAll('\r', ''))).toBeLessThanOrEqual(90)
  })

  it('exits 1 and names the fix when the launcher is missing', () => {
    const r = cli(['doctor'], { env: { NS_ISOLATED_LAUNCHER: '/nonexistent' } })
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/launcher binary/)
    expect(r.stdout).toMatch(/NS_ISOLATED_LAUNCHER/)
  })
})

describe('ns-isolated demo', { tags: ['root'] }, () => {
  it('shows isolation and a usage report, and exits 0', () => {
    const r = cli(['demo'])
    expect(r.status, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/my pid is 2 \(the launcher is pid 1\)/)
    expect(r.stdout).toMatch(/exists on the host\? no/)
    expect(r.stdout).toMatch(/leaked process reported and killed: pid \d+ "sleep 300"/)
    expect(r.stdout).toMatch(/demo-a: listening on 127.0.0.1:3000/)
    expect(r.stdout).toMatch(/demo-b: listening on 127.0.0.1:3000/)
    expect(r.stdout).toMatch(/peak memory/)
  })
})
