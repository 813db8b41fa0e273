#!/usr/bin/env node
// The polyfill must load before libp2p: keep this import first.
import '../dist/node/polyfill.js'
import { run } from '../dist/cli/main.js'

await run(process.argv.slice(2))
