/**
 * The `maxWorkers` that the preset and `withNsIsolated` give a config that
 * sets none. Jest's default keeps a core for its own process (cores − 1): on
 * a 2-core machine that leaves one worker, and stock Jest then runs every
 * file in band, in its own process. Under the ns-isolated runner every file
 * runs in a sandboxed worker and Jest's process only hands files out and
 * relays results, so a 2-core machine gets two workers instead of one and an
 * idle core. Elsewhere, and in watch mode, Jest's default stays. A
 * `maxWorkers` in the config, `--maxWorkers`/`-w` and `--runInBand`/`-i` win
 * over it, as over any preset's value.
 */
import { availableParallelism } from 'node:os'

const WATCH = /^--watch(All)?(=true)?$/

export function defaultMaxWorkers(
  argv: readonly string[] = process.argv,
  cores = availableParallelism(),
): number | undefined {
  if (cores !== 2 || argv.some((a) => WATCH.test(a))) return undefined
  return 2
}
