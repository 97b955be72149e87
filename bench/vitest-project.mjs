// What the Vitest benches share: a project in a temp dir with our packages
// as `npm install` puts them (installed.mjs), the environment of a user's
// run (none of our variables, no CI), and one timed `vitest run`.
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { busyMs } from './cpu.mjs'
import { installOurPackages } from './installed.mjs'

const vitest = join(resolve(import.meta.dirname, '..'), 'node_modules/vitest/vitest.mjs')

/** A new project dir (`prefix` names it under the temp dir), ready for test files and configs. */
export function vitestProject(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  installOurPackages(dir, { linkOthers: true })
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n')
  return dir
}

/** The environment of a user's `vitest run`. */
export function userEnv() {
  const env = { ...process.env, NO_COLOR: '1' }
  for (const k of Object.keys(env)) if (/^(VITEST|NS_ISOLATED|CI$)/.test(k)) delete env[k]
  return env
}

/** One `vitest run --config <config> --maxWorkers=<n>` in `dir`: its wall time and the machine's busy CPU time meanwhile. */
export function timedRun(dir, config, maxWorkers, env) {
  return new Promise((resolvePromise, reject) => {
    const t = performance.now()
    const cpu = busyMs()
    const c = spawn(process.execPath, [vitest, 'run', '--config', config, `--maxWorkers=${maxWorkers}`], {
      cwd: dir,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    c.stderr.on('data', (d) => {
      err += d
    })
    c.on('error', reject)
    c.on('close', (code) =>
      code === 0
        ? resolvePromise({ ms: performance.now() - t, cpu: busyMs() - cpu })
        : reject(new Error(`vitest (${config}) exited ${code}\n${err}`)),
    )
  })
}

/** The median of a list of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
