/**
 * Every key of `procmesh top`, declared once: which context it works in, the action
 * it dispatches and what it does. The footer and the help overlay are generated
 * from this table, so they cannot drift from what the keys really do.
 */
import type { Action, State } from './model.js'

/**
 * Where a binding applies. Without a modal: the focused pane's context, then `main`,
 * then `global`. With a modal: the modal's context (plus `input` for text prompts),
 * then `global`.
 */
export type KeyContext = 'global' | 'main' | 'hosts' | 'procs' | 'details' | 'help' | 'deployments' | 'filter' | 'search' | 'start' | 'input' | 'signal' | 'confirm'

export interface Binding {
  /** blessed key names (`key.full`): `up`, `j`, `S-g` (G), `C-c`, `enter`, `/` */
  keys: readonly string[]
  context: KeyContext
  /** the action, or a function of the key pressed (digits choosing a signal) */
  action: Action | ((key: string) => Action)
  description: string
  /** short text for the footer; bindings without one only appear in the help */
  footer?: string
  /**
   * Which footer items survive a narrow terminal: the highest ranks are kept, then shown in
   * keymap order. KEEP (help, quit, cancelling a prompt) is always shown. Default 50.
   */
  rank?: number
  /** how the help names the keys, when joining their names is not clear */
  label?: string
}

const DIGITS = ['1', '2', '3', '4', '5', '6', '7', '8', '9']
/** Footer rank of the items that must stay visible at any width the TUI draws at. */
export const KEEP = 100

export const KEYMAP: readonly Binding[] = [
  // ---- anywhere ----
  { keys: ['C-c'], context: 'global', action: { type: 'quit' }, description: 'quit at once' },

  // ---- moving ----
  { keys: ['up', 'C-p'], context: 'main', action: { type: 'move', delta: -1 }, description: 'move up (logs: scroll back)' },
  { keys: ['down', 'j', 'C-n'], context: 'main', action: { type: 'move', delta: 1 }, description: 'move down' },
  { keys: ['pageup', 'C-b'], context: 'main', action: { type: 'page', dir: -1 }, description: 'page up' },
  { keys: ['pagedown', 'C-f', 'space'], context: 'main', action: { type: 'page', dir: 1 }, description: 'page down' },
  { keys: ['home', 'g'], context: 'main', action: { type: 'jump', to: 'first' }, description: 'first row' },
  { keys: ['end', 'S-g'], context: 'main', action: { type: 'jump', to: 'last' }, description: 'last row (logs: follow again)' },
  { keys: ['tab'], context: 'main', action: { type: 'focus', dir: 1 }, description: 'next pane', footer: 'Tab pane', rank: 70 },
  { keys: ['S-tab'], context: 'main', action: { type: 'focus', dir: -1 }, description: 'previous pane' },
  { keys: ['enter'], context: 'hosts', action: { type: 'enter' }, description: "go to this host's processes", footer: 'Enter procs', rank: 60 },
  { keys: ['enter'], context: 'procs', action: { type: 'enter' }, description: 'details of the process (again: close)', footer: 'Enter details', rank: 40 },
  { keys: ['escape'], context: 'main', action: { type: 'back' }, description: 'close the details, else clear the filter' },

  // ---- the view ----
  { keys: ['/', 'f4'], context: 'main', action: { type: 'openFilter' }, description: 'filter by name, command or user (all hosts in mesh-wide mode)', footer: '/ filter', rank: 80 },
  { keys: ['f3'], context: 'main', action: { type: 'openSearch' }, description: 'search: move to the next process whose name, command or user matches (F3 again: next)' },
  { keys: ['t', 'f5'], context: 'main', action: { type: 'toggleTree' }, description: 'tree or flat view', footer: 't tree', rank: 55 },
  { keys: ['+', '='], context: 'main', action: { type: 'fold', open: true }, description: 'unfold the branch (tree view)' },
  { keys: ['-'], context: 'main', action: { type: 'fold', open: false }, description: 'fold the branch; on a leaf, its parent', footer: '+/- fold', rank: 10 },
  { keys: ['c'], context: 'main', action: { type: 'sort', key: 'cpu' }, description: 'sort by CPU (again: reverse)', footer: 'c/m/p/n sort', rank: 45 },
  { keys: ['m'], context: 'main', action: { type: 'sort', key: 'mem' }, description: 'sort by memory (again: reverse)' },
  { keys: ['p'], context: 'main', action: { type: 'sort', key: 'pid' }, description: 'sort by PID (again: reverse)' },
  { keys: ['n'], context: 'main', action: { type: 'sort', key: 'name' }, description: 'sort by name (again: reverse)' },
  { keys: ['f6'], context: 'main', action: { type: 'nextSort' }, description: 'next sort key (CPU, memory, PID, name)' },
  { keys: ['r'], context: 'main', action: { type: 'reverse' }, description: 'reverse the sort', footer: 'r rev', rank: 15 },
  { keys: ['a'], context: 'main', action: { type: 'toggleMeshWide' }, description: 'mesh-wide: the processes of every host in one list', footer: 'a mesh', rank: 50 },
  { keys: ['w'], context: 'main', action: { type: 'cycleRange' }, description: "hosts' CPU sparklines: live, 1 h, 24 h, 7 d (from each host's recorded history)", footer: 'w range', rank: 28 },
  { keys: ['S-m'], context: 'main', action: { type: 'toggleManaged' }, description: 'managed processes only (started through procmesh), with state, restarts and deployment', footer: 'M managed', rank: 65 },
  { keys: ['S-d'], context: 'main', action: { type: 'openDeployments' }, description: 'deployments: desired vs running copies, the hosts running them, why replicas cannot be placed', footer: 'D deploys', rank: 36 },

  // ---- acting ----
  { keys: ['v'], context: 'main', action: { type: 'toggleMark' }, description: 'mark the process (again: unmark); k then stops every marked one after one confirmation', footer: 'v mark', rank: 20 },
  { keys: ['S-v'], context: 'main', action: { type: 'clearMarks' }, description: 'clear the marks' },
  { keys: ['k', 'f9'], context: 'main', action: { type: 'askStop' }, description: 'stop the process: pick a signal, then confirm', footer: 'k stop', rank: 90 },
  { keys: ['x'], context: 'main', action: { type: 'askStart' }, description: 'start a command on the selected host', footer: 'x start', rank: 35 },
  { keys: ['l'], context: 'main', action: { type: 'logs' }, description: 'logs of a managed process, following', footer: 'l logs', rank: 30 },
  { keys: ['S-r'], context: 'main', action: { type: 'restart' }, description: 'restart a managed process (stop, start again with the same id), after a confirmation', footer: 'R restart', rank: 25 },
  { keys: ['?', 'f1'], context: 'main', action: { type: 'toggleHelp' }, description: 'this help', footer: '? help', rank: KEEP },
  { keys: ['q', 'f10'], context: 'main', action: { type: 'quit' }, description: 'quit', footer: 'q quit', rank: KEEP },

  // ---- help overlay ----
  { keys: ['?', 'f1', 'escape', 'q', 'f10'], context: 'help', action: { type: 'toggleHelp' }, description: 'close the help', footer: 'Esc/?/q close', rank: KEEP },
  { keys: ['up', 'k'], context: 'help', action: { type: 'move', delta: -1 }, description: 'scroll up (when the help is taller than the terminal)' },
  { keys: ['down', 'j'], context: 'help', action: { type: 'move', delta: 1 }, description: 'scroll down', footer: 'Up/Down scroll' },
  { keys: ['pageup'], context: 'help', action: { type: 'page', dir: -1 }, description: 'page up' },
  { keys: ['pagedown', 'space'], context: 'help', action: { type: 'page', dir: 1 }, description: 'page down' },

  // ---- deployments overlay ----
  { keys: ['S-d', 'escape', 'q', 'f10'], context: 'deployments', action: { type: 'cancel' }, description: 'close the deployments', footer: 'Esc/D close', rank: KEEP },
  { keys: ['up', 'k'], context: 'deployments', action: { type: 'move', delta: -1 }, description: 'scroll up' },
  { keys: ['down', 'j'], context: 'deployments', action: { type: 'move', delta: 1 }, description: 'scroll down', footer: 'Up/Down scroll' },
  { keys: ['pageup'], context: 'deployments', action: { type: 'page', dir: -1 }, description: 'page up' },
  { keys: ['pagedown', 'space'], context: 'deployments', action: { type: 'page', dir: 1 }, description: 'page down' },

  // ---- filter prompt ----
  { keys: ['enter'], context: 'filter', action: { type: 'submit' }, description: 'keep the filter', footer: 'Enter keep' },
  { keys: ['escape'], context: 'filter', action: { type: 'cancel' }, description: 'restore the previous filter', footer: 'Esc cancel', rank: KEEP },

  // ---- search prompt ----
  { keys: ['enter'], context: 'search', action: { type: 'submit' }, description: 'stay on the process found', footer: 'Enter keep' },
  { keys: ['f3', 'C-n'], context: 'search', action: { type: 'searchNext' }, description: 'next match', footer: 'F3 next' },
  { keys: ['escape'], context: 'search', action: { type: 'cancel' }, description: 'back to where the search began', footer: 'Esc cancel', rank: KEEP },

  // ---- start prompt ----
  { keys: ['enter'], context: 'start', action: { type: 'submit' }, description: 'start it: words split as a shell would, but no shell runs', footer: 'Enter start' },
  { keys: ['escape'], context: 'start', action: { type: 'cancel' }, description: 'cancel', footer: 'Esc cancel', rank: KEEP },

  // ---- text editing in prompts ----
  { keys: ['backspace'], context: 'input', action: { type: 'inputErase', what: 'char' }, description: 'delete a character' },
  { keys: ['C-w'], context: 'input', action: { type: 'inputErase', what: 'word' }, description: 'delete a word' },
  { keys: ['C-u'], context: 'input', action: { type: 'inputErase', what: 'all' }, description: 'delete everything', footer: 'C-u clear' },

  // ---- signal picker ----
  { keys: ['up', 'k'], context: 'signal', action: { type: 'pick', delta: -1 }, description: 'previous signal' },
  { keys: ['down', 'j'], context: 'signal', action: { type: 'pick', delta: 1 }, description: 'next signal', footer: 'Up/Down choose' },
  { keys: DIGITS, context: 'signal', action: key => ({ type: 'pickIndex', index: Number(key) - 1 }), description: 'choose a signal by its number', label: '1-9' },
  { keys: ['t'], context: 'signal', action: { type: 'toggleSubtree' }, description: 'also stop its children (whole subtree)', footer: 't +children' },
  { keys: ['enter'], context: 'signal', action: { type: 'submit' }, description: 'choose this signal (a confirmation follows)', footer: 'Enter next' },
  { keys: ['escape', 'q'], context: 'signal', action: { type: 'cancel' }, description: 'cancel', footer: 'Esc cancel', rank: KEEP },

  // ---- confirmation ----
  { keys: ['y', 'S-y'], context: 'confirm', action: { type: 'confirm' }, description: 'yes: send the signal (or restart)', footer: 'y yes', rank: KEEP },
  { keys: ['n', 'S-n', 'escape', 'enter', 'q'], context: 'confirm', action: { type: 'cancel' }, description: 'no (the default)', footer: 'n/Esc no', rank: KEEP }
]

/** The contexts searched for a key, most specific first. */
export function activeContexts (s: Pick<State, 'modal' | 'focus'>): KeyContext[] {
  const m = s.modal
  if (m === undefined) return [s.focus, 'main', 'global']
  switch (m.kind) {
    case 'help': return ['help', 'global']
    case 'deployments': return ['deployments', 'global']
    case 'filter': return ['filter', 'input', 'global']
    case 'search': return ['search', 'input', 'global']
    case 'start': return ['start', 'input', 'global']
    case 'signal': return ['signal', 'global']
    case 'confirm':
    case 'confirmRestart': return ['confirm', 'global']
  }
}

/** Index of bindings by context and key, built once. */
const INDEX: ReadonlyMap<KeyContext, ReadonlyMap<string, Binding>> = (() => {
  const index = new Map<KeyContext, Map<string, Binding>>()
  for (const b of KEYMAP) {
    let byKey = index.get(b.context)
    if (byKey === undefined) { byKey = new Map(); index.set(b.context, byKey) }
    for (const k of b.keys) if (!byKey.has(k)) byKey.set(k, b)
  }
  return index
})()

/** Printable text a prompt takes as typed (no control characters). */
function printable (ch: string | undefined): ch is string {
  return ch !== undefined && ch !== '' && !/[\u0000-\u001f\u007f-\u009f]/.test(ch)
}

/**
 * The action for a key press, or undefined when the key means nothing here.
 * `key` is blessed's `key.full`; `ch` the character typed, if any.
 */
export function resolveKey (s: Pick<State, 'modal' | 'focus'>, key: string | undefined, ch?: string, modifiers: { ctrl?: boolean, meta?: boolean } = {}): Action | undefined {
  // blessed reports Enter twice: as `return` and again as `enter`; act on `enter` only
  if (key === 'return') return undefined
  const contexts = activeContexts(s)
  if (key !== undefined) {
    for (const ctx of contexts) {
      const b = INDEX.get(ctx)?.get(key)
      if (b !== undefined) return typeof b.action === 'function' ? b.action(key) : b.action
    }
  }
  if (contexts.includes('input') && modifiers.ctrl !== true && modifiers.meta !== true && printable(ch)) {
    return { type: 'inputChar', ch }
  }
  return undefined
}

const KEY_NAMES: Readonly<Record<string, string>> = {
  up: 'Up', down: 'Down', left: 'Left', right: 'Right', pageup: 'PgUp', pagedown: 'PgDn', home: 'Home', end: 'End',
  enter: 'Enter', escape: 'Esc', tab: 'Tab', 'S-tab': 'Shift-Tab', space: 'Space', backspace: 'Backspace'
}

export function keyLabel (key: string): string {
  if (KEY_NAMES[key] !== undefined) return KEY_NAMES[key]
  const shifted = /^S-([a-z])$/.exec(key)
  if (shifted !== null) return shifted[1].toUpperCase()
  const fkey = /^f(\d{1,2})$/.exec(key)
  if (fkey !== null) return `F${fkey[1]}`
  const ctrl = /^C-(.)$/.exec(key)
  if (ctrl !== null) return `Ctrl-${ctrl[1].toUpperCase()}`
  return key
}

export function bindingLabel (b: Binding): string {
  return b.label ?? b.keys.map(keyLabel).join('/')
}

export interface FooterItem { text: string, rank: number }

/** The footer for the current context: the short labels of its bindings, in keymap order, with their ranks. */
export function footerItems (s: Pick<State, 'modal' | 'focus'>): FooterItem[] {
  const contexts = activeContexts(s)
  const items: FooterItem[] = []
  for (const ctx of contexts) {
    for (const b of KEYMAP) if (b.context === ctx && b.footer !== undefined) items.push({ text: b.footer, rank: b.rank ?? 50 })
  }
  return items
}

const SECTION_TITLES: ReadonlyArray<[KeyContext, string]> = [
  ['main', 'Everywhere (no prompt open)'],
  ['hosts', 'Hosts pane'],
  ['procs', 'Processes pane'],
  ['signal', 'Stop: signal picker'],
  ['confirm', 'Stop and restart: confirmation'],
  ['filter', 'Filter prompt'],
  ['search', 'Search prompt (F3)'],
  ['start', 'Start prompt'],
  ['input', 'Typing in a prompt'],
  ['deployments', 'Deployments (D)'],
  ['help', 'This help'],
  ['global', 'Always']
]

export interface HelpSection { title: string, lines: Array<[string, string]> }

/** The help overlay's content, section by section: [keys, description]. */
export function helpSections (): HelpSection[] {
  const sections: HelpSection[] = []
  for (const [ctx, title] of SECTION_TITLES) {
    const lines = KEYMAP.filter(b => b.context === ctx).map((b): [string, string] => [bindingLabel(b), b.description])
    if (lines.length > 0) sections.push({ title, lines })
  }
  return sections
}

/** The height of each help section (its title, its lines, a blank line), for layout.ts helpLayout. */
export function helpBlocks (): number[] {
  return helpSections().map(sec => sec.lines.length + 2)
}

/** Keys bound more than once among contexts that are active together (should be none). */
export function duplicateKeys (): string[] {
  const chains: KeyContext[][] = [
    ['hosts', 'main', 'global'], ['procs', 'main', 'global'], ['details', 'main', 'global'],
    ['help', 'global'], ['deployments', 'global'], ['filter', 'input', 'global'], ['search', 'input', 'global'], ['start', 'input', 'global'], ['signal', 'global'], ['confirm', 'global']
  ]
  const dups = new Set<string>()
  for (const chain of chains) {
    const seen = new Set<string>()
    for (const b of KEYMAP) {
      if (!chain.includes(b.context)) continue
      for (const k of b.keys) {
        if (seen.has(k)) dups.add(`${chain[0]}: ${k}`)
        seen.add(k)
      }
    }
  }
  return [...dups]
}
