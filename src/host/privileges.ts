/**
 * What the command in a sandbox may do: its capabilities and the variant of
 * the launcher's seccomp filter, decided on the host from the options. The
 * launcher applies them after the setup, before exec (ops I, C and S of the
 * plan). See docs/security.md.
 */

/** Linux capability numbers (capability(7)), by name without `CAP_`. */
export const CAPABILITIES = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  LINUX_IMMUTABLE: 9,
  NET_BIND_SERVICE: 10,
  NET_BROADCAST: 11,
  NET_ADMIN: 12,
  NET_RAW: 13,
  IPC_LOCK: 14,
  IPC_OWNER: 15,
  SYS_MODULE: 16,
  SYS_RAWIO: 17,
  SYS_CHROOT: 18,
  SYS_PTRACE: 19,
  SYS_PACCT: 20,
  SYS_ADMIN: 21,
  SYS_BOOT: 22,
  SYS_NICE: 23,
  SYS_RESOURCE: 24,
  SYS_TIME: 25,
  SYS_TTY_CONFIG: 26,
  MKNOD: 27,
  LEASE: 28,
  AUDIT_WRITE: 29,
  AUDIT_CONTROL: 30,
  SETFCAP: 31,
  MAC_OVERRIDE: 32,
  MAC_ADMIN: 33,
  SYSLOG: 34,
  WAKE_ALARM: 35,
  BLOCK_SUSPEND: 36,
  AUDIT_READ: 37,
  PERFMON: 38,
  BPF: 39,
  CHECKPOINT_RESTORE: 40,
} as const

export type CapabilityName = keyof typeof CAPABILITIES

/**
 * What the command keeps by default: Docker's default set, without MKNOD
 * (Docker keeps it because its device cgroup stops the nodes from being
 * opened; here nothing would).
 */
export const DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'SETFCAP',
  'NET_BIND_SERVICE',
  'NET_RAW',
  'SYS_CHROOT',
  'AUDIT_WRITE',
]

/** clone(2)'s CLONE_NEWCGROUP. */
const CLONE_NEWCGROUP = 0x02000000

/** The plan's part after the setup: what the command may do. `null`: everything (privileged). */
export interface Lockdown {
  /** Rootless: run as this uid/gid in a user namespace of its own (see launcher.c, op I). */
  user: { uid: number; gid: number } | undefined
  /** Capabilities kept, as a mask. */
  capabilities: bigint
  /** Mount calls: allowed (CAP_SYS_ADMIN was asked for), else allowed only in a user namespace the command made. */
  allowMounts: boolean
  /** clone/unshare flags refused: CLONE_NEWCGROUP where the sandbox's caps sit in its own cgroup. */
  refusedNamespaces: number
}

export function capabilityMask(names: readonly CapabilityName[]): bigint {
  let mask = 0n
  for (const n of names) mask |= 1n << BigInt(CAPABILITIES[n])
  return mask
}

/**
 * The lockdown for a sandbox. `capsInOwnCgroup`: the sandbox's processes sit
 * in the cgroup that holds its caps, with nothing but the read-only mount
 * between them and its files (every layout but v2 with nsdelegate): a
 * cgroup namespace made inside would let a fresh cgroupfs mount reach them.
 */
export function lockdownFor(o: {
  privileged: boolean
  capabilities: readonly CapabilityName[]
  user: { uid: number; gid: number } | undefined
  capsInOwnCgroup: boolean
}): Lockdown | null {
  if (o.privileged) return null
  const names = [...new Set([...DEFAULT_CAPABILITIES, ...o.capabilities])]
  return {
    user: o.user,
    capabilities: capabilityMask(names),
    allowMounts: names.includes('SYS_ADMIN'),
    refusedNamespaces: o.capsInOwnCgroup ? CLONE_NEWCGROUP : 0,
  }
}
