// Every bench imports this first. The packages need Node >= 22.12 (their
// `engines`), and an older Node gives figures no user would see: no module
// compile cache (Node 22.1), no TypeScript stripping. This machine's own
// `node` may be older than that; the repository's Node is in
// node_modules/.bin (installed by `npm run setup`), which npm scripts use.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `bench: this is Node ${process.version} (${process.execPath}); the benches need Node >= 22.12, as the packages do.\n` +
      'Run them with `npm run bench` (all of them), or `node_modules/.bin/node bench/<name>.mjs` (one).',
  )
  process.exit(2)
}
