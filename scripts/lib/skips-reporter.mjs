// A Vitest reporter for `npm test` (scripts/run-tests.mjs): writes every
// skipped test, with why, to the file named by NS_ISOLATED_SKIPS_FILE. The
// reason is the note of a runtime skip (`ctx.skip(reason)`), else the
// descriptions of the test's tags that skip it here (vitest.config.ts).
import { writeFileSync } from 'node:fs'
import { relative } from 'node:path'

export default class SkipsReporter {
  onTestRunEnd(modules) {
    const file = process.env.NS_ISOLATED_SKIPS_FILE
    if (!file) return
    const skipped = []
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const result = test.result()
        if (result.state !== 'skipped') continue
        const definitions = test.project.config.tags ?? []
        const byTag = (test.tags ?? [])
          .map((name) => definitions.find((d) => d.name === name))
          .filter((d) => d?.skip)
          .map((d) => d.description ?? d.name)
        const reason =
          result.note ?? (byTag.length ? byTag.join('; ') : test.options.mode === 'todo' ? 'todo' : 'no reason given')
        skipped.push({ file: relative(process.cwd(), module.moduleId), name: test.fullName, reason })
      }
    }
    writeFileSync(file, `${JSON.stringify(skipped)}\n`)
  }
}
