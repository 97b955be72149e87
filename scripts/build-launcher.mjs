#!/usr/bin/env node
// Compiles the native launcher with the system C compiler into
// prebuilds/linux-<arch>/ns-isolated-launcher. Runs at `npm run build`, never
// at `npm install`: the published package carries these binaries prebuilt.
//   node scripts/build-launcher.mjs            this machine's arch (CC or cc)
//   node scripts/build-launcher.mjs --all      also cross-build the other arch
//                                              (before publishing; Debian: gcc-aarch64-linux-gnu
//                                              libc6-dev-arm64-cross / gcc-x86-64-linux-gnu)
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const source = join(root, 'src/launcher/launcher.c')
const CROSS = { x64: 'x86_64-linux-gnu-gcc', arm64: 'aarch64-linux-gnu-gcc' }

function build(arch, cc) {
  const out = join(root, 'prebuilds', `linux-${arch}`, 'ns-isolated-launcher')
  mkdirSync(dirname(out), { recursive: true })
  const base = ['-O2', '-s', '-Wall', '-Wextra', '-Werror', '-o', out, source]
  // Static, so the binary runs on any distribution (glibc or musl) of its arch.
  let r = spawnSync(cc, ['-static', ...base], { stdio: ['ignore', 'inherit', 'pipe'] })
  if (r.error) {
    console.error(
      `build-launcher: cannot run the C compiler '${cc}' (${r.error.code}). Install one (Debian/Ubuntu: apt-get install gcc libc6-dev; Alpine: apk add build-base) or set CC.`,
    )
    return false
  }
  if (r.status !== 0) {
    console.error(
      `build-launcher: static link failed (no static libc?), building a dynamic binary instead:\n${r.stderr}`,
    )
    r = spawnSync(cc, base, { stdio: 'inherit' })
    if (r.status !== 0) return false
  }
  console.log(`build-launcher: ${out}`)
  return true
}

let ok = build(process.arch, process.env.CC || 'cc')
if (process.argv.includes('--all')) {
  for (const [arch, cc] of Object.entries(CROSS)) if (arch !== process.arch) ok = build(arch, cc) && ok
}
process.exit(ok ? 0 : 1)
