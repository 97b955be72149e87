/**
 * The messages between the host (`isolate`) and the sandboxed process
 * (`child-entry.ts`) over the IPC channel ('advanced' serialization, i.e.
 * V8 structured clone).
 */
import type { TransferredThrow } from './errors-transfer.ts'

/** What to run: a function's source, or an export of a module. */
export type IsolateTarget =
  | {
      kind: 'source'
      source: string
      /** The file the source came from: its stack frames name it, its `import()`s resolve from it. */
      filename: string
      /** 1-based position of the source's first character in `filename` (exact or approximate). */
      line: number
      column: number
      /** Vite's root, when the source was transformed by Vitest (its `import()`s name root-relative paths). */
      viteRoot?: string
    }
  | { kind: 'module'; specifier: string; exportName: string; filename: string }

/** Host → sandbox. */
export interface RunMessage {
  t: 'run'
  target: IsolateTarget
  /** `v8.serialize(args)`, made on the host so a clone failure is caught there. */
  args: Uint8Array
}

/** Sandbox → host. */
export type ChildMessage =
  /** The process is up and waits for its function (a pool knows it is warm). */
  | { t: 'ready' }
  /** `v8.serialize(returnValue)`. */
  | { t: 'value'; payload: Uint8Array }
  | { t: 'threw'; thrown: TransferredThrow }
  /** The return value could not be cloned: where and what. */
  | { t: 'uncloneable'; path: string; kind: string }
