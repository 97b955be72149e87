// Jest's transform cache is written from inside the sandboxes (the cache
// directory is a writable bind) and reused on the next run, as with stock
// Jest. The fixture's babel plugin records each file babel transforms and
// each cache write's temp file.
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { output, type Project, project, runJestRaw } from './helpers.ts'

let p: Project | undefined
afterEach(() => {
  p?.cleanup()
  p = undefined
})

/** The transform cache's entries (path → inode and mtime). */
function entries(q: Project): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, e.name)
      if (e.isDirectory()) walk(full)
      else if (full.includes('/jest-transform-cache-')) {
        const s = statSync(full)
        out[relative(q.dir, full)] = `${s.ino}@${s.mtimeMs}`
      }
    }
  }
  walk(join(q.dir, '.jest-cache'))
  return out
}

/** What the babel plugin logged since the last call (and empties the log). */
function logged(q: Project, name: 'transformed' | 'cache-writes'): string[] {
  let text = ''
  try {
    text = q.read(`log/${name}`)
  } catch {}
  writeFileSync(join(q.dir, 'log', name), '')
  return text.split('\n').filter(Boolean)
}

describe('jest: transform cache', () => {
  for (const [mode, config] of [
    ['stock Jest', 'jest.stock.config.js'],
    ['isolated', 'jest.config.js'],
  ] as const) {
    it(`${mode}: the first run fills the cache, the second transforms nothing and rewrites no entry`, async () => {
      p = project('transform-cache')
      const first = await runJestRaw(p, ['-c', config, '-i'])
      expect(first.code, output(first)).toBe(0)
      // each file transformed once, also across two sandboxes: the second file's read the first's cache writes
      expect(logged(p, 'transformed').sort()).toEqual(['one.test.js', 'src/greet.js', 'two.test.js'])
      const cached = entries(p)
      for (const name of ['onetest_', 'twotest_', 'greet_'])
        expect(
          Object.keys(cached).some((f) => f.split('/').pop()?.startsWith(name)),
          name,
        ).toBe(true)

      const second = await runJestRaw(p, ['-c', config, '-i'])
      expect(second.code, output(second)).toBe(0)
      expect(logged(p, 'transformed')).toEqual([])
      expect(entries(p)).toEqual(cached)
    })
  }

  it('parallel sandboxed workers never share a cache temp file, although each is pid 2', async () => {
    p = project('transform-cache')
    // a cold cache and two workers: both write cache entries at the same time
    const r = await runJestRaw(p, ['--maxWorkers=2'])
    expect(r.code, output(r)).toBe(0)
    expect(r.stderr).not.toContain('failed to cache transform results')
    const writes = logged(p, 'cache-writes').map((l) => l.split('\t') as [string, string])
    const sandboxWriters = new Set(writes.map(([writer]) => writer).filter((w) => w.startsWith('ns-isolated-')))
    expect(sandboxWriters.size, writes.join('\n')).toBe(2)
    for (const w of sandboxWriters) expect(w).toMatch(/:2$/)
    // write-file-atomic names its temp file after the pid, the thread and a counter: the same in every sandbox
    // unless the runner makes them unique (two writers of one entry would then rename each other's file)
    const temps = writes.map(([, temp]) => temp)
    expect(new Set(temps).size, writes.join('\n')).toBe(temps.length)
  })
})
