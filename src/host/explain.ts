/**
 * Turning what failed (a launcher step and its errno, or a setup step) into
 * one NsIsolatedError with a stable code and the fix for this host.
 */
import { getSystemErrorMap } from 'node:util'
import { type ErrorCode, ErrorCodes, NsIsolatedError } from '../errors.ts'
import type { LauncherErrorLine, SetupFailureLine } from '../protocol.ts'
import type { HostFacts } from './facts.ts'

export function errnoName(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[0] ?? `E${errno}`
}

const APPARMOR_FIX =
  'Ubuntu 23.10+ restricts unprivileged user namespaces through AppArmor (kernel.apparmor_restrict_unprivileged_userns=1). Fix one of: run the tests as root (sudo, or a CI job with root); allow it host-wide with `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; or install an AppArmor profile that grants `userns,` to your node binary (see docs/troubleshooting.md#ubuntu-2404).'

const SECCOMP_FIX =
  "A seccomp filter refuses namespace creation: Docker's default profile does this for containers without CAP_SYS_ADMIN. Run the container with `--security-opt seccomp=unconfined --cap-add SYS_ADMIN` (or `--privileged`), or run the tests outside the container; or run without namespaces (`namespaces: false`, CLI `--no-namespaces`, runners `fallback: 'subreaper'`), which still reports and kills leaked processes (see docs/troubleshooting.md#docker)."

/** Why creating a user namespace failed, on this host. */
function explainUserns(facts: HostFacts, errno: string): { code: ErrorCode; message: string } {
  if (facts.unprivilegedUsernsClone === 0) {
    return {
      code: ErrorCodes.USERNS_DISABLED,
      message: `unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone=0). Enable them with \`sudo sysctl -w kernel.unprivileged_userns_clone=1\` (persist it in /etc/sysctl.d/), or run the tests as root.`,
    }
  }
  if (facts.maxUserNamespaces === 0) {
    return {
      code: ErrorCodes.USERNS_DISABLED,
      message: `user namespaces are switched off (user.max_user_namespaces=0). Enable them with \`sudo sysctl -w user.max_user_namespaces=15000\`, or run the tests as root.`,
    }
  }
  if (facts.apparmorRestrictsUserns) return { code: ErrorCodes.USERNS_APPARMOR, message: APPARMOR_FIX }
  if (facts.seccompFiltered && facts.container) return { code: ErrorCodes.SECCOMP_DENIED, message: SECCOMP_FIX }
  return {
    code: ErrorCodes.USERNS_DENIED,
    message: `creating a user namespace failed with ${errno}. Check \`ns-isolated doctor\`; running the tests as root avoids user namespaces altogether.`,
  }
}

export function explainLauncherError(line: LauncherErrorLine, facts: HostFacts): NsIsolatedError {
  const { step, errno, detail } = line.error
  const name = errnoName(errno)
  const details = { step, errno: name, detail }
  const make = (code: ErrorCode, message: string) =>
    new NsIsolatedError(code, `ns-isolated: ${message}`, { syscallCode: name, details })
  if (step === 'exec') {
    return make(
      ErrorCodes.COMMAND_NOT_FOUND,
      `cannot run \`${detail}\` in the sandbox: ${name === 'ENOENT' ? 'no such file or command on PATH' : name}.`,
    )
  }
  if (step === 'unshare user namespace' || step === 'uid_map' || step === 'gid_map' || step === 'setgroups deny') {
    const { code, message } = explainUserns(facts, name)
    return make(code, message)
  }
  if (step === 'unshare namespaces' || step === 'make / private') {
    if (facts.seccompFiltered && (facts.container || name === 'EPERM'))
      return make(ErrorCodes.SECCOMP_DENIED, SECCOMP_FIX)
    if (name === 'ENOSPC') {
      return make(
        ErrorCodes.NAMESPACE_DENIED,
        'the per-user namespace limit is reached (ENOSPC): raise user.max_*_namespaces with sysctl, or look for leaked namespaces.',
      )
    }
    return make(
      ErrorCodes.NAMESPACE_DENIED,
      `creating namespaces was refused (${name}): the process lacks CAP_SYS_ADMIN${facts.container ? ` inside a ${facts.container} container` : ''}. Run as root, or as an ordinary user so a user namespace is used (option mode: 'rootless').`,
    )
  }
  if (step === 'join cgroup') {
    if (name === 'EROFS') {
      return make(
        ErrorCodes.CGROUP_READONLY,
        `the cgroup filesystem is read-only (${detail}); in Docker run with --privileged or --cgroupns=private and a writable /sys/fs/cgroup, or drop the memory/pids/cpu caps.`,
      )
    }
    return make(ErrorCodes.CGROUP_UNAVAILABLE, `cannot join the sandbox's cgroup ${detail} (${name}).`)
  }
  return make(
    ErrorCodes.LAUNCHER_FAILED,
    `the launcher failed at "${step}" with ${name}${detail ? ` (${detail})` : ''}.`,
  )
}

export function explainSetupError(line: SetupFailureLine, facts: HostFacts, rootless: boolean): NsIsolatedError {
  const e = { ...line.setupError, errno: errnoName(line.setupError.errnoNumber) }
  const code = (Object.values(ErrorCodes) as string[]).includes(e.code)
    ? (e.code as ErrorCode)
    : ErrorCodes.MOUNT_FAILED
  let message = `ns-isolated: sandbox setup failed: ${e.message}.`
  if (rootless && e.errno === 'EPERM' && facts.apparmorRestrictsUserns) {
    return new NsIsolatedError(ErrorCodes.USERNS_APPARMOR, `ns-isolated: ${APPARMOR_FIX}`, {
      syscallCode: e.errno,
      details: { ...e },
    })
  }
  if (code === ErrorCodes.MOUNT_FAILED) {
    message += rootless
      ? ' In a user namespace some mounts are refused (kernel < 5.11 has no overlayfs there; a container may mask /proc). Run `ns-isolated doctor`, or run as root.'
      : ' Run `ns-isolated doctor` to see which part of the filesystem setup this host refuses.'
  }
  return new NsIsolatedError(code, message, { syscallCode: e.errno, details: { ...e } })
}
