/**
 * Runs the collector bench (bench/collector.ts) inside a simulated host, whose PID namespace
 * holds only the processes the bench puts there, and prints its result as JSON on stdout.
 *
 *   node dist/bench/rows/snapshot-worker.js PROCS ROUNDS BLOCK_PROCS
 */
import { runCollectorBench } from '../collector.js'

async function main (): Promise<void> {
  const [procs, rounds, blockProcs] = process.argv.slice(2).map(Number)
  const result = await runCollectorBench({ procs, rounds, blockProcs })
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`snapshot worker: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
