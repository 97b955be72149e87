/**
 * Refuses an old Node before the Jest integration loads anything else
 * (imported first by the preset, the config helper, the runner, the reporter
 * and the environment). Where Node is recent enough this costs a version
 * comparison; the core is not loaded (the environment loads in every sandbox).
 *
 * Where Node is too old, the core's own check words the error
 * (`assertNodeSupported`, ENS_NODE_UNSUPPORTED). A Node that cannot
 * `require()` ES modules at all (before 20.19, and 22.0–22.11) cannot load
 * the core, and would fail with ERR_REQUIRE_ESM: it gets the same code and
 * the fix from here.
 */

/** The core's MIN_NODE_VERSION (this file may not import the core; a test keeps the two equal). */
export const MIN_NODE_VERSION = '22.12.0'

function atLeast(version: string, min: string): boolean {
  const v = version.split('.').map((p) => Number.parseInt(p, 10) || 0)
  const m = min.split('.').map((p) => Number.parseInt(p, 10) || 0)
  for (let i = 0; i < 3; i++) if ((v[i] ?? 0) !== (m[i] ?? 0)) return (v[i] ?? 0) > (m[i] ?? 0)
  return true
}

export function assertNodeSupported(version: string = process.versions.node): void {
  if (atLeast(version, MIN_NODE_VERSION)) return
  let core: { assertNodeSupported(version?: string): void } | undefined
  try {
    core = require('ns-isolated')
  } catch {
    // ERR_REQUIRE_ESM: this Node cannot load the core
  }
  core?.assertNodeSupported(version)
  const error = new Error(
    `ns-isolated needs Node >= ${MIN_NODE_VERSION}, and this is Node ${version} (${process.execPath}), which cannot load it. ` +
      'Run Jest with a newer Node: `nvm install 22 && nvm use 22` (or 24), the nodejs.org binaries, or in CI ' +
      '`actions/setup-node` with `node-version: 22`; check with `node --version`.',
  )
  // What the core's NsIsolatedError carries, so `NsIsolatedError.is(e)` and `e.code` hold.
  Object.assign(error, {
    name: 'NsIsolatedError',
    code: 'ENS_NODE_UNSUPPORTED',
    details: { found: version, minimum: MIN_NODE_VERSION },
  })
  Object.defineProperty(error, Symbol.for('ns-isolated.error'), { value: true })
  throw error
}

assertNodeSupported()
