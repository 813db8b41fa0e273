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
