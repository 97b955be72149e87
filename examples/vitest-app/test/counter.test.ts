// @vitest-environment jsdom
// A component test in jsdom: isolated, the file still runs jsdom (its own
// environment), inside its sandbox.
import { beforeEach, expect, test } from 'vitest'
import { mountCounter } from '../src/counter.ts'

beforeEach(() => {
  document.body.innerHTML = '<div id="app"></div>'
})

test('renders the initial count', () => {
  const button = mountCounter(document.getElementById('app') as HTMLElement)
  expect(button.textContent).toBe('clicked 0 times')
})

test('counts clicks', () => {
  const button = mountCounter(document.getElementById('app') as HTMLElement)
  button.click()
  button.click()
  expect(button.textContent).toBe('clicked 2 times')
  expect(document.querySelectorAll('#app button')).toHaveLength(1)
})
