/**
 * A reused sandbox (`--reuse`) started ahead of knowing where its files
 * write (Jest's first worker, started while Jest reads its config) gets its
 * plan again with those writable and kept paths, the same sandbox
 * otherwise. The plan goes to the launcher's control socket
 * (`--control-fd`), whose other end the front door alone holds: the
 * sandbox's processes never have it, and PID 1, which reads it, is out of
 * their reach (not dumpable). PID 1 rebuilds the sandbox's filesystem from
 * it, as between two files, and answers with one line; later resets keep
 * the new plan.
 */
import type { Duplex } from 'node:stream'
import { ErrorCodes, NsIsolatedError } from '../errors.ts'
import { INSIDE_ENV, type ResetDoneLine, type SetupFailureLine } from '../protocol.ts'
import { internalsOf, planEnv, type SandboxLaunch } from './prepare.ts'

/**
 * Sends the new plan and waits for PID 1's answer. The writable paths are
 * validated as the option is, and claimed (created where missing) until the
 * sandbox ends. Resolves with the launcher's environment for this plan (for
 * a launcher started again, e.g. a restarted worker); rejects when the reset
 * failed (the sandbox keeps its old filesystem) or the sandbox is gone.
 */
export async function replanSandbox(
  launch: SandboxLaunch,
  control: Duplex,
  paths: { writable: string[]; keep: string[] },
): Promise<Record<string, string>> {
  if (!launch.options.namespaces) throw new Error('ns-isolated: internal: a sandbox without namespaces has no plan')
  const text = internalsOf(launch).replan(paths)
  const answer = await new Promise<string>((resolve, reject) => {
    let got = ''
    const onData = (d: Buffer | string) => {
      got += d.toString()
      const nl = got.indexOf('\n')
      if (nl < 0) return
      done()
      resolve(got.slice(0, nl))
    }
    const onEnd = () => {
      done()
      reject(
        new NsIsolatedError(
          ErrorCodes.LAUNCHER_FAILED,
          'ns-isolated: the sandbox ended before its new plan was applied',
        ),
      )
    }
    const done = () => {
      control.off('data', onData)
      control.off('close', onEnd)
      control.off('error', onEnd)
    }
    // A launcher that exited already (its setup failed) closed the socket before anyone listened.
    if (control.destroyed || !control.writable) return onEnd()
    control.on('data', onData)
    control.once('close', onEnd)
    control.once('error', onEnd)
    control.write(`${Buffer.byteLength(text)}\n${text}`, (e) => {
      if (e) onEnd()
    })
  })
  const line = JSON.parse(answer) as ResetDoneLine | SetupFailureLine
  if ('setupError' in line)
    throw new NsIsolatedError(
      ErrorCodes.MOUNT_FAILED,
      `ns-isolated: the sandbox's new plan failed at ${line.setupError.step}: ${line.setupError.message}`,
    )
  return { ...planEnv(text), [INSIDE_ENV]: launch.plan.hostname }
}
