// isolation: 'reuse' — one sandbox per worker, reset between files. What is
// reset (leaked processes, /tmp, hostname) is gone for the next file; what is
// documented as not reset (writes to the copy-on-write root) is visible to
// the next file but never reaches the host.
import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pidsWithMarker, uniqueSleep } from '../helpers.ts'
import { output, type Project, project, runJest } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

interface Seen {
  name: string
  sandbox: string
  expectedHostname: string
  sleepers: number
  tmp: string[]
  etc: string[]
}

describe("jest: isolation 'reuse'", () => {
  it('two files share one sandbox, reset between them', async () => {
    p = project('reuse')
    const marker = uniqueSleep()
    const etc = `nsiso-jest-reuse-${process.pid}-${Date.now()}`
    const r = await runJest(p, ['--maxWorkers=1'], { SLEEP_MARKER: marker, ETC_MARKER: etc })
    expect(r.code, output(r)).toBe(0)
    const files = r.usage?.files ?? []
    expect(files.map((f) => f.isolation)).toEqual(['reuse', 'reuse'])
    expect(new Set(files.map((f) => f.sandbox)).size).toBe(1)

    const seen = ['a', 'b'].map(
      (n) => JSON.parse(readFileSync(join(p?.dir ?? '', 'seen', `${n}.json`), 'utf8')) as Seen,
    )
    // Jest picks the order; the first file is the one that found no state at all.
    const first = seen.find((s) => s.etc.length === 0) as Seen
    const second = seen.find((s) => s !== first) as Seen
    expect(first, JSON.stringify(seen)).toBeDefined()
    const firstName = first.name
    expect(first).toMatchObject({ sleepers: 0, tmp: [], etc: [] })
    // reset: the leaked daemon was killed, /tmp emptied, the hostname restored
    expect(second.sleepers).toBe(0)
    expect(second.tmp).toEqual([])
    expect(second.sandbox).toBe(second.expectedHostname)
    // not reset (documented): the first file's write to /etc is visible to the second
    expect(second.etc).toEqual([`${etc}-${firstName}`])

    for (const f of files) {
      expect(f.reset?.killed.length).toBe(1)
      expect(f.reset?.hostnameRestored).toBe(true)
      expect(f.reset?.tmpRemoved).toBeGreaterThanOrEqual(1)
      expect(f.leaked).toEqual([
        expect.objectContaining({ command: `sleep ${marker}`, test: expect.stringMatching(/leaves state behind/) }),
      ])
    }
    // and nothing reached the host
    expect(pidsWithMarker(marker)).toEqual([])
    expect(existsSync(`/etc/${etc}-a`) || existsSync(`/etc/${etc}-b`)).toBe(false)
    expect(hostname()).not.toMatch(/^changed-by-/)
  })
})
