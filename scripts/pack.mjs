#!/usr/bin/env node
// The one way to make release tarballs (`npm run pack`): builds the
// TypeScript and the launcher for linux-x64 and linux-arm64 (static), then
// packs ns-isolated, vitest-environment-ns-isolated and
// jest-environment-ns-isolated into .pack/ (or --out DIR), ready for
// `npm publish <tarball>`.
//
// Each package is packed by npm (its own `files`), unpacked into a staging
// directory, finished there, and packed again:
// - the plugins' dependency on the core becomes a version range: in the
//   repository it is `file:../..` so npm workspaces link the local core (the
//   name is not on the registry yet, and npm has no workspace: protocol to
//   rewrite), but a published `file:` dependency points into the user's own
//   project;
// - README links relative to the repository become absolute GitHub links, so
//   they work on the npm page (the docs are not in the tarballs);
// - LICENSE is the repository's;
// - `scripts`, `workspaces` and `devDependencies` are dropped: they are the
//   repository's, not the package's (and no install script may run).
// Packing a package directly (`npm pack`/`npm publish` in its directory)
// stops with a pointer here (`--guard`, the packages' prepack).
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const REPO = 'https://github.com/ns-isolated/ns-isolated'
/** The packages, by their directory in the repository. */
const PACKAGES = ['.', 'plugins/vitest', 'plugins/jest']

if (process.argv.includes('--guard')) {
  console.error(
    'Release tarballs are made with `npm run pack` at the repository root (scripts/pack.mjs): it builds both launchers and gives the plugins a registry range for ns-isolated instead of file:../.. . Then: npm publish .pack/<tarball>.',
  )
  process.exit(1)
}

const outArg = process.argv.indexOf('--out')
const out = resolve(outArg > 0 ? (process.argv[outArg + 1] ?? '') : join(root, '.pack'))
const bin = (name) => join(root, 'node_modules/.bin', name)

function run(cmd, args, cwd = root) {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  if (r.status !== 0) {
    console.error(`pack: ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`)
    process.exit(1)
  }
  return r.stdout
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'))

/** A link target relative to the repository (not a URL, an anchor or an absolute path). */
const RELATIVE = String.raw`(?![a-z][a-z0-9+.-]*:|#|/)([^)\s]+)`
/** `](docs/x.md)` and `[x]: docs/x.md` → `https://github.com/…/blob/main/docs/x.md`, resolved from the package's directory. */
function absoluteLinks(markdown, dir) {
  const absolute = (target) => `${REPO}/blob/main/${posix.normalize(posix.join(dir, target))}`
  return markdown
    .replace(
      new RegExp(String.raw`(\]\()${RELATIVE}(\))`, 'gi'),
      (_m, open, target, close) => open + absolute(target) + close,
    )
    .replace(new RegExp(String.raw`^(\[[^\]]+\]:\s*)${RELATIVE}`, 'gim'), (_m, open, target) => open + absolute(target))
}

// 1. Build: the TypeScript, and both launchers, static (the published binaries run on any distribution).
//    --only-host-arch: this machine's launcher only, for tests where no cross compiler can be had; never a release.
const onlyHost = process.argv.includes('--only-host-arch')
if (onlyHost) {
  console.error(`pack: --only-host-arch: the core tarball carries linux-${process.arch} only (not for release)`)
  rmSync(join(root, 'prebuilds'), { recursive: true, force: true }) // no other arch's binary left from an earlier build
}
run(process.execPath, [join(root, 'scripts/build-launcher.mjs'), ...(onlyHost ? [] : ['--all'])])
run(bin('tsc'), ['-p', 'tsconfig.build.json'])
for (const dir of PACKAGES.slice(1)) run(bin('tsc'), ['-p', join(dir, 'tsconfig.json')])

// 2. Pack, stage, finish, pack again.
const core = readJson(join(root, 'package.json'))
const work = mkdtempSync(join(tmpdir(), 'ns-isolated-pack-'))
mkdirSync(out, { recursive: true })
const made = []
try {
  for (const dir of PACKAGES) {
    const first = JSON.parse(
      run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], join(root, dir)),
    )
    const stage = join(work, `stage-${made.length}`)
    mkdirSync(stage)
    run('tar', ['-xzf', join(work, first[0].filename), '-C', stage, '--strip-components=1'])

    const pkg = readJson(join(stage, 'package.json'))
    delete pkg.scripts
    delete pkg.workspaces
    delete pkg.devDependencies
    for (const [name, spec] of Object.entries(pkg.dependencies ?? {})) {
      if (name === core.name && String(spec).startsWith('file:')) pkg.dependencies[name] = `^${core.version}`
    }
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
    const readme = join(stage, 'README.md')
    writeFileSync(readme, absoluteLinks(readFileSync(readme, 'utf8'), dir === '.' ? '' : dir))
    copyFileSync(join(root, 'LICENSE'), join(stage, 'LICENSE'))

    const final = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], stage))
    made.push(join(out, final[0].filename))
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
for (const file of made) console.log(file)
console.error(`pack: ${made.length} tarballs in ${out}; publish each with \`npm publish <tarball>\`.`)
