/**
 * jest-junit's `testCasePropertiesFile`: each test case's ns-isolated
 * figures as `<property>`s (`ns-isolated.cpu-ms`, `ns-isolated.leaked`, the
 * file's `ns-isolated.file.*`), the names Vitest's JUnit output uses. The
 * runner leaves them on each test's result; a test run unsandboxed has none.
 *
 *   reporters: ['default', ['jest-junit', junitOptions()], 'jest-environment-ns-isolated/reporter']
 */
import { dirname } from 'node:path'
import { RESULT_KEY } from './report'

/** One test case's properties (jest-junit calls it with the test's result). */
function properties(testCase: Record<string, unknown>): Record<string, string> {
  return (testCase[RESULT_KEY] as Record<string, string> | undefined) ?? {}
}

/** jest-junit options that point it at this module (its directory and file name are joined by jest-junit). */
function junitOptions(): { testCasePropertiesDirectory: string; testCasePropertiesFile: string } {
  return { testCasePropertiesDirectory: dirname(__filename), testCasePropertiesFile: 'junit.js' }
}

module.exports = Object.assign(properties, { junitOptions })
