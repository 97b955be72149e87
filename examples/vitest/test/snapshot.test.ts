// Snapshots are written from inside the sandbox and land in
// test/__snapshots__ on the host: that directory is passed through.
import { expect, test } from 'vitest'

function greet(name: string) {
  return { greeting: `hello ${name}`, length: name.length }
}

test('matches the stored snapshot', () => {
  expect(greet('sandbox')).toMatchSnapshot()
})
