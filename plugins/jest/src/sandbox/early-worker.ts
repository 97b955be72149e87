/**
 * The entry of a Jest worker started ahead (host/early.ts), in front of
 * jest-runner's `testWorker.js`. jest-worker hands a worker its setup data
 * when it starts; this one started before Jest had crawled the project, so
 * the data (the projects' module maps) comes with its first file instead,
 * or, for a worker jest-worker started again, with its start as usual.
 */
import { EARLY_ENV, type EarlyCall, type EarlyWorker } from '../messages'

type TestWorker = {
  setup(...args: unknown[]): void | Promise<void>
  worker(request: unknown): Promise<unknown>
}

const early = JSON.parse(process.env[EARLY_ENV] ?? '{}') as EarlyWorker
const testWorker = require(early.testWorker) as TestWorker
/** The host's new plan moves the sandbox's root under this process; its working directory stays in the old one. */
const startCwd = process.cwd()
let ready = false

async function setUp(args: unknown[]): Promise<void> {
  process.chdir(startCwd)
  await testWorker.setup(...args)
  ready = true
}

export async function setup(...args: unknown[]): Promise<void> {
  if (args.length > 0) await setUp(args)
}

export async function worker(call: EarlyCall<unknown>): Promise<unknown> {
  if (!ready) {
    if (!call.setupArgs) throw new Error('ns-isolated: internal: a worker started ahead got a file before its setup')
    await setUp(call.setupArgs)
  }
  return testWorker.worker(call.request)
}
