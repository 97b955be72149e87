/**
 * The Node versions ns-isolated runs on. Every front door (the Vitest plugin,
 * the Jest runner and environment, `isolate`, the sandbox API, the CLI) calls
 * `assertNodeSupported()` first, so an older Node is refused at once with the
 * fix, instead of failing later in a worker (Vitest 5 waits forever for a
 * worker that died on Node 20).
 *
 * Why 22.12: Vitest 5 needs it; the workers' compile cache
 * (`module.enableCompileCache`, `module.flushCompileCache`) needs 22.x; and
 * Node 20 reached its end of life on 2026-04-30.
 */
import { ErrorCodes, NsIsolatedError } from '../errors.ts'

/** The oldest Node ns-isolated runs on. */
export const MIN_NODE_VERSION = '22.12.0'

function parts(version: string): number[] {
  return version
    .replace(/^v/, '')
    .split('.')
    .map((p) => Number.parseInt(p, 10) || 0)
}

/** True when `version` (`process.versions.node` by default) is at least {@link MIN_NODE_VERSION}. */
export function isNodeSupported(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0, patch = 0] = parts(version)
  const [minMajor = 0, minMinor = 0, minPatch = 0] = parts(MIN_NODE_VERSION)
  if (major !== minMajor) return major > minMajor
  if (minor !== minMinor) return minor > minMinor
  return patch >= minPatch
}

/**
 * Throws `NsIsolatedError` `ENS_NODE_UNSUPPORTED` under a Node older than
 * {@link MIN_NODE_VERSION}, naming the version found, the Node binary and the fix.
 */
export function assertNodeSupported(
  version: string = process.versions.node,
  execPath: string = process.execPath,
): void {
  if (isNodeSupported(version)) return
  throw new NsIsolatedError(
    ErrorCodes.NODE_UNSUPPORTED,
    `ns-isolated needs Node >= ${MIN_NODE_VERSION}, and this is Node ${version} (${execPath}). ` +
      'Run it with a newer Node: `nvm install 22 && nvm use 22` (or 24), the nodejs.org binaries, or in CI ' +
      '`actions/setup-node` with `node-version: 22`; check with `node --version`. If a newer Node is installed, put it first on the PATH.',
    { details: { found: version, minimum: MIN_NODE_VERSION, execPath } },
  )
}
