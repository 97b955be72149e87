/**
 * `ns-isolated doctor`: what this host can do, and the exact fix for what it
 * cannot. Facts are read from /proc and /sys; the decisive checks are real
 * sandboxes started the way the test runners will start them.
 */
import { describeCgroupSupport } from '../cgroup/index.ts'
import { NsIsolatedError } from '../errors.ts'
import { type HostFacts, readHostFacts } from '../host/facts.ts'
import { launcherPath } from '../host/launcher-binary.ts'
import { assertNodeSupported } from '../host/node-version.ts'
import { chooseStrategy } from '../host/prepare.ts'
import { runSandbox } from '../host/spawn.ts'

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'info'
export interface Check {
  name: string
  status: CheckStatus
  detail: string
  fix?: string
  /** Needed for sandboxes to work at all (a failure makes doctor exit 1). */
  required: boolean
}

async function probe(name: string, mode: 'root' | 'rootless', required: boolean): Promise<Check> {
  try {
    const r = await runSandbox('/bin/sh', ['-c', 'echo $$; hostname'], { mode, stdio: ['ignore', 'pipe', 'pipe'] })
    if (r.code !== 0) return { name, status: 'fail', detail: `a test sandbox exited ${r.code}`, required }
    const note = r.degraded.length ? ` (weakened: ${r.degraded.join('; ')})` : ''
    return {
      name,
      status: r.degraded.length ? 'warn' : 'ok',
      detail: `fresh namespaces, overlay root, /proc, lo up${note}`,
      required,
    }
  } catch (e) {
    if (NsIsolatedError.is(e)) return { name, status: 'fail', detail: `${e.code}`, fix: e.message, required }
    return { name, status: 'fail', detail: String(e), required }
  }
}

/** Which mode this host gets: namespaces, or (where they are refused) the namespace-free subreaper. */
async function modeCheck(sandbox: Check, strategy: 'root' | 'rootless'): Promise<Check> {
  const name = 'mode on this host'
  if (sandbox.status !== 'fail') {
    return { name, status: 'ok', detail: `namespaces (${strategy}): every guarantee holds`, required: false }
  }
  try {
    const r = await runSandbox('/bin/true', [], { namespaces: false, stdio: 'ignore' })
    return {
      name,
      status: r.code === 0 ? 'warn' : 'fail',
      detail: `namespaces refused (${sandbox.detail}); without them, leaks are still reported and killed and figures measured, with no isolation`,
      fix: "fix the namespaces (above), or run without them: CLI --no-namespaces, code namespaces: false, runners fallback: 'subreaper'",
      required: false,
    }
  } catch (e) {
    return { name, status: 'fail', detail: NsIsolatedError.is(e) ? e.code : String(e), required: false }
  }
}

export async function runChecks(facts: HostFacts = readHostFacts()): Promise<Check[]> {
  const checks: Check[] = []
  const linux = facts.platform === 'linux'
  checks.push({
    name: 'operating system',
    status: linux ? 'ok' : 'fail',
    detail: linux ? `Linux ${facts.kernel}` : facts.platform,
    fix: linux ? undefined : 'ns-isolated needs Linux: run in a Linux VM or container.',
    required: true,
  })
  if (!linux) return checks
  let nodeFix: string | undefined
  try {
    assertNodeSupported()
  } catch (e) {
    nodeFix = (e as Error).message
  }
  checks.push({
    name: 'node',
    status: nodeFix ? 'fail' : 'ok',
    detail: `${process.version} (${process.execPath})`,
    fix: nodeFix,
    required: true,
  })
  let launcherOk = true
  try {
    checks.push({ name: 'launcher binary', status: 'ok', detail: launcherPath(), required: true })
  } catch (e) {
    launcherOk = false
    checks.push({
      name: 'launcher binary',
      status: 'fail',
      detail: 'missing',
      fix: (e as Error).message,
      required: true,
    })
  }
  const strategy = chooseStrategy('auto')
  checks.push({
    name: 'privileges',
    status: 'info',
    detail:
      strategy === 'root'
        ? 'root: sandboxes use real root and one overlay of /'
        : `uid ${facts.uid}: sandboxes use a user namespace`,
    required: false,
  })
  const userns =
    facts.unprivilegedUsernsClone === 0
      ? {
          status: 'warn' as const,
          detail: 'kernel.unprivileged_userns_clone=0',
          fix: 'sudo sysctl -w kernel.unprivileged_userns_clone=1',
        }
      : facts.maxUserNamespaces === 0
        ? {
            status: 'warn' as const,
            detail: 'user.max_user_namespaces=0',
            fix: 'sudo sysctl -w user.max_user_namespaces=15000',
          }
        : facts.apparmorRestrictsUserns
          ? {
              status: 'warn' as const,
              detail: 'AppArmor restricts them (kernel.apparmor_restrict_unprivileged_userns=1)',
              fix: 'run as root, or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile with `userns,` for node',
            }
          : { status: 'ok' as const, detail: `allowed (max ${facts.maxUserNamespaces ?? '?'})`, fix: undefined }
  checks.push({
    name: 'unprivileged user namespaces',
    ...userns,
    required: strategy === 'rootless' && userns.status !== 'ok',
  })
  checks.push({
    name: 'seccomp',
    status: facts.seccompFiltered ? 'warn' : 'ok',
    detail: facts.seccompFiltered
      ? `a filter is installed${facts.container ? ` (${facts.container} container)` : ''}; it may refuse namespaces`
      : 'no filter',
    fix: facts.seccompFiltered ? 'Docker: --security-opt seccomp=unconfined --cap-add SYS_ADMIN' : undefined,
    required: false,
  })
  if (launcherOk) {
    const sandbox = await probe(`sandbox (${strategy})`, strategy, true)
    checks.push(sandbox)
    if (strategy === 'root')
      checks.push(await probe('sandbox in a user namespace (overlay with userxattr)', 'rootless', false))
    checks.push(await modeCheck(sandbox, strategy))
  }
  const cg = describeCgroupSupport({ rootless: strategy === 'rootless' })
  const caps = Object.entries(cg.canEnforce)
    .filter(([, v]) => v)
    .map(([k]) => k)
  checks.push({
    name: 'cgroups',
    status: caps.length === 3 ? 'ok' : 'warn',
    detail: `${cg.layout}${cg.writable ? ', writable' : ', not writable'}; caps: ${caps.join(', ') || 'none'}${cg.reason ? ` (${cg.reason})` : ''}`,
    fix: cg.fix,
    required: false,
  })
  return checks
}
