/** Where the repository and its command are, from dist/bench/lib/. */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const BIN = join(REPO, 'bin', 'procmesh.js')
