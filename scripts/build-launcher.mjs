#!/usr/bin/env node
// Compiles the native launcher with the system C compiler into
// prebuilds/linux-<arch>/ns-isolated-launcher. Runs at `npm run build`, never at
// `npm install`: the published package carries these binaries prebuilt.
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'prebuilds', `linux-${process.arch}`, 'ns-isolated-launcher')
const cc = process.env.CC || 'cc'
mkdirSync(dirname(out), { recursive: true })
const base = ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, join(root, 'src/launcher/launcher.c')]
// Static, so the binary runs on any distribution (glibc or musl) of its arch.
let r = spawnSync(cc, ['-static', ...base], { stdio: ['ignore', 'inherit', 'pipe'] })
if (r.error) {
  console.error(
    `build-launcher: cannot run the C compiler '${cc}' (${r.error.code}). Install one (Debian/Ubuntu: apt-get install gcc libc6-dev; Alpine: apk add build-base) or set CC.`,
  )
  process.exit(1)
}
if (r.status !== 0) {
  console.error(`build-launcher: static link failed (no static libc?), building a dynamic binary instead:\n${r.stderr}`)
  r = spawnSync(cc, base, { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
console.log(`build-launcher: ${out}`)
