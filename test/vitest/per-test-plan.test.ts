/**
 * `isolation: 'test'`: which test each sandbox runs (tree order over what
 * stock would run) and which sandbox reports each task, on task trees shaped
 * as Vitest collects them. The end-to-end proof against stock Vitest is
 * per-test-reporting.test.ts.
 */
import { expect, test } from 'vitest'
import { planRuns, RunMerge } from '../../plugins/vitest/dist/host/merge-runs.js'
import { keepOnlyTest, runnableTests, type TaskNode } from '../../plugins/vitest/dist/test-order.js'

const t = (id: string, mode = 'run'): TaskNode => ({ id, type: 'test', mode })
const s = (id: string, tasks: TaskNode[], mode = 'run'): TaskNode => ({ id, type: 'suite', mode, tasks })

/** file: a, skipped, D1 { b, c }, D2 (skipped) { d }, D3 { todo, e, e' (same name, own id) } */
function tree(): TaskNode {
  return s('file', [
    t('a'),
    t('skipped', 'skip'),
    s('D1', [t('b'), t('c')]),
    s('D2', [t('d', 'skip')], 'skip'),
    s('D3', [t('todo', 'todo'), t('e'), t('e2')]),
  ])
}

test('the tests stock would run, in tree order', () => {
  expect(runnableTests(tree()).map((x) => x.id)).toEqual(['a', 'b', 'c', 'e', 'e2'])
})

test('keepOnlyTest skips every other test, and the suites it left without one', () => {
  const file = tree()
  const skipped = keepOnlyTest(file, 2) ?? []
  expect(skipped.map((x) => x.id).sort()).toEqual(['D3', 'a', 'b', 'e', 'e2'])
  const modes = (n: TaskNode): string[] => [`${n.id}:${n.mode}`, ...(n.tasks ?? []).flatMap(modes)]
  expect(modes(file)).toEqual([
    'file:run',
    'a:skip',
    'skipped:skip',
    'D1:run',
    'b:skip',
    'c:run',
    'D2:skip',
    'd:skip',
    'D3:skip',
    'todo:todo',
    'e:skip',
    'e2:skip',
  ])
  expect(keepOnlyTest(tree(), 5)).toBeUndefined()
})

test('each suite is entered by the runs of its tests; what stock skips is reported by the run of the test before it', () => {
  const plan = planRuns(tree())
  expect(plan.tests).toEqual(['a', 'b', 'c', 'e', 'e2'])
  expect(Object.fromEntries(plan.suites)).toEqual({
    file: { first: 0, last: 4 },
    D1: { first: 1, last: 2 },
    D3: { first: 3, last: 4 },
  })
  expect(Object.fromEntries(plan.owners)).toEqual({ skipped: 0, D2: 2, todo: 3 })
})

test('a suite starts with its first run and ends with its last, failed once when a run failed it', () => {
  const merge = new RunMerge(planRuns(tree()))
  const error = { name: 'Error', message: 'beforeAll broke', stack: 'Error: beforeAll broke' }
  const run1 = merge.taskUpdate(
    1,
    [['D1', { state: 'fail', startTime: 10, duration: 5, errors: [error] }, {}]],
    [
      ['D1', 'suite-prepare', undefined],
      ['D1', 'suite-finished', undefined],
      ['a', 'test-finished', undefined],
    ],
  )
  expect(run1?.[1]).toEqual([['D1', 'suite-prepare', undefined]])
  expect(run1?.[0][0]?.[1]).toMatchObject({ state: 'run', startTime: 10 })
  const run2 = merge.taskUpdate(
    2,
    [['D1', { state: 'fail', startTime: 20, duration: 7, errors: [error] }, {}]],
    [
      ['D1', 'suite-prepare', undefined],
      ['D1', 'suite-finished', undefined],
    ],
  )
  expect(run2?.[1]).toEqual([['D1', 'suite-finished', undefined]])
  expect(run2?.[0][0]?.[1]).toEqual({ state: 'fail', startTime: 10, duration: 12, errors: [error] })
})

test('snapshot counts add up; a key any run left unchecked is obsolete once', () => {
  const merge = new RunMerge(planRuns(s('file', [t('a'), t('b')])))
  const result = (over: object) => ({
    filepath: 'f',
    added: 0,
    fileDeleted: false,
    matched: 0,
    unchecked: 0,
    uncheckedKeys: [],
    unmatched: 0,
    updated: 0,
    ...over,
  })
  expect(merge.snapshotSaved(0, result({ added: 1, unchecked: 1, uncheckedKeys: ['gone 1'] }))).toBeUndefined()
  expect(merge.snapshotSaved(1, result({ matched: 2, unchecked: 1, uncheckedKeys: ['gone 1'] }))).toEqual(
    result({ added: 1, matched: 2, unchecked: 1, uncheckedKeys: ['gone 1'] }),
  )
})
