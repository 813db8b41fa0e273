/** True when the module with this import.meta.url is the script node was asked to run. */
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

export function invokedDirectly (moduleUrl: string): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return moduleUrl === pathToFileURL(realpathSync(script)).href
  } catch {
    return false
  }
}

/** A bench's output: the table on stdout, or with --json the JSON on stdout and the table on stderr. */
export function printResult (json: boolean, table: string, result: unknown): void {
  if (json) {
    process.stderr.write(`${table}\n`)
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  } else {
    process.stdout.write(`${table}\n`)
  }
}
