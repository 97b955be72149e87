/**
 * Which cap a sandbox ran into, and the message a failing file shows. The
 * core says it (`result.caps.hit`: memory when the kernel OOM-killed a
 * process, pids when the peak reached the cap, tmpfs when it filled) and
 * words it (`capHitMessage`).
 */
import { type CapHit, capHitMessage } from 'ns-isolated'
import type { ResultWithUsage } from './run-state.ts'

/** The first cap hit, memory first (an OOM kill explains a dead worker better than a pids peak). */
export function capHitOf(result: ResultWithUsage): CapHit | undefined {
  const hits = result.caps?.hit ?? []
  return hits.find((h) => h.cap === 'memory') ?? hits[0]
}

/** `ns-isolated: test file a.spec.ts exceeded memory cap 512 MiB: 1 process OOM-killed. Raise the cap …` */
export function capMessage(files: string[], hit: CapHit): string {
  const what =
    files.length === 1 ? `test file ${files[0]}` : files.length > 1 ? `test files ${files.join(', ')}` : 'a test file'
  return capHitMessage(
    what,
    hit,
    `Raise the cap (plugin option \`${hit.cap}\`, or per file with @vitest-environment-options) or make the test lighter.`,
  )
}
