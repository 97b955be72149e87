// Writing where a test never should: /etc. Inside, the root is a
// copy-on-write overlay, so the write works and is gone with the sandbox;
// the host's /etc never sees it (the usage report lists it as a write).
import { readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { expect, test } from 'vitest'

test('/etc/hosts can be rewritten for this file only', () => {
  writeFileSync('/etc/hosts', '127.0.0.1 api.example.test\n')
  expect(readFileSync('/etc/hosts', 'utf8')).toContain('api.example.test')
})

test('the file has its own hostname', () => {
  expect(hostname()).toBe(process.env.NS_ISOLATED_INSIDE)
})
