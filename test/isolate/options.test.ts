// isolate's own options are validated in one place, sandbox options by the core: precise TypeErrors.
import { describe, expect, it } from 'vitest'
import { createIsolatePool, isolate } from '../../dist/isolate/isolate.js'

describe('options', () => {
  it.each([
    [{ timeout: -1 }, /option `timeout` must be a positive number of milliseconds; got -1/],
    [{ timeout: '1s' }, /option `timeout` must be a positive number/],
    [{ signal: {} }, /option `signal` must be an AbortSignal; got an object/],
    [{ stdio: 'inherit-all' }, /option `stdio` must be one of 'inherit', 'pipe', 'ignore'; got 'inherit-all'/],
    [{ pool: 3 }, /option `pool` must be true or \{ size: n \}; got 3/],
    [{ pool: { size: 0 } }, /option `pool.size` must be a whole number from 1 to 64; got 0/],
    [{ from: 'http://x/y.js' }, /option `from` must be a file path or a file: URL/],
    [{ execArgv: '--inspect' }, /option `execArgv` must be an array of strings/],
    [{ memory: 'lots' }, /option `memory` must be a positive byte count/],
    [{ network: 'wifi' }, /option `network` must be one of 'loopback', 'none', 'host'/],
    [{ size: 2 }, /unknown option `size`\. Known options: .*args.*pool.*timeout/],
  ])('%o is refused', async (options, message) => {
    await expect(isolate(() => 1, options as never)).rejects.toThrow(message)
    await expect(isolate(() => 1, options as never)).rejects.toBeInstanceOf(TypeError)
  })

  it('refuses what is not a function or a module target', async () => {
    await expect(isolate(42 as never)).rejects.toThrow(/takes a function, or \{ module/)
    await expect(isolate({ module: './x.js', exports: 'y' } as never)).rejects.toThrow(/unknown key `exports`/)
  })

  it('createIsolatePool validates its options', () => {
    expect(() => createIsolatePool({ size: 100 })).toThrow(/option `size` must be a whole number from 1 to 64/)
    expect(() => createIsolatePool({ args: 1 } as never)).toThrow(/unknown option `args`/)
  })

  it('sandbox options apply: network none has no loopback', async () => {
    const { value } = await isolate(
      async () => {
        const net = await import('node:net')
        return new Promise((resolve) => {
          const s = net.createServer().listen(0, '127.0.0.1', () => {
            const addr = s.address() as { port: number }
            net
              .connect(addr.port, '127.0.0.1')
              .on('error', (e: NodeJS.ErrnoException) => resolve(e.code))
              .on('connect', () => resolve('connected'))
          })
        })
      },
      { network: 'none' },
    )
    expect(value).toBe('ENETUNREACH')
  })
})
