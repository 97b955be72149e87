// isolation: 'reuse' — one sandbox per worker, reset between files: the next
// file finds none of what the previous one left (processes, /tmp, /dev/shm,
// SysV IPC, hostname, writes and deletions in the copy-on-write root), and
// nothing ever reached the host.
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
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
  devShm: string[]
  sysvShm: number
  etc: string[]
  pristine: string | false
  made: boolean
  cwd: string
  changedHostname: boolean
}

describe("jest: isolation 'reuse'", () => {
  it('two files share one sandbox, reset between them (as root)', { tags: ['root'] }, () => twoFiles(false))
  it('two files share one sandbox, reset between them (rootless (as nobody))', () => twoFiles(true))
})

async function twoFiles(asNobody: boolean): Promise<void> {
  p = project('reuse')
  mkdirSync(join(p.dir, 'seen'), { recursive: true })
  if (asNobody) chmodSync(join(p.dir, 'seen'), 0o777)
  const marker = uniqueSleep()
  const etc = `nsiso-jest-reuse-${process.pid}-${Date.now()}`
  const r = await runJest(p, ['--maxWorkers=1'], { SLEEP_MARKER: marker, ETC_MARKER: etc }, asNobody)
  expect(r.code, output(r)).toBe(0)
  const files = r.usage?.files ?? []
  expect(files.map((f) => f.isolation)).toEqual(['reuse', 'reuse', 'reuse'])
  expect(new Set(files.map((f) => f.sandbox)).size).toBe(1)

  const seen = ['a', 'b'].map((n) => JSON.parse(readFileSync(join(p?.dir ?? '', 'seen', `${n}.json`), 'utf8')) as Seen)
  // Both files found a sandbox as new: the second one nothing of the first.
  const clean = {
    sleepers: 0,
    tmp: [],
    devShm: [],
    sysvShm: 0,
    etc: [],
    pristine: 'as the host has it\n',
    made: false,
  }
  for (const s of seen) {
    expect(s, JSON.stringify(seen)).toMatchObject({ ...clean, changedHostname: !asNobody })
    expect(s.sandbox).toBe(s.expectedHostname)
    expect(s.cwd).toBe(p.dir) // the first file's chdir went with its directory
  }

  // c changes nothing: no reset after it
  expect(files.find((f) => f.file === 'c.test.js')?.reset).toMatchObject({
    skipped: true,
    rootReset: false,
    writes: [],
  })
  for (const f of files.filter((f) => f.file !== 'c.test.js')) {
    expect(f.reset?.rootReset, f.reset?.rootResetError).toBe(true)
    expect(f.reset?.killed.length).toBe(1)
    // As root the files may change the hostname (granted SYS_ADMIN) and the reset sets it back; rootless they may not.
    expect(f.reset?.hostnameRestored).toBe(!asNobody)
    expect(f.reset?.tmpRemoved).toBeGreaterThanOrEqual(1)
    expect(f.reset?.ipcRemoved).toBe(1) // the file's SysV segment
    expect(f.reset?.writes).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`/etc/${etc}-[ab]$`))]))
    expect(f.leaked).toEqual([
      expect.objectContaining({ command: `sleep ${marker}`, test: expect.stringMatching(/leaves state behind/) }),
    ])
  }
  // and nothing reached the host
  expect(pidsWithMarker(marker)).toEqual([])
  expect(readFileSync(join(p.dir, 'pristine.txt'), 'utf8')).toBe('as the host has it\n')
  expect(existsSync(join(p.dir, 'made-by-a-file'))).toBe(false)
  expect(existsSync(`/etc/${etc}-a`) || existsSync(`/etc/${etc}-b`)).toBe(false)
  expect(hostname()).not.toMatch(/^changed-by-/)
}
