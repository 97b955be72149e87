// The Jest environment's options file may not import the core (it loads in
// every sandbox), so it carries a copy of the core's sandbox option keys:
// this keeps the copy true.
import { createRequire } from 'node:module'
import { expect, test } from 'vitest'
import { SANDBOX_OPTION_KEYS } from '../../src/options.ts'

test("the Jest side's sandbox keys are the core's", () => {
  const require = createRequire(import.meta.url)
  const { SANDBOX_KEYS } = require('../../plugins/jest/dist/options.js') as { SANDBOX_KEYS: readonly string[] }
  expect([...SANDBOX_KEYS].sort()).toEqual([...SANDBOX_OPTION_KEYS].sort())
})
