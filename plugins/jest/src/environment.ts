/**
 * `testEnvironment: 'ns-isolated'` (worker side), and the wrapper the runner
 * gives every sandboxed file: the file's own environment (node, jsdom, a
 * custom one; from the config or its `@jest-environment` docblock), loaded
 * by Jest as usual and delegated to, plus per-test figures and leak
 * tracking, and the reset between files in `reuse` mode. Alone (the
 * preset's `testEnvironment`), its inner environment is
 * jest-environment-node.
 *
 * It runs only in a worker that the ns-isolated runner started (in a
 * sandbox, or as the subreaper's child where the host refused namespaces
 * and `fallback: 'subreaper'` was chosen); anywhere else it refuses, naming
 * the one-line fix, because running "isolated" tests unisolated would pass
 * silently and prove nothing.
 */

// First: an old Node is refused (the runner refused it already, unless the environment is used without it).
import './node-gate'
import { flushCompileCache } from 'node:module'
import type { EnvironmentContext, JestEnvironment, JestEnvironmentConfig } from '@jest/environment'
import type { Circus } from '@jest/types'
import type * as JestEnvironmentNode from 'jest-environment-node'
import type * as JestWorker from 'jest-worker'
import { INSIDE_ENV } from 'ns-isolated/sandbox'
import { requireFromJestRunner } from './jest-modules'
import { FILE_EVENT, type FileMessage, NO_NAMESPACES_ENV, PLAN_EVENT, TEST_INDEX_ENV } from './messages'
import { DEFAULT_ISOLATION, type Isolation, splitOptions } from './options'
import { OneTest } from './sandbox/one-test'
import { killAll, resetForNextFile, type SandboxState, sandboxState } from './sandbox/reset'
import { UsageTracker } from './sandbox/tracker'

const jestRequire = requireFromJestRunner()
const { messageParent } = jestRequire('jest-worker') as typeof JestWorker

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

function sendToRunner(message: [string, unknown]): void {
  try {
    messageParent(message)
  } catch {
    // not under jest-worker (cannot happen with our runner): the figures are lost, the tests are not
  }
}

/** An environment class as Jest loads it (`new TestEnvironment(config, context)`). */
export type EnvironmentClass = new (config: JestEnvironmentConfig, context: EnvironmentContext) => JestEnvironment

/** The sandbox as this file found it (reuse mode): what differs at its end is the file's doing. */
let before: SandboxState | undefined

/** Where this worker runs: the sandbox's hostname, or (no namespaces) why there are none. */
function whereAmI(): { sandbox: string; namespaces: boolean } | undefined {
  const inside = process.env[INSIDE_ENV]
  if (inside) return { sandbox: inside, namespaces: true }
  if (process.env[NO_NAMESPACES_ENV]) return { sandbox: '', namespaces: false }
  return undefined
}

export default class NsIsolatedEnvironment implements JestEnvironment {
  /** The environment this one delegates to; jest-environment-node unless `wrapEnvironment` says otherwise. */
  static inner: EnvironmentClass | undefined
  readonly #inner: JestEnvironment
  readonly #testPath: string
  readonly #sandbox: string
  readonly #namespaces: boolean
  readonly #isolation: Isolation
  #tracker: UsageTracker | undefined
  /** isolation 'test': the one test of the file this sandbox runs. */
  readonly #oneTest: OneTest | undefined

  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    const where = whereAmI()
    if (!where) throw new Error(notInsideMessage(context.testPath))
    const { jest, rest } = splitOptions(config.projectConfig.testEnvironmentOptions)
    const Inner =
      (new.target as typeof NsIsolatedEnvironment).inner ??
      (jestRequire('jest-environment-node') as typeof JestEnvironmentNode).TestEnvironment
    // Our keys are not the inner environment's (jest-environment-node would make them globals): it gets the rest.
    this.#inner = new Inner(
      { ...config, projectConfig: { ...config.projectConfig, testEnvironmentOptions: rest } },
      context,
    )
    this.#testPath = context.testPath
    this.#sandbox = where.sandbox
    this.#namespaces = where.namespaces
    this.#isolation =
      jest.isolation === 'fresh' || jest.isolation === 'reuse' || jest.isolation === 'test'
        ? jest.isolation
        : DEFAULT_ISOLATION
    const index = process.env[TEST_INDEX_ENV]
    // Not the tests' to see (a test's `process.env` is a copy of the worker's).
    delete process.env[TEST_INDEX_ENV]
    if (this.#isolation === 'test' && index !== undefined)
      this.#oneTest = new OneTest(Number(index), context.console, this.#inner.global)
  }

  get global(): JestEnvironment['global'] {
    return this.#inner.global
  }
  get fakeTimers(): JestEnvironment['fakeTimers'] {
    return this.#inner.fakeTimers
  }
  get fakeTimersModern(): JestEnvironment['fakeTimersModern'] {
    return this.#inner.fakeTimersModern
  }
  get moduleMocker(): JestEnvironment['moduleMocker'] {
    return this.#inner.moduleMocker
  }
  getVmContext(): ReturnType<JestEnvironment['getVmContext']> {
    return this.#inner.getVmContext()
  }
  exportConditions(): string[] {
    return this.#inner.exportConditions?.() ?? []
  }

  async setup(): Promise<void> {
    await this.#inner.setup()
    if (this.#isolation === 'reuse' && this.#namespaces) before ??= sandboxState()
    this.#tracker = new UsageTracker()
  }

  async handleTestEvent(event: Circus.Event, state: Circus.State): Promise<void> {
    if (this.#oneTest) {
      if (event.name === 'run_start') sendToRunner([PLAN_EVENT, this.#oneTest.start(state)])
      else this.#oneTest.event(event)
    }
    if (event.name === 'test_start') this.#tracker?.testStart(testPathOf(event.test))
    else if (event.name === 'test_done') this.#tracker?.testDone()
    await this.#inner.handleTestEvent?.(event as never, state)
  }

  async teardown(): Promise<void> {
    const tracker = this.#tracker
    this.#tracker = undefined
    if (tracker) {
      const leaked = await tracker.leaks()
      const message: FileMessage = {
        testPath: this.#testPath,
        sandbox: this.#sandbox,
        tests: tracker.tests,
        leaked,
        ...tracker.fileFigures(),
      }
      const pids = leaked.map((l) => l.pid)
      if (this.#isolation === 'reuse' && this.#namespaces) {
        const { report, after } = await resetForNextFile(pids, this.#sandbox, before ?? sandboxState())
        message.reset = report
        before = after
      } else {
        // Fresh: the sandbox ends with the file anyway; killing now keeps the figures and the report the same in
        // both modes. Without namespaces there is nothing of ours to reset (/tmp, the hostname are the host's).
        await killAll(pids)
      }
      // Node writes its compile cache (compileCache, NODE_COMPILE_CACHE) at exit, and a fresh
      // worker is ended by SIGTERM the moment its result is in: write what this worker compiled now.
      flushCompileCache?.()
      sendToRunner([FILE_EVENT, message])
    }
    await this.#inner.teardown()
  }
}

/**
 * The file's own environment class, wrapped: what the runner's sandboxed
 * workers run (see sandbox/preload.ts). Ours, or a subclass of it, stays as
 * it is.
 */
export function wrapEnvironment(Inner: EnvironmentClass): EnvironmentClass {
  if (Inner === NsIsolatedEnvironment || Inner.prototype instanceof NsIsolatedEnvironment) return Inner
  return class extends NsIsolatedEnvironment {
    static override inner = Inner
  }
}

export { NsIsolatedEnvironment as TestEnvironment }
