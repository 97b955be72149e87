// Puts our packages into a bench project's node_modules the way
// `npm install` would: real directories holding what each package publishes
// (its package.json `files`). In this repository they are workspace
// symlinks pointing out of node_modules, and a runner treats such a package
// as project source: Jest transforms its modules with babel, Vite inlines
// them. A user never pays that, so the benches must not either.
//
// Other packages are reached as they are: through the repository's
// node_modules, either up the tree or through the symlinks given.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join, resolve } from 'node:path'

const repo = resolve(import.meta.dirname, '..')
const PACKAGES = {
  'ns-isolated': repo,
  'jest-environment-ns-isolated': join(repo, 'plugins/jest'),
  'vitest-environment-ns-isolated': join(repo, 'plugins/vitest'),
}

/**
 * Installs our packages into `<dir>/node_modules`. With `linkOthers`, every
 * other package of the repository's node_modules is linked there too (for a
 * project outside the repository).
 */
export function installOurPackages(dir, { linkOthers = false } = {}) {
  const modules = join(dir, 'node_modules')
  mkdirSync(modules, { recursive: true })
  for (const [name, from] of Object.entries(PACKAGES)) {
    const pkg = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'))
    const to = join(modules, name)
    mkdirSync(to, { recursive: true })
    cpSync(join(from, 'package.json'), join(to, 'package.json'))
    for (const entry of pkg.files ?? []) {
      if (existsSync(join(from, entry))) cpSync(join(from, entry), join(to, entry), { recursive: true })
    }
  }
  if (linkOthers) {
    const source = join(repo, 'node_modules')
    for (const entry of readdirSync(source)) {
      if (entry in PACKAGES || existsSync(join(modules, entry))) continue
      symlinkSync(join(source, entry), join(modules, entry))
    }
  }
}
