/**
 * The TUI's modules import one way: model <- keymap, rows, layout <- selectors <- reducer,
 * widgets <- render <- app. A cycle (even one closed only by `import type`) means two files
 * that cannot be understood apart; this reads the sources and finds any.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** dist/test/cli/tui -> the repository's cli/tui (the .ts sources, not the compiled output). */
const TUI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../cli/tui')

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sources(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

/** Relative imports of a file (value and type, static and re-exports), as .ts paths. */
export function localImports (file: string, text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/g)) {
    out.push(resolve(dirname(file), m[1].replace(/\.js$/, '.ts')))
  }
  return out
}

/** One cycle in the graph, as a list of files, or undefined. */
export function findCycle (graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node]
    state.set(node, 'open')
    path.push(node)
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue
      const c = visit(next)
      if (c !== undefined) return c
    }
    path.pop()
    state.set(node, 'done')
    return undefined
  }
  for (const node of graph.keys()) {
    const c = visit(node)
    if (c !== undefined) return c
  }
  return undefined
}

describe('cli/tui imports', () => {
  it('the cycle finder finds a cycle closed by a type import and passes a DAG', () => {
    const a = '/x/a.ts'
    const b = '/x/b.ts'
    const c = '/x/c.ts'
    assert.deepEqual(localImports(a, "import type { X } from './b.js'\nimport { y } from '../z.js'"), [b, '/z.ts'])
    assert.deepEqual(findCycle(new Map([[a, [b]], [b, [c]], [c, [a]]])), [a, b, c, a])
    assert.equal(findCycle(new Map([[a, [b, c]], [b, [c]], [c, []]])), undefined)
  })

  it('have no cycle', () => {
    const files = sources(TUI_DIR)
    assert.ok(files.length > 10, `expected the TUI's sources in ${TUI_DIR}`)
    const graph = new Map(files.map(f => [f, localImports(f, readFileSync(f, 'utf8'))]))
    const cycle = findCycle(graph)
    assert.equal(cycle, undefined, `import cycle: ${(cycle ?? []).map(f => relative(TUI_DIR, f)).join(' -> ')}`)
  })

  it('keep view.ts split per pane (widgets/)', () => {
    const files = sources(TUI_DIR).map(f => relative(TUI_DIR, f))
    assert.ok(!files.includes('view.ts'))
    for (const pane of ['header', 'hosts', 'procs', 'details', 'footer', 'dialogs']) assert.ok(files.includes(join('widgets', `${pane}.ts`)), pane)
  })
})
