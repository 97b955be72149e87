/**
 * Which setup failures mean "this host refuses namespaces" (seccomp,
 * AppArmor, user namespaces off, a refused mount), as opposed to a mistake or
 * a missing piece: the runners' fallback `'subreaper'` runs a file without
 * namespaces on those, and says on every such file what was missing and why.
 */
import { ErrorCodes, NsIsolatedError } from '../errors.ts'
import type { MissingIsolation } from '../report/schema.ts'

const WHY: Partial<Record<string, string>> = {
  [ErrorCodes.SECCOMP_DENIED]: 'seccomp',
  [ErrorCodes.USERNS_APPARMOR]: 'AppArmor',
  [ErrorCodes.USERNS_DISABLED]: 'user namespaces off',
  [ErrorCodes.USERNS_DENIED]: 'user namespaces refused',
  [ErrorCodes.NAMESPACE_DENIED]: 'namespaces refused',
}

/** What a file runs without when `error` is a host's refusal of namespaces; undefined for any other failure. */
export function refusedNamespaces(error: unknown): MissingIsolation | undefined {
  if (!NsIsolatedError.is(error)) return undefined
  const why =
    error.code === ErrorCodes.MOUNT_FAILED
      ? error.syscallCode === 'EPERM' || error.syscallCode === 'EACCES'
        ? 'mount refused'
        : undefined
      : WHY[error.code]
  return why === undefined ? undefined : { missing: 'namespaces', why, code: error.code }
}
