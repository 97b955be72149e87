#!/usr/bin/env node
// Compiles the native launcher into prebuilds/linux-<arch>/ns-isolated-launcher
// (src/launcher/build.ts does the compiling; `ns-isolated build-launcher` uses
// the same code on a user's machine). Runs at `npm run build`, never at
// `npm install`: the published package carries these binaries prebuilt.
//   node scripts/build-launcher.mjs          this machine's arch (CC or cc)
//   node scripts/build-launcher.mjs --all    both published arches, static only
//                                            (release builds: scripts/pack.mjs);
//                                            installs Debian's cross compiler
//                                            when root with apt-get
import { compileLauncher, prebuiltLauncher } from '../src/launcher/build.ts'
import { aptInstall, have } from './lib/apt.mjs'

/** The published arches, with Debian's cross compiler for each. */
const ARCHES = {
  x64: { cc: 'x86_64-linux-gnu-gcc', packages: ['gcc-x86-64-linux-gnu', 'libc6-dev-amd64-cross'] },
  arm64: { cc: 'aarch64-linux-gnu-gcc', packages: ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'] },
}
const all = process.argv.includes('--all')

function build(arch, cc, staticOnly) {
  const r = compileLauncher({ cc, out: prebuiltLauncher(arch), staticOnly })
  if (!r.ok) {
    console.error(`build-launcher: linux-${arch}: ${r.error}`)
    return false
  }
  if (r.warning) console.error(`build-launcher: linux-${arch}: ${r.warning}`)
  console.log(`build-launcher: ${r.out} (${r.compiler}${r.static ? '' : ', dynamic'})`)
  return true
}

// This machine's arch: CC, else musl-gcc where installed, else cc (src/launcher/build.ts).
if (all && !process.env.CC && !have('musl-gcc')) {
  const problem = aptInstall(['musl-tools'], 'the release launcher (musl: a faster start in a VM)')
  if (problem) console.error(`build-launcher: ${problem}; building with cc`)
}
let ok = build(process.arch, undefined, all)
if (all) {
  for (const [arch, { cc, packages }] of Object.entries(ARCHES)) {
    if (arch === process.arch) continue
    if (!have(cc)) {
      const problem = aptInstall(packages, `the linux-${arch} launcher (cross compiler ${cc})`)
      if (problem) {
        console.error(`build-launcher: ${problem}`)
        ok = false
        continue
      }
    }
    ok = build(arch, cc, true) && ok
  }
}
process.exit(ok ? 0 : 1)
