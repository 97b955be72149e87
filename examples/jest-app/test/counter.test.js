/**
 * @jest-environment jsdom
 */
const { mountCounter } = require('../src/counter')

beforeEach(() => {
  document.body.innerHTML = '<main id="app"></main>'
})

test('renders with no clicks', () => {
  const button = mountCounter(document.getElementById('app'))
  expect(button.textContent).toBe('Clicked 0 times')
})

test('counts clicks', () => {
  const button = mountCounter(document.getElementById('app'), { label: 'Pressed' })
  button.click()
  button.click()
  expect(document.querySelector('#app button').textContent).toBe('Pressed 2 times')
})
