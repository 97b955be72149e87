/**
 * One usage report from several (`ns-isolated report merge`): the JSON
 * reports of a run split across machines (`jest --shard=i/n`, each shard
 * writing its own), joined into the report the whole run would have written.
 * Each input is checked, and a mistake is a TypeError that names the file
 * and what is wrong with it: not JSON, not a usage report, another version,
 * two reports of the same shard or the same test file, a shard missing.
 */
import { createRunReport, type FileReport, REPORT_VERSION, type RunReport } from './schema.ts'

/** A report as it is read: the core's shape, plus what a front door may add (kept as it is). */
interface InputReport extends RunReport {
  unsandboxed?: { file: string; reason: string }[]
  shard?: { index: number; count: number }
}

/** The merged report: the core's shape, with the files that were not sandboxed, from every input. */
export interface MergedReport extends RunReport {
  unsandboxed?: { file: string; reason: string }[]
  /** How many shard reports were merged, when the inputs were shards. */
  shards?: number
}

export interface MergeInput {
  /** Where it came from (a path), for the error messages. */
  name: string
  text: string
}

function parse(input: MergeInput): InputReport {
  let data: unknown
  try {
    data = JSON.parse(input.text)
  } catch (e) {
    throw new TypeError(`ns-isolated report merge: ${input.name} is not JSON (${(e as Error).message}).`)
  }
  const o = data as Partial<InputReport> | null
  if (typeof o !== 'object' || o === null || !Array.isArray(o.files) || o.version === undefined) {
    throw new TypeError(
      `ns-isolated report merge: ${input.name} is not an ns-isolated usage report (no \`version\` and \`files\`): give the files the reporter wrote (report: { json: … }).`,
    )
  }
  if (o.version !== REPORT_VERSION) {
    throw new TypeError(
      `ns-isolated report merge: ${input.name} is a version ${JSON.stringify(o.version)} report; this ns-isolated reads version ${REPORT_VERSION}: merge with the ns-isolated that wrote it.`,
    )
  }
  for (const f of o.files) {
    if (typeof f !== 'object' || f === null || typeof (f as FileReport).file !== 'string') {
      throw new TypeError(`ns-isolated report merge: ${input.name} has a file entry without a \`file\` name.`)
    }
  }
  return o as InputReport
}

/** Merges usage reports (see the module's comment); throws a TypeError naming the input that is wrong. */
export function mergeRunReports(inputs: MergeInput[], options: { partial?: boolean } = {}): MergedReport {
  if (inputs.length === 0) throw new TypeError('ns-isolated report merge: give at least one report.')
  const reports = inputs.map((input) => ({ input, report: parse(input) }))

  const sharded = reports.filter((r) => r.report.shard)
  if (sharded.length > 0) {
    const plain = reports.find((r) => !r.report.shard)
    if (plain) {
      throw new TypeError(
        `ns-isolated report merge: ${plain.input.name} is not a shard's report, while ${sharded[0]?.input.name} is: merge the reports of one sharded run.`,
      )
    }
    const count = sharded[0]?.report.shard?.count as number
    const seen = new Map<number, string>()
    for (const { input, report } of sharded) {
      const shard = report.shard as { index: number; count: number }
      if (shard.count !== count) {
        throw new TypeError(
          `ns-isolated report merge: ${input.name} is shard ${shard.index}/${shard.count}, ${sharded[0]?.input.name} is of ${count} shards: merge the reports of one sharded run.`,
        )
      }
      const twice = seen.get(shard.index)
      if (twice) {
        throw new TypeError(
          `ns-isolated report merge: shard ${shard.index}/${count} is there twice: ${twice} and ${input.name}.`,
        )
      }
      seen.set(shard.index, input.name)
    }
    const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i))
    if (missing.length > 0 && !options.partial) {
      throw new TypeError(
        `ns-isolated report merge: shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${count}`).join(', ')} missing: give every shard's report, or --partial to merge what is there.`,
      )
    }
  }

  const owner = new Map<string, string>()
  const files: FileReport[] = []
  const unsandboxed: { file: string; reason: string }[] = []
  for (const { input, report } of reports) {
    for (const f of [...report.files, ...(report.unsandboxed ?? [])]) {
      const other = owner.get(f.file)
      if (other) {
        throw new TypeError(
          `ns-isolated report merge: ${f.file} is in ${other} and in ${input.name}: the reports overlap (the same run or shard twice?).`,
        )
      }
      owner.set(f.file, input.name)
    }
    files.push(...report.files)
    unsandboxed.push(...(report.unsandboxed ?? []))
  }
  files.sort((a, b) => a.file.localeCompare(b.file))
  unsandboxed.sort((a, b) => a.file.localeCompare(b.file))
  const merged: MergedReport = createRunReport(files)
  if (reports.some((r) => r.report.unsandboxed)) merged.unsandboxed = unsandboxed
  if (sharded.length > 0) merged.shards = sharded.length
  return merged
}
