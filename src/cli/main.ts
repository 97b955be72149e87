#!/usr/bin/env node
/**
 * The `ns-isolated` command: `run` a command in a sandbox, `doctor` the host,
 * `demo` what isolation looks like.
 */
import { writeFileSync } from 'node:fs'
import { constants } from 'node:os'
import Table from 'cli-table3'
import { Command, type CommanderError, Option } from 'commander'
import { NsIsolatedError } from '../errors.ts'
import { assertNodeSupported } from '../host/node-version.ts'
import { runSandbox } from '../host/spawn.ts'
import { packageVersion } from '../launcher/build.ts'
import type { SandboxOptions } from '../options.ts'
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
  .passThroughOptions()
  .action(async (command: string[], opts: Record<string, unknown>) => {
    const [cmd, ...args] = command
    const options: SandboxOptions = {
      network: opts.network as SandboxOptions['network'],
      writable: opts.writable as string[],
    }
    if (opts.hostname !== undefined) options.hostname = opts.hostname as string
    if (opts.memory !== undefined) options.memory = opts.memory as string
    if (opts.pids !== undefined) options.pids = opts.pids as number
    if (opts.cpu !== undefined) options.cpu = opts.cpu as number
    if (opts.timeout !== undefined) options.timeout = opts.timeout as number
    if (opts.mode !== undefined) options.mode = opts.mode as SandboxOptions['mode']
    if (opts.nodeModules !== undefined) options.nodeModules = opts.nodeModules as SandboxOptions['nodeModules']
    if (opts.allowUncapped) options.unenforceable = 'warn'
    let result: Awaited<ReturnType<typeof runSandbox>>
    try {
      result = await runSandbox(cmd as string, args, options)
    } catch (e) {
      if (NsIsolatedError.is(e) && e.details.result) {
        process.stderr.write(formatRunReport(e.details.result as typeof result))
      }
      fatal(e)
    }
    if (opts.jsonFile) writeFileSync(opts.jsonFile as string, `${JSON.stringify(result, null, 2)}\n`)
    if (opts.json) process.stderr.write(`${JSON.stringify(result)}\n`)
    else if (!opts.quiet || result.leaked.length) process.stderr.write(formatRunReport(result))
    if (result.signal) process.exit(128 + (constants.signals[result.signal] ?? 0))
    process.exit(result.code ?? 1)
  })

program
  .command('doctor')
  .description('check what this host supports and print the fix for what it does not')
  .option('--json', 'print the checks as JSON')
  .action(async (opts: { json?: boolean }) => {
    const checks: Check[] = await runChecks()
    if (opts.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`)
    else {
      const table = new Table({ head: ['check', 'status', 'detail'], wordWrap: true, colWidths: [34, 8, 70] })
      for (const c of checks) table.push([c.name, c.status, c.fix ? `${c.detail}\nfix: ${c.fix}` : c.detail])
      process.stdout.write(`${table.toString()}\n`)
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
