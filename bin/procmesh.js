#!/usr/bin/env node
/**
 * The npm package's command.
 *
 * An installed package (its path runs through node_modules: `npm install -g`, `npx procmesh`)
 * runs the bundle that `npm pack` built (prepack): dist/bundle/procmesh.mjs. A source checkout
 * runs dist/ as `npm run build` just compiled it, so tests and development never run a bundle
 * older than the code. PROCMESH_BUNDLE=1 forces the bundle, PROCMESH_BUNDLE=0 forces dist/.
 */
import { existsSync } from 'node:fs'
import { sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const bundle = new URL('../dist/bundle/procmesh.mjs', import.meta.url)
const choice = process.env.PROCMESH_BUNDLE
const installed = fileURLToPath(import.meta.url).split(sep).includes('node_modules')

if (choice === '1' && !existsSync(bundle)) {
  process.stderr.write(`procmesh: PROCMESH_BUNDLE=1 but ${fileURLToPath(bundle)} is missing (npm run build:bundle makes it)\n`)
  process.exitCode = 1
} else if (choice === '1' || (choice !== '0' && installed && existsSync(bundle))) {
  // the bundle loads the polyfill first and runs the CLI itself
  await import(bundle.href)
} else {
  // The polyfill must load before libp2p: keep it first.
  await import('../dist/node/polyfill.js')
  const { run } = await import('../dist/cli/main.js')
  await run(process.argv.slice(2))
}
