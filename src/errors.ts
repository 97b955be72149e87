/**
 * The one error class of ns-isolated. Every failure of the host or of the
 * sandbox carries a stable `code`; the message says what happened and names
 * the fix. Option mistakes are `TypeError`s instead (see `options.ts`).
 */

/** Stable error codes. Documented in docs/troubleshooting.md. */
export const ErrorCodes = {
  /** Not Linux: namespaces do not exist here. */
  NOT_LINUX: 'ENS_NOT_LINUX',
  /** The Node running ns-isolated is older than the minimum (22.12). */
  NODE_UNSUPPORTED: 'ENS_NODE_UNSUPPORTED',
  /** No launcher binary for this platform/arch. */
  LAUNCHER_MISSING: 'ENS_LAUNCHER_MISSING',
  /** The launcher failed in a way no other code describes. */
  LAUNCHER_FAILED: 'ENS_LAUNCHER_FAILED',
  /** Unprivileged user namespaces are switched off by a sysctl. */
  USERNS_DISABLED: 'ENS_USERNS_DISABLED',
  /** Ubuntu 23.10+/24.04: AppArmor restricts unprivileged user namespaces. */
  USERNS_APPARMOR: 'ENS_USERNS_APPARMOR',
  /** Creating a user namespace failed for another reason. */
  USERNS_DENIED: 'ENS_USERNS_DENIED',
  /** A seccomp filter (Docker's default profile) refuses namespaces. */
  SECCOMP_DENIED: 'ENS_SECCOMP_DENIED',
  /** Creating the namespaces was refused (no CAP_SYS_ADMIN, a container). */
  NAMESPACE_DENIED: 'ENS_NAMESPACE_DENIED',
  /** A mount of the sandbox's root filesystem failed. */
  MOUNT_FAILED: 'ENS_MOUNT_FAILED',
  /** The sandbox's network could not be set up. */
  NETWORK_FAILED: 'ENS_NETWORK_FAILED',
  /** The command to run was not found or could not be executed. */
  COMMAND_NOT_FOUND: 'ENS_COMMAND_NOT_FOUND',
  /** A cgroup cap was asked for that cannot be enforced on this host. */
  CGROUP_UNAVAILABLE: 'ENS_CGROUP_UNAVAILABLE',
  /** The cgroup filesystem is read-only (a container without privileges). */
  CGROUP_READONLY: 'ENS_CGROUP_READONLY',
  /** A run went over its time limit and was killed. */
  TIMEOUT: 'ENS_TIMEOUT',
  /** A run was aborted through its AbortSignal. */
  ABORTED: 'ENS_ABORTED',
  /** A sandbox hit one of its caps (memory, pids). */
  CAP_EXCEEDED: 'ENS_CAP_EXCEEDED',
  /** `isolate()`: the function's process ended (process.exit, a signal) before the function returned. */
  ISOLATE_EXITED: 'ENS_ISOLATE_EXITED',
  /** The working directory is gone or unreadable (`process.cwd()` failed), and none was given. */
  CWD_UNAVAILABLE: 'ENS_CWD_UNAVAILABLE',
  /** The CLI's `--json-file` cannot be written. */
  REPORT_UNWRITABLE: 'ENS_REPORT_UNWRITABLE',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

const brand = Symbol.for('ns-isolated.error')

/** Anything ns-isolated throws that is not an option mistake. */
export class NsIsolatedError extends Error {
  override name = 'NsIsolatedError'
  readonly code: ErrorCode
  /** The system errno name behind it, when there is one (`EPERM`, …). */
  readonly syscallCode: string | undefined
  /** Extra facts (paths, the step that failed, …). */
  readonly details: Readonly<Record<string, unknown>>

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; syscallCode?: string; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.syscallCode = options.syscallCode
    this.details = options.details ?? {}
    Object.defineProperty(this, brand, { value: true })
  }

  /** True for errors of this class, across realms and package copies. */
  static is(value: unknown): value is NsIsolatedError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true
  }
}
