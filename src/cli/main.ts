#!/usr/bin/env node
/**
 * The `ns-isolated` command: `run` a command in a sandbox, `doctor` the host,
 * `demo` what isolation looks like.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { constants } from 'node:os'
import { Command, type CommanderError, Option } from 'commander'
import { ErrorCodes, NsIsolatedError } from '../errors.ts'
import { assertNodeSupported } from '../host/node-version.ts'
import type { SandboxResult } from '../host/prepare.ts'
import { spawnSandbox } from '../host/spawn.ts'
import { packageVersion } from '../launcher/build.ts'
import type { SandboxOptions } from '../options.ts'
import { formatTable, formatUsageTable, toJson } from '../report/format.ts'
import { mergeRunReports } from '../report/merge.ts'
import { buildLauncher } from './build-launcher.ts'
import { runDemo } from './demo.ts'
import { type Check, runChecks } from './doctor.ts'
import { formatRunReport } from './format-result.ts'

/** Numbers stay strings when they are not numbers, so the one validator names the mistake. */
const numberish = (v: string): number | string => (/^\d+(\.\d+)?$/.test(v) ? Number(v) : v)
const collect = (v: string, all: string[]) => [...all, v]

function fatal(e: unknown): never {
  if (NsIsolatedError.is(e)) {
    process.stderr.write(`${e.message}\n  [${e.code}]\n`)
    process.exit(125)
  }
  if (e instanceof TypeError) {
    process.stderr.write(`${e.message}\n`)
    process.exit(2)
  }
  throw e
}

function jsonFileError(path: string, e: unknown): NsIsolatedError {
  const code = (e as NodeJS.ErrnoException).code ?? String(e)
  return new NsIsolatedError(
    ErrorCodes.REPORT_UNWRITABLE,
    `ns-isolated: cannot write the --json-file ${path} (${code}): name a file in a directory you can write.`,
    { syscallCode: code, cause: e, details: { path } },
  )
}

const program = new Command('ns-isolated')
  .description('Run commands and test files in fresh Linux namespaces over a copy-on-write root.')
  .version(packageVersion(), '-V, --version', 'print the version')
  .enablePositionalOptions()
  .showHelpAfterError()
  // Usage mistakes (an unknown option, a missing argument) exit 2 like the
  // options the validator rejects; --help and --version exit 0. Set before the
  // commands are added, so they inherit it.
  .exitOverride((e: CommanderError) => {
    process.exit(e.exitCode === 0 ? 0 : 2)
  })
  // doctor diagnoses any Node (it reports this as a failed check); the rest refuse an old one at once.
  .hook('preAction', (_program, command) => {
    if (command.name() === 'doctor') return
    try {
      assertNodeSupported()
    } catch (e) {
      fatal(e)
    }
  })

program
  .command('run')
  .description('run a command in a fresh sandbox; exits with its code and reports what it leaked and wrote')
  .argument('<command...>', 'the command and its arguments (put them after --)')
  .addOption(
    new Option('--network <mode>', 'loopback: own lo up; none: lo down; host: share the host network').default(
      'loopback',
    ),
  )
  .option('--hostname <name>', 'hostname inside (default: ns-isolated-<random>)')
  .option('--writable <path>', 'a host path whose writes persist (repeatable)', collect, [])
  .option('--memory <size>', 'memory cap, e.g. 512M, 2G')
  .option('--pids <n>', 'cap on processes and threads', numberish)
  .option('--cpu <cores>', 'CPU cap in cores, e.g. 0.5', numberish)
  .option('--timeout <ms>', 'kill the sandbox after this many ms', numberish)
  .option('--mode <mode>', 'auto, root or rootless')
  .option(
    '--node-modules <mode>',
    'read-only (default): node_modules bound read-only from the host; overlay: copy-on-write like the rest',
  )
  .option('--allow-uncapped', 'run uncapped (with a warning) where caps cannot be enforced')
  .option('--json', 'print the result as JSON on stderr instead of the short report')
  .option('--json-file <path>', 'also write the result as JSON to this file')
  .option('-q, --quiet', 'no report unless something leaked')
  .option(
    '--tmpfs-size <size>',
    'bound of what the sandbox writes outside its writable paths, e.g. 512M (default: the memory cap, else RAM / (2 × CPUs))',
  )
  .option('--user <who>', "rootless: self (default: your uid and gid) or root (uid 0 of the sandbox's user namespace)")
  .option('--cap-add <name>', 'keep a capability on top of the default set, e.g. NET_ADMIN (repeatable)', collect, [])
  .option(
    '--privileged',
    'all capabilities, no seccomp filter: the command can undo the sandbox (see docs/security.md)',
  )
  .option(
    '--no-namespaces',
    'no namespaces (hosts that refuse them): leaks still reported and killed, caps and figures from a cgroup where possible',
  )
  .passThroughOptions()
  .action(async (command: string[], opts: Record<string, unknown>) => {
    const [cmd, ...args] = command
    const options: SandboxOptions = {
      network: opts.network as SandboxOptions['network'],
      writable: opts.writable as string[],
    }
    if (opts.tmpfsSize !== undefined) options.tmpfsSize = opts.tmpfsSize as string
    if (opts.user !== undefined) options.user = opts.user as SandboxOptions['user']
    if ((opts.capAdd as string[]).length) options.capabilities = opts.capAdd as string[]
    if (opts.privileged) options.privileged = true
    if (opts.namespaces === false) options.namespaces = false
    if (opts.hostname !== undefined) options.hostname = opts.hostname as string
    if (opts.memory !== undefined) options.memory = opts.memory as string
    if (opts.pids !== undefined) options.pids = opts.pids as number
    if (opts.cpu !== undefined) options.cpu = opts.cpu as number
    if (opts.timeout !== undefined) options.timeout = opts.timeout as number
    if (opts.mode !== undefined) options.mode = opts.mode as SandboxOptions['mode']
    if (opts.nodeModules !== undefined) options.nodeModules = opts.nodeModules as SandboxOptions['nodeModules']
    if (opts.allowUncapped) options.unenforceable = 'warn'
    const jsonFile = opts.jsonFile as string | undefined
    if (jsonFile !== undefined) {
      // Found out now, not after a long run whose result would then be lost.
      try {
        closeSync(openSync(jsonFile, 'a'))
      } catch (e) {
        fatal(jsonFileError(jsonFile, e))
      }
    }
    let result: SandboxResult
    // Ending the CLI ends the command the way it asked: the signal goes to
    // it (PID 1 relays it), and we wait for its report and its status.
    // (Ctrl-C at a terminal already reaches the command: the kernel signals the whole foreground group.)
    // Listening before the spawn (a handler runs only once it returns): on a
    // loaded machine the command can start, and be signalled through us,
    // before the statement after the spawn runs.
    let sandbox: ReturnType<typeof spawnSandbox> | undefined
    const relay = (signal: NodeJS.Signals) => {
      if (signal !== 'SIGINT' || !process.stdin.isTTY) sandbox?.kill(signal)
    }
    const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const
    for (const signal of signals) process.on(signal, relay)
    try {
      sandbox = spawnSandbox(cmd as string, args, options)
      result = await sandbox.result
    } catch (e) {
      if (NsIsolatedError.is(e) && e.details.result) {
        process.stderr.write(formatRunReport(e.details.result as SandboxResult))
      }
      fatal(e)
    } finally {
      for (const signal of signals) process.off(signal, relay)
    }
    if (opts.json) process.stderr.write(`${JSON.stringify(result)}\n`)
    else if (!opts.quiet || result.leaked.length) process.stderr.write(formatRunReport(result))
    const status = result.signal ? 128 + (constants.signals[result.signal] ?? 0) : (result.code ?? 1)
    if (jsonFile !== undefined) {
      try {
        writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`)
      } catch (e) {
        const err = jsonFileError(jsonFile, e)
        process.stderr.write(`${err.message}\n  [${err.code}]\n`)
      }
    }
    process.exit(status)
  })

program
  .command('doctor')
  .description('check what this host supports and print the fix for what it does not')
  .option('--json', 'print the checks as JSON')
  .action(async (opts: { json?: boolean }) => {
    const checks: Check[] = await runChecks()
    if (opts.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`)
    else {
      const style = { ok: undefined, info: undefined, warn: 'yellow', fail: 'red' } as const
      const rows = checks.map((c) => [
        c.name,
        { text: c.status, style: style[c.status] },
        c.fix ? `${c.detail}\nfix: ${c.fix}` : c.detail,
      ])
      process.stdout.write(`${formatTable(['check', 'status', 'detail'], rows, { wrap: [0, 2], compact: false })}\n`)
    }
    const failed = checks.filter((c) => c.required && c.status === 'fail')
    if (!opts.json) {
      process.stdout.write(
        failed.length
          ? `\n${failed.length} required check(s) failed.\n`
          : '\nEverything ns-isolated needs works here.\n',
      )
    }
    process.exit(failed.length ? 1 : 0)
  })

program
  .command('demo')
  .description('show isolation: pid 1, own hostname, /etc writes that vanish, a leaked daemon, two servers on one port')
  .action(async () => {
    try {
      process.exit(await runDemo())
    } catch (e) {
      fatal(e)
    }
  })

const report = program.command('report').description('work with usage reports (the JSON the runners write)')
report
  .command('merge')
  .description(
    'merge the usage reports of a sharded run (jest --shard=i/n, one report each) into one, printed as JSON on stdout',
  )
  .argument('<reports...>', 'the JSON reports, e.g. shard-*.json')
  .option('--table', 'also print the usage table of the whole run on stderr')
  .option('--partial', 'merge even when shards are missing')
  .action((files: string[], opts: { table?: boolean; partial?: boolean }) => {
    const inputs = files.map((name) => {
      try {
        return { name, text: readFileSync(name, 'utf8') }
      } catch (e) {
        return fatal(
          new TypeError(
            `ns-isolated report merge: cannot read ${name} (${(e as NodeJS.ErrnoException).code ?? String(e)}).`,
          ),
        )
      }
    })
    try {
      const merged = mergeRunReports(inputs, { partial: opts.partial === true })
      process.stdout.write(toJson(merged))
      if (opts.table) process.stderr.write(formatUsageTable(merged))
    } catch (e) {
      fatal(e)
    }
  })

program
  .command('build-launcher')
  .description(
    "compile the launcher from its shipped source for this machine's arch (when no prebuilt one matches); needs a C compiler",
  )
  .option('--cc <compiler>', 'the C compiler (default: $CC, else cc)')
  .option('--out <path>', "where to write it (default: the package's prebuilds directory, else your cache)")
  .action((opts: { cc?: string; out?: string }) => {
    process.exit(buildLauncher(opts))
  })

program.parseAsync().catch(fatal)
