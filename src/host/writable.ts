/**
 * The host directories behind a sandbox's `writable` paths. A path must
 * exist on the host to be bound, so a missing one is created as a directory
 * when the sandbox starts (`startSandbox`). When the sandbox ends, what was
 * created for it is removed again where it is still empty and no other live
 * sandbox of this process binds it (removing a directory another sandbox has
 * bound would detach its mount): always after a failed sandbox, so it leaves
 * the host as it found it; after any sandbox where the front door asks
 * (`tidy`: Vitest's snapshot directories, made only to be bound).
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { isUnder } from './mountinfo.ts'

/** Live sandboxes binding each path. */
const users = new Map<string, number>()
/** Paths created here, with the topmost directory made for each: removed (where empty) by their last user. */
const created = new Map<string, string>()

export interface WritableClaim {
  /** The sandbox is done with its paths; `remove`: take away what was created for them, where empty and unused. */
  release(remove: boolean): void
}

/** Claims `paths` for a sandbox about to start: every missing one is created as a directory. */
export function claimWritable(paths: string[]): WritableClaim {
  for (const p of paths) {
    users.set(p, (users.get(p) ?? 0) + 1)
    if (existsSync(p)) continue
    let top = p
    while (!existsSync(dirname(top))) top = dirname(top)
    mkdirSync(p, { recursive: true })
    created.set(p, top)
  }
  let released = false
  return {
    release(remove) {
      if (released) return
      released = true
      for (const p of paths) {
        const n = (users.get(p) ?? 1) - 1
        if (n > 0) {
          users.set(p, n)
          continue
        }
        users.delete(p)
        const top = created.get(p)
        if (top === undefined) continue
        created.delete(p)
        if (remove && ![...users.keys()].some((q) => isUnder(q, top))) removeChain(top)
      }
    },
  }
}

/** Removes `top` and the chain of single, empty directories below it that was made for a path. */
function removeChain(top: string): void {
  const walk = (dir: string): void => {
    try {
      rmdirSync(dir)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY') return
      try {
        const [only, ...rest] = readdirSync(dir)
        if (only !== undefined && rest.length === 0) {
          walk(`${dir}/${only}`)
          rmdirSync(dir)
        }
      } catch {}
    }
  }
  walk(top)
}
