// A DOM component: a button that counts its clicks.
function mountCounter(root, { label = 'Clicked' } = {}) {
  let count = 0
  const button = root.ownerDocument.createElement('button')
  const render = () => {
    button.textContent = `${label} ${count} time${count === 1 ? '' : 's'}`
  }
  button.addEventListener('click', () => {
    count++
    render()
  })
  render()
  root.append(button)
  return button
}

module.exports = { mountCounter }
