/** Running a real child inside a sandbox cgroup, the way the launcher will: write own pid, then exec. */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { SandboxCgroup } from '../../src/cgroup/index.ts'

export const NODE = process.execPath

function joinScript(cg: Pick<SandboxCgroup, 'procsFiles'>, workload: string): string {
  // A join that fails ends the script: the workload never runs outside the cgroup.
  return [...cg.procsFiles.map((f) => `{ echo $$ > '${f}'; } 2>/dev/null || exit 97`), `exec ${workload}`].join('; ')
}

/** `sh -c 'echo $$ > <procs>…; exec <workload>'`. Resolves with the exit and the child's stdout. */
export function runIn(
  cg: SandboxCgroup,
  workload: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; wallMs: number }> {
  const script = joinScript(cg, workload)
  const start = performance.now()
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => {
    stdout += d
  })
  child.stderr.resume()
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, wallMs: performance.now() - start }))
  })
}

/** Starts a workload in the cgroup without waiting for it. */
export function startIn(cg: Pick<SandboxCgroup, 'procsFiles'>, workload: string) {
  const child = spawn('sh', ['-c', joinScript(cg, workload)], { stdio: 'ignore' })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  )
  return { child, exited }
}

/** Directories of this process's sandbox cgroups still present in the real tree. */
export function leftoverCgroups(pid = process.pid): string[] {
  const out: string[] = []
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const parent = join('/sys/fs/cgroup', h, 'ns-isolated')
    if (!existsSync(parent)) continue
    for (const d of readdirSync(parent, { withFileTypes: true })) {
      if (d.isDirectory() && d.name.startsWith(`${pid}-`)) out.push(join(parent, d.name))
    }
  }
  return out
}

/** Opens handles through `track` and closes all of them after each test. */
export function tracker() {
  const open: SandboxCgroup[] = []
  return {
    track<T extends SandboxCgroup | null>(cg: T): T {
      if (cg) open.push(cg)
      return cg
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((c) => c.close()))
    },
  }
}

export const MiB = 1024 ** 2
