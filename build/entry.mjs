/**
 * Entry of both bundles: dist/procmesh.bundle.cjs (the single executable's main script) and
 * dist/bundle/procmesh.mjs (what the installed npm package runs). It bundles the compiled dist/,
 * so a bundle holds exactly the code the tests ran.
 *
 * The polyfill must run before libp2p loads. It is the first import (the other is a builtin); the
 * CLI is imported after it, dynamically, so no bundler or chunk order can run libp2p code first.
 */
import '../dist/node/polyfill.js'
import { createRequire } from 'node:module'

/** True inside a Node single executable application (node:sea exists from Node 20.12 on). */
function runningAsSea () {
  // require, not import(): a SEA's main script cannot import(), not even a builtin
  try {
    return createRequire(import.meta.url)('node:sea').isSea()
  } catch {
    return false
  }
}

async function main () {
  let argv = process.argv.slice(2)
  if (runningAsSea()) {
    // Code written for Node re-runs procmesh as spawn(process.execPath, [process.argv[1], ...args])
    // (`top` starting a background node does). In the executable the program is execPath alone and
    // argv[1] is whatever the user typed, so: make argv[1] execPath, and when a child started that
    // way gets it back as its first argument, drop it. No command is named like our own path.
    process.argv[1] = process.execPath
    if (argv[0] === process.execPath) argv = argv.slice(1)
  }
  const { run } = await import('../dist/cli/main.js')
  await run(argv)
}

main().catch(err => {
  process.stderr.write(`procmesh: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
