/**
 * The per-run memo the pool uses for what every sandbox of a project needs
 * (its passthrough paths: a stat and a snapshot-path resolution per test
 * file, which done at each file's start made a run O(files²)).
 */
import { expect, test } from 'vitest'
import { RunState } from '../../plugins/vitest/dist/host/run-state.js'

test('memo computes once per owner and key within a run, again after a new run starts', () => {
  const state = new RunState()
  const project = {}
  let made = 0
  const make = () => ({ n: ++made })
  const first = state.memo(project, 'a\0b', make)
  expect(state.memo(project, 'a\0b', make)).toBe(first)
  expect(made).toBe(1)
  // another project, or the same project with other files: computed anew
  expect(state.memo({}, 'a\0b', make)).toEqual({ n: 2 })
  expect(state.memo(project, 'a\0b\0c', make)).toEqual({ n: 3 })
  // a new run (watch mode): files may have changed on disk, nothing is reused
  state.reset()
  expect(state.memo(project, 'a\0b\0c', make)).toEqual({ n: 4 })
})
