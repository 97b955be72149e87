/** For `.then(resolvedInstead, (e) => e as T)`: a call that should have rejected but resolved fails the test. */
export function resolvedInstead(value: unknown): never {
  throw new Error(`expected a rejection; resolved with ${JSON.stringify(value)}`)
}
