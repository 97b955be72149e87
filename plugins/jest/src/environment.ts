/**
 * `testEnvironment: 'ns-isolated'` (worker side): jest-environment-node,
 * plus per-test figures and leak tracking from the sandbox's own /proc, and
 * the reset between files in `reuse` mode. It runs only inside a sandbox
 * that the ns-isolated runner started; anywhere else it refuses, naming the
 * one-line fix, because running "isolated" tests unisolated would pass
 * silently and prove nothing.
 */

// First: an old Node is refused (the runner refused it already, unless the environment is used without it).
import './node-gate'
import { flushCompileCache } from 'node:module'
import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment'
import type { Circus } from '@jest/types'
import type * as JestEnvironmentNode from 'jest-environment-node'
import type * as JestWorker from 'jest-worker'
import { requireFromJestRunner } from './jest-modules'
import { FILE_EVENT, type FileMessage } from './messages'
import { type Isolation, splitOptions } from './options'
import { killAll, resetForNextFile, type SandboxState, sandboxState } from './sandbox/reset'
import { UsageTracker } from './sandbox/tracker'

const jestRequire = requireFromJestRunner()
const { TestEnvironment: NodeEnvironment } = jestRequire('jest-environment-node') as typeof JestEnvironmentNode
const { messageParent } = jestRequire('jest-worker') as typeof JestWorker

/** Set by the core in every sandbox: its hostname (the core's `INSIDE_ENV`). */
const INSIDE_ENV = 'NS_ISOLATED_INSIDE'

/** The error an environment without the runner throws. */
export function notInsideMessage(testPath: string): string {
  return [
    `ns-isolated: ${testPath} asks for the ns-isolated test environment, but Jest is running it outside a sandbox:`,
    'the ns-isolated runner is not configured, so nothing would be isolated.',
    "Fix: add `preset: 'jest-environment-ns-isolated'` to your Jest config (it sets the runner, the environment and the usage reporter),",
    "or set `runner: 'jest-environment-ns-isolated/runner'` next to your `testEnvironment`.",
  ].join('\n')
}

function testPathOf(test: Circus.TestEntry): string[] {
  const path = [test.name]
  for (
    let block = test.parent;
    block && block.name !== 'ROOT_DESCRIBE_BLOCK';
    block = block.parent as Circus.DescribeBlock
  ) {
    path.unshift(block.name)
  }
  return path
}

/** The sandbox as this file found it (reuse mode): what differs at its end is the file's doing. */
let before: SandboxState | undefined

export default class NsIsolatedEnvironment extends NodeEnvironment {
  readonly #testPath: string
  readonly #sandbox: string
  readonly #isolation: Isolation
  #tracker: UsageTracker | undefined

  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    const inside = process.env[INSIDE_ENV]
    if (!inside) throw new Error(notInsideMessage(context.testPath))
    const { jest, rest } = splitOptions(config.projectConfig.testEnvironmentOptions)
    // Our keys are not globals for the test: hand jest-environment-node the rest only.
    super({ ...config, projectConfig: { ...config.projectConfig, testEnvironmentOptions: rest } }, context)
    this.#testPath = context.testPath
    this.#sandbox = inside
    this.#isolation = jest.isolation === 'reuse' ? 'reuse' : 'fresh'
  }

  override async setup(): Promise<void> {
    await super.setup()
    if (this.#isolation === 'reuse') before ??= sandboxState()
    this.#tracker = new UsageTracker()
  }

  async handleTestEvent(event: Circus.Event): Promise<void> {
    if (event.name === 'test_start') this.#tracker?.testStart(testPathOf(event.test))
    else if (event.name === 'test_done') this.#tracker?.testDone()
  }

  override async teardown(): Promise<void> {
    const tracker = this.#tracker
    this.#tracker = undefined
    if (tracker) {
      const leaked = tracker.leaks()
      const message: FileMessage = {
        testPath: this.#testPath,
        sandbox: this.#sandbox,
        tests: tracker.tests,
        leaked,
        ...tracker.fileFigures(),
      }
      const pids = leaked.map((l) => l.pid)
      if (this.#isolation === 'reuse') {
        const { report, after } = await resetForNextFile(pids, this.#sandbox, before ?? sandboxState())
        message.reset = report
        before = after
      } else {
        // The sandbox ends with the file anyway; killing now keeps the figures and the report the same in both modes.
        await killAll(pids)
      }
      // Node writes its compile cache (compileCache, NODE_COMPILE_CACHE) at exit, and a fresh
      // worker is ended by SIGTERM the moment its result is in: write what this worker compiled now.
      flushCompileCache?.()
      try {
        messageParent([FILE_EVENT, message])
      } catch {
        // not under jest-worker (cannot happen with our runner): the figures are lost, the tests are not
      }
    }
    await super.teardown()
  }
}

export { NsIsolatedEnvironment as TestEnvironment }
