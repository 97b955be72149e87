/**
 * The `node_modules` directories a sandbox resolves modules from, bound
 * read-only from the host (option `nodeModules: 'read-only'`, the default;
 * see step 6b of plan.ts).
 *
 * Why: every sandbox gets a new overlay, and an overlay builds its own
 * dentry and inode for every path the first time it is looked up, on top of
 * the host's. A test worker looks up thousands of paths in `node_modules`
 * (resolution, package.json reads, loading), each one cold in every sandbox,
 * which shows in every worker's CPU (docs/performance.md). A bind shares the
 * host's dentries, warm.
 *
 * Which: `node_modules` in `cwd` and each directory above it (Node's own
 * lookup path), and for the links at their top level (workspaces, `npm
 * link`, a project whose packages are linked from elsewhere), the
 * `node_modules` that holds the link's target. All as real paths: the
 * launcher binds onto the path inside the new root, where the symlinks lead.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs'
import { dirname, join, sep } from 'node:path'

const found = new Map<string, string[]>()

function realDir(p: string): string | undefined {
  try {
    // The native realpath(3): one system call. The JS realpathSync lstat()s every component of
    // every path, and a node_modules of links (pnpm, workspaces, this repository's benches) holds
    // hundreds of them.
    const real = realpathSync.native(p)
    return statSync(real).isDirectory() ? real : undefined
  } catch {
    return undefined
  }
}

/** The outermost `node_modules` directory that holds `p`, if any. */
function enclosingNodeModules(p: string): string | undefined {
  const i = p.indexOf(`${sep}node_modules${sep}`)
  return i < 0 ? undefined : p.slice(0, i + `${sep}node_modules`.length)
}

/** The real paths of links at the top of a node_modules (and inside its @scope directories). */
function linkTargets(dir: string): string[] {
  const out: string[] = []
  const visit = (d: string, depth: number) => {
    let entries: import('node:fs').Dirent[]
    try {
      entries = readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const p = join(d, e.name)
      if (e.isSymbolicLink()) {
        const r = realDir(p)
        if (r) out.push(r)
      } else if (depth === 0 && e.isDirectory() && e.name.startsWith('@')) visit(p, 1)
    }
  }
  visit(dir, 0)
  return out
}

/**
 * The `node_modules` directories for a sandbox working in `cwd`, outermost
 * first, none inside another. Worked out once per `cwd` and process: a runner
 * prepares a sandbox per test file, and its dependencies do not move meanwhile.
 */
export function nodeModulesDirs(cwd: string): string[] {
  const known = found.get(cwd)
  if (known) return known
  const dirs = new Set<string>()
  for (let d = cwd; ; d = dirname(d)) {
    const nm = realDir(join(d, 'node_modules'))
    if (nm) dirs.add(nm)
    if (dirname(d) === d) break
  }
  for (const nm of [...dirs]) {
    for (const target of linkTargets(nm)) {
      const holder = enclosingNodeModules(target)
      if (holder) dirs.add(holder)
    }
  }
  const sorted = [...dirs].sort()
  const result = sorted.filter((d) => !sorted.some((o) => o !== d && d.startsWith(`${o}${sep}`)))
  found.set(cwd, result)
  return result
}
