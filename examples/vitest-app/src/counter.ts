// A counter component: a button that counts its clicks.
export function mountCounter(root: HTMLElement, label = 'clicked'): HTMLButtonElement {
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
