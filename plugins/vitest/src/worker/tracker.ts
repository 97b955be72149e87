/**
 * A setup file the plugin adds to every project. It only hands Vitest's
 * hooks to the tracker (`track.cts`), which does something only in a
 * sandboxed worker: per-test CPU, the processes a test leaves, and the caps
 * a test hits (see there). The tracker is required natively: everything a
 * setup file imports would go through Vite's module runner, which cost each
 * test file ~8 ms (docs/vitest.md).
 */
import { afterAll, afterEach, beforeEach } from 'vitest'
import type { Hooks } from './track.cts'

const require = process.getBuiltinModule('node:module').createRequire(import.meta.url)
;(require('./track.cjs') as { install(hooks: Hooks): void }).install({ afterAll, afterEach, beforeEach })
