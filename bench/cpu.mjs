// The machine's busy CPU time so far, in ms, from /proc/stat (user, nice,
// system, irq and softirq of all CPUs; not idle, iowait or steal). A bench
// takes it before and after a run: the difference is the CPU the run cost
// the machine, every process of it included (sandboxed ones too, which
// rusage of the runner's children would miss when a runner does not wait
// for them). It includes whatever else ran meanwhile: on a quiet machine,
// little.
import { readFileSync } from 'node:fs'

const TICK_MS = 10 // USER_HZ is 100 on Linux

export function busyMs() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
  const [user, nice, system, , , irq, softirq] = cpu
  return (user + nice + system + irq + softirq) * TICK_MS
}
