/**
 * Finding the launcher binary: `prebuilds/linux-<arch>/ns-isolated-launcher`
 * in the package (shipped prebuilt for x64 and arm64; `ns-isolated
 * build-launcher` compiles it from the shipped src/launcher/launcher.c), or
 * the path in NS_ISOLATED_LAUNCHER.
 */
import { accessSync, constants } from 'node:fs'
import { ErrorCodes, NsIsolatedError } from '../errors.ts'
import { COMPILER_HINT, prebuiltLauncher } from '../launcher/build.ts'

/** Throws ENS_NOT_LINUX anywhere but Linux, naming what to do instead. */
export function assertLinux(platform: string = process.platform): void {
  if (platform !== 'linux') {
    throw new NsIsolatedError(
      ErrorCodes.NOT_LINUX,
      `ns-isolated needs Linux namespaces, and this is ${platform}. Run the suite in a Linux VM or container (Docker with --privileged, or Lima/Colima on macOS, WSL2 on Windows), or turn isolation off on this machine (Vitest: drop the plugin; Jest: use the stock runner).`,
      { details: { platform } },
    )
  }
}

let cached: string | undefined

export function launcherPath(env: NodeJS.ProcessEnv = process.env, arch: string = process.arch): string {
  if (cached && env === process.env && arch === process.arch) return cached
  const override = env.NS_ISOLATED_LAUNCHER
  const path = override || prebuiltLauncher(arch)
  try {
    accessSync(path, constants.X_OK)
  } catch (e) {
    throw new NsIsolatedError(
      ErrorCodes.LAUNCHER_MISSING,
      override
        ? `NS_ISOLATED_LAUNCHER points to ${path}, which is not an executable file (${(e as NodeJS.ErrnoException).code}).`
        : `ns-isolated has no launcher binary for linux-${arch} (looked for ${path}). Build it from the shipped source with \`npx ns-isolated build-launcher\` (needs a C compiler: ${COMPILER_HINT}), or point NS_ISOLATED_LAUNCHER at a built binary.`,
      { details: { path, arch }, cause: e },
    )
  }
  if (env === process.env && arch === process.arch) cached = path
  return path
}
