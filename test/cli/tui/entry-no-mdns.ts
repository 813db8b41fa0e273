/**
 * procmesh's entry for the auto-start test: the real CLI, except that a `node` command always
 * gets --no-mdns and 127.0.0.1, so the node `top` starts in the background never multicasts
 * from the machine's root namespace. `top` re-runs process.argv[1], i.e. this file.
 * Without arguments (the test runner loads every file under test/) it does nothing.
 */
import '../../../node/polyfill.js'
import { run } from '../../../cli/main.js'

const argv = process.argv.slice(2)
if (argv.length > 0) {
  if (argv[0] === 'node') argv.push('--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--name', 'autostarted')
  await run(argv)
}
