// File permissions: a directory the user may not write to refuses a note
// with EACCES. Isolated as an ordinary user, the test runs as that user
// (not as root of a user namespace), so the kernel refuses as on the host.
// Root bypasses permission checks, stock or isolated: skipped there.
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { readNote, saveNote } from '../src/notes.ts'

let dir = ''
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'notes-'))
})
afterEach(async () => {
  await chmod(dir, 0o700)
  await rm(dir, { recursive: true, force: true })
})

test('saves and reads a note', async () => {
  await saveNote(dir, 'todo', 'write tests')
  expect(await readNote(dir, 'todo')).toBe('write tests')
})

test('a read-only directory refuses a note with EACCES', async (ctx) => {
  if (process.getuid?.() === 0) ctx.skip('root bypasses permission checks (stock and isolated): run as an ordinary user')
  await chmod(dir, 0o400)
  await expect(saveNote(dir, 'todo', 'x')).rejects.toMatchObject({ code: 'EACCES' })
})
