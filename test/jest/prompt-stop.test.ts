// A fresh sandbox is stopped the moment its file's result is in (as stock
// Jest kills a worker it restarts), not when the runner gets round to
// ending it. That needs the pid of jest-worker's child and word of its
// exit, read through jest-worker's pool: this keeps that reading true for
// the jest-worker installed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'

const require = createRequire(import.meta.url)
const { Worker } = require('jest-worker') as typeof import('jest-worker')
const { poolChild } = require('../../plugins/jest/dist/host/sandbox-worker.js') as {
  poolChild(worker: unknown): { pid: number; exited(): boolean } | undefined
}

let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

const ppidOf = (pid: number) => Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])

test("jest-worker shows its child's pid and exit to the fresh-mode stop", async () => {
  dir = mkdtempSync(join(tmpdir(), 'ns-isolated-prompt-stop-'))
  const file = join(dir, 'child.js')
  writeFileSync(file, 'exports.pid = () => process.pid\n')
  const worker = new Worker(file, {
    exposedMethods: ['pid'],
    numWorkers: 1,
    enableWorkerThreads: false,
  }) as InstanceType<typeof Worker> & { pid(): Promise<number> }
  const child = poolChild(worker)
  expect(child).toBeDefined()
  if (!child) return
  // The very process that runs the calls, a child of this one, alive.
  expect(await worker.pid()).toBe(child.pid)
  expect(ppidOf(child.pid)).toBe(process.pid)
  expect(child.exited()).toBe(false)
  await worker.end()
  await new Promise((r) => setImmediate(r))
  expect(child.exited()).toBe(true)
})
