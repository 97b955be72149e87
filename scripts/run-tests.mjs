#!/usr/bin/env node
// `npm test`, in stages, each counted:
//   suite        our tests (vitest, test/**)
//   examples     examples/vitest, examples/vitest-per-test and examples/jest, as a user runs them;
//                examples/vitest-app stock and isolated, the per-test statuses
//                compared (as root, again as nobody: its permission test runs
//                only as an ordinary user)
//                examples/jest-app stock and isolated, each test's status compared
//   install      the release tarballs (scripts/pack.mjs) installed from the
//                registry into new projects, with Vitest 4 and 5, Jest 29 and 30
//                (vitest.install.config.ts)
//   compat       the Vitest and Jest e2e tests again, their fixture projects on
//                the previous majors (Vitest 4, Jest 29) installed from the tarballs
//   cgroup v2    test/v2 in a VM with a real pure-v2 kernel (skipped, the
//                reason named, where the VM cannot run)
// then every skipped test with its reason, one line per stage, and the closing
// line `tests: N passed, N failed, N skipped`. With arguments
// (`npm test -- test/cli`), only the suite runs, with them. `--v2`
// (`npm run test:v2`): the cgroup v2 suite alone; arguments after it go to its
// Vitest.
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'ns-isolated-results-'))
// Readable by all: the compat stage's node_modules are in it, and its rootless tests run as nobody.
chmodSync(dir, 0o755)
const vitest = join(root, 'node_modules/.bin/vitest')
const skipsReporter = join(root, 'scripts/lib/skips-reporter.mjs')
const stages = []
const skipped = []
const failures = []
const v2Only = process.argv[2] === '--v2'
const args = process.argv.slice(v2Only ? 3 : 2)
const onlySuite = !v2Only && args.length > 0

/** Counts one stage from its JSON results (Vitest's or Jest's --json); a stage without results failed. */
function count(name, file, exit) {
  const stage = { name, passed: 0, failed: 0, skipped: 0, note: '' }
  stages.push(stage)
  if (!existsSync(file)) {
    stage.failed = 1
    stage.note = ` (no results: the runner exited ${exit.status ?? exit.signal}; counted as 1 failure)`
    return
  }
  const j = JSON.parse(readFileSync(file, 'utf8'))
  stage.passed = j.numPassedTests
  stage.failed = j.numFailedTests
  stage.skipped = j.numPendingTests + (j.numTodoTests ?? 0)
  // A test file that failed to load counts as a failure even with no test in it.
  const broken = j.testResults.filter((f) => f.status === 'failed' && (f.assertionResults?.length ?? 0) === 0)
  stage.failed += broken.length
  // Named again at the end, where a CI log's tail shows them.
  const firstLines = (messages) =>
    (messages ?? [])
      .join('\n')
      .split('\n')
      .filter((l) => l.trim() && !/^\s*at (.*node_modules|new Promise|process\.)/.test(l))
      .slice(0, 6)
  for (const f of j.testResults) {
    const file = relative(root, f.name)
    if (broken.includes(f)) failures.push({ stage: name, file, name: '(the file)', lines: firstLines([f.message]) })
    for (const a of f.assertionResults ?? [])
      if (a.status === 'failed')
        failures.push({ stage: name, file, name: a.fullName, lines: firstLines(a.failureMessages) })
  }
  if (exit.status !== 0 && stage.failed === 0) {
    stage.failed = 1
    stage.note = ` (the runner exited ${exit.status ?? exit.signal} with no failed test: counted as 1 failure)`
  }
  return j
}

/** Runs Vitest as one stage; returns its JSON results (undefined when there are none). */
function runVitest(name, args, { cwd = root, env = {}, command = [vitest, 'run'], results = dir } = {}) {
  const slug = name.replace(/[^a-z0-9]+/gi, '-')
  const json = join(results, `${slug}.json`)
  const skips = join(results, `${slug}-skips.json`)
  console.log(`\n=== ${name}`)
  const [cmd, ...pre] = command
  const exit = spawnSync(
    cmd,
    [
      ...pre,
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${json}`,
      `--reporter=${skipsReporter}`,
      ...args,
    ],
    { stdio: 'inherit', cwd, env: { ...process.env, NS_ISOLATED_SKIPS_FILE: skips, ...env } },
  )
  const j = count(name, json, exit)
  if (existsSync(skips)) for (const s of JSON.parse(readFileSync(skips, 'utf8'))) skipped.push({ stage: name, ...s })
  return j
}

/** Each test's status in Vitest's JSON results, by file (relative to `base`) and full name. */
function statuses(results, base) {
  const out = new Map()
  for (const f of results?.testResults ?? [])
    for (const a of f.assertionResults) out.set(`${f.name.slice(base.length + 1)} > ${a.fullName}`, a.status)
  return out
}

/**
 * examples/vitest-app run stock and isolated (its two configs): one stage
 * each, and a third, one check, that passes when every test has the same
 * status in both.
 * `as`: a label and a command prefix (setpriv) to run them as another user,
 * from a copy of the example that user owns.
 */
function exampleApp(as) {
  const label = as ? ` as ${as.label}` : ''
  let cwd = join(root, 'examples/vitest-app')
  let results = dir
  let command = [vitest, 'run']
  if (as) {
    // A copy that user owns, its node_modules the repository's; results where it may write. Vite's
    // native config loader: bundling the config would write into the repository's node_modules.
    const copy = join(dir, `vitest-app-${as.label}`)
    cpSync(cwd, copy, { recursive: true, filter: (src) => !src.includes('/node_modules') })
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'))
    results = join(copy, '.results')
    mkdirSync(results)
    spawnSync('chown', ['-R', `${as.uid}:${as.uid}`, copy])
    cwd = copy
    command = [
      ...as.prefix,
      process.execPath,
      join(root, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--configLoader',
      'native',
    ]
  }
  const env = as ? { HOME: cwd, TMPDIR: results } : {}
  const stock = runVitest(`examples/vitest-app stock${label}`, ['--config', 'vitest.stock.config.ts'], {
    cwd,
    results,
    command,
    env,
  })
  const isolated = runVitest(`examples/vitest-app isolated${label}`, ['--config', 'vitest.config.ts'], {
    cwd,
    results,
    command,
    env,
  })
  const a = statuses(stock, cwd)
  const b = statuses(isolated, cwd)
  const names = [...new Set([...a.keys(), ...b.keys()])].sort()
  const differ = names.filter((n) => a.get(n) !== b.get(n))
  // One check: the same status for every test.
  const same = names.length > 0 && differ.length === 0
  let note = ` (${names.length} tests compared)`
  for (const n of differ) note += `\n  ${n}: stock ${a.get(n) ?? 'absent'}, isolated ${b.get(n) ?? 'absent'}`
  stages.push({
    name: `examples/vitest-app stock = isolated${label}`,
    passed: same ? 1 : 0,
    failed: same ? 0 : 1,
    skipped: 0,
    note,
  })
}

/**
 * A Jest example run stock and isolated: counted from the isolated run, and
 * each test whose status differs from stock's is a failure.
 */
function exampleStockAndIsolated(name, stockConfig, isolatedConfig, skipReason) {
  console.log(`\n=== ${name} (stock, then isolated)`)
  const cwd = join(root, name)
  const slug = name.replace(/[^a-z0-9]+/gi, '-')
  const run = (config, json) =>
    spawnSync(join(root, 'node_modules/.bin/jest'), ['-c', config, '--json', `--outputFile=${json}`], {
      stdio: 'inherit',
      cwd,
    })
  const stockJson = join(dir, `${slug}-stock.json`)
  const isolatedJson = join(dir, `${slug}.json`)
  run(stockConfig, stockJson)
  const results = count(name, isolatedJson, run(isolatedConfig, isolatedJson))
  const stage = stages.at(-1)
  const statuses = (j) =>
    new Map(j.testResults.flatMap((f) => f.assertionResults.map((t) => [`${f.name} > ${t.fullName}`, t.status])))
  const stock = existsSync(stockJson) ? statuses(JSON.parse(readFileSync(stockJson, 'utf8'))) : new Map()
  const isolated = results ? statuses(results) : new Map()
  const differ = [...new Set([...stock.keys(), ...isolated.keys()])].filter((k) => stock.get(k) !== isolated.get(k))
  for (const k of differ) console.log(`${name}: ${k}: stock ${stock.get(k)}, isolated ${isolated.get(k)}`)
  if (differ.length > 0) {
    stage.failed += differ.length
    stage.note += ` (${differ.length} test${differ.length === 1 ? '' : 's'} with another status than stock's)`
  }
  for (const [k, status] of isolated) {
    const [file, ...test] = k.split(' > ')
    if (status === 'pending' || status === 'todo')
      skipped.push({ stage: name, file, name: test.join(' > '), reason: skipReason })
  }
}

/** Why the v2 VM cannot run here, or undefined. */
function v2Unavailable() {
  if (process.getuid?.() !== 0) return 'not root (the VM runs the suite as root, and its packages install with apt-get)'
  const check = spawnSync('bash', [join(root, 'scripts/v2vm/assets.sh'), 'check'], { encoding: 'utf8' })
  if (check.status === 0) return undefined
  return check.stdout.trim() || check.stderr.trim() || `scripts/v2vm/assets.sh check exited ${check.status}`
}

/** The cgroup v2 suite inside the VM; where it cannot run, its tests count as skipped, with the reason. */
function v2Suite(v2Args) {
  const name = 'cgroup v2 (VM)'
  const why = v2Unavailable()
  if (why) {
    // Counted from the sources: its tests skip themselves off a pure-v2 host, and `vitest list` omits skipped ones.
    const dirV2 = join(root, 'test/v2')
    const tests = readdirSync(dirV2)
      .filter((f) => f.endsWith('.test.ts'))
      .reduce((n, f) => n + (readFileSync(join(dirV2, f), 'utf8').match(/^\s*it\(/gm)?.length ?? 0), 0)
    stages.push({ name, passed: 0, failed: 0, skipped: tests, note: '' })
    skipped.push({ stage: name, file: 'test/v2', name: `${tests} tests`, reason: why })
    console.log(`\n=== ${name}: ${tests} tests skipped: ${why}`)
    return
  }
  const started = Date.now()
  runVitest(name, ['--config', 'test/v2/vitest.config.ts', ...v2Args], {
    command: [
      'bash',
      join(root, 'scripts/v2vm/run.sh'),
      '--share',
      dir,
      process.execPath,
      join(root, 'node_modules/vitest/vitest.mjs'),
      'run',
    ],
    env: { PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` },
  })
  const s = Math.round((Date.now() - started) / 1000)
  stages.at(-1).note += ` (${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s)`
}

if (!v2Only) runVitest('suite', args)

if (!v2Only && !onlySuite) {
  runVitest('examples/vitest', [], { cwd: join(root, 'examples/vitest') })
  runVitest('examples/vitest-per-test', [], { cwd: join(root, 'examples/vitest-per-test') })
  exampleApp()
  if (process.getuid?.() === 0) {
    const setpriv = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true'])
    if (setpriv.status === 0)
      exampleApp({
        label: 'nobody',
        uid: 65534,
        prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
      })
    else {
      stages.push({ name: 'examples/vitest-app as nobody', passed: 0, failed: 0, skipped: 1, note: '' })
      skipped.push({
        stage: 'examples',
        file: 'examples/vitest-app',
        name: 'as nobody',
        reason: 'setpriv cannot drop to nobody here',
      })
    }
  }

  console.log('\n=== examples/jest')
  const jestJson = join(dir, 'example-jest.json')
  const jestExit = spawnSync(join(root, 'node_modules/.bin/jest'), ['--json', `--outputFile=${jestJson}`], {
    stdio: 'inherit',
    cwd: join(root, 'examples/jest'),
  })
  const jest = count('examples/jest', jestJson, jestExit)
  for (const f of jest?.testResults ?? []) {
    for (const t of f.assertionResults.filter((a) => a.status === 'pending' || a.status === 'todo')) {
      skipped.push({ stage: 'examples/jest', file: f.name, name: t.fullName, reason: 'no reason given' })
    }
  }

  exampleStockAndIsolated(
    'examples/jest-app',
    'jest.stock.config.js',
    'jest.config.js',
    'skipped as root (root writes anywhere); run as an ordinary user in test/jest/example-app.test.ts',
  )

  // The release tarballs, made the one way they are made.
  console.log('\n=== packages (scripts/pack.mjs)')
  const packs = join(dir, 'packs')
  const pack = (extra) =>
    spawnSync(process.execPath, [join(root, 'scripts/pack.mjs'), '--out', packs, ...extra], { stdio: 'inherit' })
  let bothArches = true
  let packed = pack([]).status === 0
  if (!packed) {
    console.log('pack: no cross compiler here; packing for this arch only (the arm64 checks are skipped)')
    bothArches = false
    packed = pack(['--only-host-arch']).status === 0
  }
  if (!packed) stages.push({ name: 'packages', passed: 0, failed: 1, skipped: 0, note: ' (scripts/pack.mjs failed)' })
  else {
    const env = { NS_ISOLATED_PACKS: packs, NS_ISOLATED_PACKS_BOTH_ARCHES: bothArches ? '1' : '0' }
    runVitest('install (Vitest 4 and 5, Jest 29 and 30)', ['--config', 'vitest.install.config.ts'], { env })

    console.log('\n=== compat: installing Vitest 4 and Jest 29 with the tarballs')
    const compat = join(dir, 'compat')
    mkdirSync(compat)
    const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version
    const tarballs = ['ns-isolated', 'vitest-environment-ns-isolated', 'jest-environment-ns-isolated'].map((n) =>
      join(packs, `${n}-${version}.tgz`),
    )
    const previous = [
      'vitest@^4',
      '@vitest/coverage-v8@^4',
      '@vitest/coverage-istanbul@^4',
      'jest@^29',
      'babel-jest@^29',
      'jest-environment-jsdom@^29',
      'jest-junit@^17',
      // the DOM environments the Vitest e2e tests sandbox (plugins/vitest's devDependencies)
      'jsdom@^29',
      'happy-dom@^21',
    ]
    const npm = ['install', '--prefix', compat, '--no-audit', '--no-fund', '--loglevel=error']
    const withPacks = spawnSync('npm', [...npm, ...previous, ...tarballs], { stdio: 'inherit' }).status === 0
    if (!withPacks) stages.push({ name: 'compat', passed: 0, failed: 1, skipped: 0, note: ' (npm install failed)' })
    else {
      runVitest('compat (e2e on Vitest 4 and Jest 29)', ['test/vitest', 'test/jest'], {
        env: { NS_ISOLATED_TEST_MODULES: join(compat, 'node_modules') },
      })
    }
  }
}

if (!onlySuite) v2Suite(v2Only ? args : [])

rmSync(dir, { recursive: true, force: true })
// Test workers are stopped by signals, so their exit hooks do not run: one
// last sweep removes whatever they left (stale sandbox cgroups, empty parents).
const { sweepStaleCgroups } = await import('../dist/cgroup/index.js')
sweepStaleCgroups()

if (skipped.length) {
  console.log(`\nskipped (${skipped.length}):`)
  for (const s of skipped) console.log(`  [${s.stage}] ${s.file} > ${s.name}: ${s.reason}`)
}
if (failures.length) {
  console.log(`\nfailed (${failures.length}):`)
  for (const f of failures) {
    console.log(`  [${f.stage}] ${f.file} > ${f.name}`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the runners' colour codes
    for (const l of f.lines) console.log(`      ${l.replace(/\x1b\[[0-9;]*m/g, '').slice(0, 300)}`)
  }
}
console.log('')
for (const s of stages) console.log(`${s.name}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped${s.note}`)
const total = (k) => stages.reduce((n, s) => n + s[k], 0)
const passed = total('passed')
const failed = total('failed')
console.log(`tests: ${passed} passed, ${failed} failed, ${total('skipped')} skipped`)
process.exit(failed === 0 && passed > 0 ? 0 : 1)
