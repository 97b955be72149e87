/** Parsing of /proc/self/mountinfo (proc(5)). */

export interface MountEntry {
  id: number
  parent: number
  /** Mount point, unescaped. */
  path: string
  fstype: string
  source: string
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = []
  for (const line of text.split('\n')) {
    if (!line) continue
    const sep = line.indexOf(' - ')
    if (sep < 0) continue
    const left = line.slice(0, sep).split(' ')
    const right = line.slice(sep + 3).split(' ')
    out.push({
      id: Number(left[0]),
      parent: Number(left[1]),
      path: unescapeOctal(left[4] ?? ''),
      fstype: right[0] ?? '',
      source: unescapeOctal(right[1] ?? ''),
    })
  }
  return out
}

/** True when `path` is `dir` or lies below it. */
export function isUnder(path: string, dir: string): boolean {
  if (dir === '/') return true
  return path === dir || path.startsWith(`${dir}/`)
}
