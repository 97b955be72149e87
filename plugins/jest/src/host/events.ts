/**
 * The runner's event emitter: Jest subscribes with `on` and gets an
 * unsubscribe function back; `emit` waits for every listener, as the stock
 * runner's (emittery) does, so Jest has handled a file's result before the
 * run moves on.
 */
type Listener = (data: never) => unknown

export class RunnerEvents {
  readonly #listeners = new Map<string, Set<Listener>>()

  on(name: string, listener: Listener): () => void {
    let set = this.#listeners.get(name)
    if (!set) {
      set = new Set()
      this.#listeners.set(name, set)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
    }
  }

  async emit(name: string, data: unknown): Promise<void> {
    const set = this.#listeners.get(name)
    if (!set) return
    await Promise.all([...set].map(async (l) => (l as (d: unknown) => unknown)(data)))
  }
}
