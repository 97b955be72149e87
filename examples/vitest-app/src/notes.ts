// Notes saved as files in a directory.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export async function saveNote(dir: string, name: string, text: string): Promise<void> {
  await writeFile(join(dir, `${name}.txt`), text)
}

export async function readNote(dir: string, name: string): Promise<string> {
  return readFile(join(dir, `${name}.txt`), 'utf8')
}
