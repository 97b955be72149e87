/**
 * Host side: what of the host's /tmp a sandbox must still see. Its /tmp is a
 * fresh tmpfs, so a project, a `node_modules` or a Node binary living under
 * the host's /tmp would vanish inside (a checkout in /tmp, a temp fixture
 * whose node_modules links elsewhere, a Node unpacked there). The paths named
 * here come in copy-on-write (see plan.ts, step 6).
 */
import { existsSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { isUnder } from './mountinfo.ts'
import { nodeModulesDirs } from './node-modules.ts'

const realBinaries = new Map<string, string>()

/** The Node binary's real path, looked up once per binary: it does not move under the processes it runs. */
function realBinary(path: string): string {
  let r = realBinaries.get(path)
  if (r === undefined) {
    try {
      r = realpathSync(path)
    } catch {
      r = path
    }
    realBinaries.set(path, r)
  }
  return r
}

/**
 * The project around each file under /tmp: the topmost directory below /tmp
 * with a package.json or node_modules on the way up (else the file's own
 * directory). Files elsewhere need nothing.
 */
export function keepPathsFor(files: string[]): string[] {
  const out = new Set<string>()
  for (const f of files) {
    if (!f.startsWith('/tmp/')) continue
    let project: string | undefined
    for (let d = dirname(f); d !== '/tmp' && d !== '/'; d = dirname(d)) {
      if (existsSync(join(d, 'package.json')) || existsSync(join(d, 'node_modules'))) project = d
    }
    const dir = project ?? dirname(f)
    if (dir !== '/tmp') out.add(dir)
  }
  return [...out]
}

/**
 * What every sandbox started from `cwd` needs of the host's /tmp: the project
 * around `cwd`, the real directories of the `node_modules` it resolves from
 * (host/node-modules.ts: from `cwd` up, and where their top-level links lead)
 * when they are under /tmp (workspaces, test fixtures), and the project of
 * the Node binary the runners exec (`process.execPath`).
 */
export function implicitKeep(cwd: string, execPath = process.execPath): string[] {
  const files = [join(cwd, '.'), realBinary(execPath), ...nodeModulesDirs(cwd).map((d) => join(d, '.'))]
  return keepPathsFor(files.filter((f) => isUnder(f, '/tmp')))
}
