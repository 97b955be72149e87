/**
 * A test's figures as JUnit `<property>`s, the same names in every runner:
 * Vitest's JUnit reporter writes them from each test's annotations, Jest's
 * jest-junit from its `testCasePropertiesFile`
 * (`jest-environment-ns-isolated/junit`). Loads nothing.
 */
import type { FileReport, TestReport } from './schema.ts'

/** `ns-isolated.cpu-ms`, `ns-isolated.leaked` (`pid command; …`), and the file's figures as `ns-isolated.file.*`. */
export function junitProperties(file: FileReport, test: TestReport): Record<string, string> {
  const out: Record<string, string> = {}
  const add = (name: string, value: number | string | null | undefined) => {
    if (value !== null && value !== undefined) out[`ns-isolated.${name}`] = String(value)
  }
  add('cpu-ms', test.cpuMs === null ? null : Math.round(test.cpuMs))
  const leaked = test.leaked ?? file.leaked.filter((l) => l.test === test.name)
  if (leaked.length > 0) add('leaked', leaked.map((l) => `${l.pid} ${l.command}`).join('; '))
  add('file.wall-ms', Math.round(file.wallMs))
  add('file.cpu-ms', file.cpuUserMs === null ? null : Math.round(file.cpuUserMs + (file.cpuSystemMs ?? 0)))
  add('file.memory-peak-bytes', file.memoryPeakBytes)
  add('file.pids-peak', file.pidsPeak)
  add('file.oom-kills', file.oomKills)
  if (file.capHit) add('file.cap-hit', `${file.capHit.cap}: ${file.capHit.detail}`)
  return out
}
