// Types of apt.mjs, for the TypeScript that imports it (test/install).
export function have(command: string): boolean
export function aptInstall(packages: string[], why: string): string | undefined
