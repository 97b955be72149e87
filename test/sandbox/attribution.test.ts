// Leak attribution inside a sandbox (ns-isolated/sandbox, LeakAttribution): a
// process reads as the test whose code started the chain that led to it,
// whether the tracker inside or PID 1 at the end names it. Three "tests";
// the second starts a setsid daemon, a double-forking shell, a child that
// forks after 50 ms, and a child with an environment of its own.
import { describe, expect, it } from 'vitest'
import { ticksOfUptime } from '../../dist/sandbox/leaks.js'
import { dist, pidsWithMarker, uniqueSleep } from '../helpers.ts'

const WORK = (sleep: string) => `
import { LeakAttribution } from '${dist('sandbox/index.js')}'
import { spawn } from 'node:child_process'
const spawned = (c) => new Promise((r) => c.once('spawn', r)).then(() => c.unref())
const track = new LeakAttribution()
track.testStarts('first'); track.testEnds()
track.testStarts('second')
await spawned(spawn('setsid', ['sleep', '${sleep}1'], { stdio: 'ignore', detached: true }))
await spawned(spawn('sh', ['-c', '(sleep ${sleep}2 &) &'], { stdio: 'ignore' }))
await spawned(spawn(process.execPath, ['-e', "setTimeout(() => require('child_process').spawn('sleep', ['${sleep}3'], { stdio: 'ignore', detached: true }).unref(), 50)"], { stdio: 'ignore' }))
await spawned(spawn('sh', ['-c', 'sleep ${sleep}4 & wait'], { stdio: 'ignore', env: { PATH: process.env.PATH } }))
const left = track.testEnds().map((p) => p.pid)
track.testStarts('third'); track.testEnds()
// what the tracker says at the file's end, once the late child has forked and every sleep has
// exec'd (a starved setsid, which forks first as a group leader, can take seconds under load)
const all = (seen) => [1, 2, 3, 4].every((n) => seen.some((p) => p.command === 'sleep ${sleep}' + n))
let seen = track.note()
for (const end = Date.now() + 60_000; !all(seen) && Date.now() < end; seen = track.note())
  await new Promise((r) => setTimeout(r, 10))
console.log(JSON.stringify({ left, seen: seen.map(({ pid, command, test }) => ({ pid, command, test })) }))
`

interface Seen {
  left: number[]
  seen: { pid: number; command: string; test?: string }[]
}

async function once(namespaces: boolean) {
  const sleep = uniqueSleep()
  let out = ''
  const { spawnSandbox } = await import('../../dist/index.js')
  const s = spawnSandbox(process.execPath, ['--input-type=module', '-e', WORK(sleep)], {
    namespaces,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  s.child.stdout?.on('data', (d) => {
    out += d
  })
  const r = await s.result
  expect(pidsWithMarker(sleep)).toEqual([])
  return { sleep, inside: JSON.parse(out) as Seen, pid1: r.leaked }
}

describe.each([
  ['with namespaces', true],
  ['without namespaces', false],
] as const)('leak attribution (%s)', (_, namespaces) => {
  it('every process the second test started reads as the second test, inside and from PID 1, 20 of 20', async () => {
    for (let i = 0; i < 20; i++) {
      const { sleep, inside, pid1 } = await once(namespaces)
      const sleeps = (list: { command: string; test?: string }[]) =>
        list
          .filter((p) => p.command.startsWith(`sleep ${sleep}`))
          .map((p) => [p.command, p.test])
          .sort()
      const expected = [1, 2, 3, 4].map((n) => [`sleep ${sleep}${n}`, 'second'])
      expect(sleeps(inside.seen), `run ${i}: ${JSON.stringify(inside)}`).toEqual(expected)
      // PID 1 reads the environment: the one started with an environment of its own has none to read.
      expect(sleeps(pid1), `run ${i}`).toEqual([...expected.slice(0, 3), [`sleep ${sleep}4`, undefined]])
      expect(new Set(pid1.map((l) => l.pid)).size).toBe(pid1.length)
    }
  }, 180_000)
})

describe('the clock a test ran in', () => {
  it("reads /proc/uptime's ticks exactly, at every centisecond (a float product floored 1 in 15 of them low)", () => {
    const wrong: string[] = []
    for (let sec = 0; sec < 5000; sec++)
      for (let cs = 0; cs < 100; cs++) {
        const text = `${sec}.${String(cs).padStart(2, '0')} 811.27\n`
        if (ticksOfUptime(text) !== sec * 100 + cs) wrong.push(text)
      }
    expect(wrong).toEqual([])
    expect(ticksOfUptime('garbage')).toBeNaN()
  })
})
