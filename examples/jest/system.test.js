const fs = require('node:fs')
const os = require('node:os')

test('the hostname is the sandbox’s own', () => {
  expect(os.hostname()).toBe(process.env.NS_ISOLATED_INSIDE)
})

test('writing /etc only changes the sandbox’s copy-on-write root', () => {
  fs.writeFileSync('/etc/ns-isolated-example', 'gone when the file ends')
  expect(fs.readFileSync('/etc/ns-isolated-example', 'utf8')).toBe('gone when the file ends')
})
