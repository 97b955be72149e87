/**
 * Which cap a sandbox ran into, and the message a failing file shows. The
 * core says it (`result.caps.hit`: memory when the kernel OOM-killed a
 * process, pids when the peak reached the cap).
 */
import { formatBytes } from 'ns-isolated'
import type { CapHitInfo, ResultWithUsage } from './run-state.ts'

export { formatBytes }

/** The first cap hit, memory first (an OOM kill explains a dead worker better than a pids peak). */
export function capHitOf(result: ResultWithUsage): CapHitInfo | undefined {
  const hits = (result.caps?.hit ?? []) as CapHitInfo[]
  return hits.find((h) => h.cap === 'memory') ?? hits[0]
}

/** `exceeded memory cap 512 MiB: 1 process OOM-killed` */
export function describeCap(hit: CapHitInfo): string {
  if (/^(exceeded|reached) /.test(hit.detail)) return hit.detail
  const limit =
    hit.cap === 'memory' ? formatBytes(hit.limit) : hit.cap === 'cpu' ? `${hit.limit} cores` : `${hit.limit} tasks`
  return `exceeded ${hit.cap} cap ${limit}: ${hit.detail}`
}

export function capMessage(files: string[], hit: CapHitInfo): string {
  const what =
    files.length === 1 ? `test file ${files[0]}` : files.length > 1 ? `test files ${files.join(', ')}` : 'a test file'
  return `ns-isolated: ${what} ${describeCap(hit)}. Raise the cap (plugin option \`${hit.cap}\`, or per file with @vitest-environment-options) or make the test lighter.`
}
