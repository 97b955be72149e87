/**
 * Global setup of the install tests: the release tarballs (NS_ISOLATED_PACKS,
 * made by `npm test`, or packed here), and the old Node binaries every front
 * door must refuse: this machine's own `node` when it is older than 22.12,
 * Node 20 from the registry otherwise, and Node 22.11 (the last that cannot
 * `require()` ES modules by default) from the registry.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { TestProject } from 'vitest/node'

const root = join(import.meta.dirname, '../..')
const MIN = [22, 12]

function older(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number)
  return major < (MIN[0] ?? 0) || (major === MIN[0] && minor < (MIN[1] ?? 0))
}

/** The machine's own `node` (first on the PATH outside any node_modules), if there is one. */
function machineNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir.includes('node_modules')) continue
    const candidate = join(dir, 'node')
    if (existsSync(candidate)) return candidate
  }
  return undefined
}

function versionOf(node: string): string {
  return spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '')
}

export default async function setup(project: TestProject): Promise<() => void> {
  const made: string[] = []
  let packs = process.env.NS_ISOLATED_PACKS
  let bothArches = true
  if (!packs) {
    packs = mkdtempSync(join(tmpdir(), 'nsiso-packs-'))
    made.push(packs)
    const pack = (extra: string[]) =>
      spawnSync(process.execPath, [join(root, 'scripts/pack.mjs'), '--out', packs as string, ...extra], {
        stdio: ['ignore', 'ignore', 'inherit'],
      }).status === 0
    if (!pack([])) {
      bothArches = false
      if (!pack(['--only-host-arch'])) throw new Error('scripts/pack.mjs failed')
    }
  } else bothArches = process.env.NS_ISOLATED_PACKS_BOTH_ARCHES !== '0'

  const oldNodes: { version: string; path: string; why: string }[] = []
  const own = machineNode()
  const ownVersion = own ? versionOf(own) : undefined
  if (own && ownVersion && older(ownVersion))
    oldNodes.push({ version: ownVersion, path: own, why: "this machine's node" })
  const registry = mkdtempSync(join(tmpdir(), 'nsiso-old-node-'))
  made.push(registry)
  const wanted = [
    ...(oldNodes.some((n) => n.version.startsWith('20.')) ? [] : [['20', 'Node 20 (end of life)']]),
    ['22.11.0', 'Node 22.11 (cannot require() ES modules by default)'],
  ]
  for (const [range, why] of wanted) {
    const dir = join(registry, String(range))
    const pkg = `node-linux-${process.arch}`
    const r = spawnSync(
      'npm',
      ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error', `${pkg}@${range}`],
      {
        encoding: 'utf8',
      },
    )
    const bin = join(dir, 'node_modules', pkg, 'bin', 'node')
    if (r.status !== 0 || !existsSync(bin)) throw new Error(`npm install ${pkg}@${range} failed:\n${r.stderr}`)
    oldNodes.push({ version: versionOf(bin), path: bin, why: String(why) })
  }

  project.provide('packs', packs)
  project.provide('bothArches', bothArches)
  project.provide('oldNodes', oldNodes)
  return () => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true })
  }
}
