/**
 * The reducer's part for open modals (pure): help scrolling, the filter and search prompts,
 * the signal picker, the confirmations and the start prompt. Data keeps flowing underneath.
 */
import { SIGNALS } from '../../protocols/messages.js'
import { filterNeedle } from '../../protocols/processes.js'
import { ArgvSyntaxError, joinArgv, shellLookalikes, splitArgv } from './argv.js'
import { helpBlocks } from './keymap.js'
import { deploymentsVisible, helpLayout } from './layout.js'
import type { Action, Effect, Modal, ProcRef, State, Step } from './model.js'
import { matches } from './rows.js'
import { deploymentLineCount, selectRows } from './selectors.js'
import { clamp, done, settle, withStatus } from './settle.js'

function dropLastWord (text: string): string {
  return text.replace(/\s*\S+\s*$/, '')
}

export function editDraft (draft: string, action: { type: 'inputChar', ch: string } | { type: 'inputErase', what: 'char' | 'word' | 'all' }): string {
  if (action.type === 'inputChar') return draft + action.ch
  if (action.what === 'all') return ''
  if (action.what === 'word') return dropLastWord(draft)
  return Array.from(draft).slice(0, -1).join('')
}


function describeTarget (t: ProcRef): string {
  return `${t.name} (pid ${t.pid}) on ${t.hostName}`
}

/**
 * The search modal's cursor: the first row at or after `start` (wrapping) whose name, command,
 * user or managed name holds `query`; the cursor stays and the prompt says so when none does.
 */
export function searchTo (s: State, query: string, start: number): State {
  if (s.modal?.kind !== 'search') return s
  const rows = selectRows(s)
  const needle = filterNeedle(query)
  if (needle === '' || rows.length === 0) return { ...s, modal: { ...s.modal, failed: false } }
  for (let k = 0; k < rows.length; k++) {
    const i = (((start + k) % rows.length) + rows.length) % rows.length
    const p = rows[i].proc
    if (matches(p, needle) || (p.managedName ?? '').toLowerCase().includes(needle)) {
      return settle({ ...s, procCursor: i, procSel: { peerId: rows[i].peerId, pid: p.pid }, modal: { ...s.modal, failed: false } })
    }
  }
  return { ...s, modal: { ...s.modal, failed: true } }
}

/** Actions while a modal is open; undefined lets the main reducer handle data actions. */
export function reduceModal (s: State, m: Modal, a: Action): Step | undefined {
  switch (m.kind) {
    case 'help': {
      if (a.type === 'toggleHelp' || a.type === 'cancel') return done({ ...s, modal: undefined })
      const hl = helpLayout(s.size.cols, s.size.rows, helpBlocks())
      const to = a.type === 'move' ? m.scroll + a.delta
        : a.type === 'page' ? m.scroll + a.dir * Math.max(1, hl.visible - 1)
          : a.type === 'jump' ? (a.to === 'first' ? 0 : hl.maxScroll) : undefined
      if (to !== undefined) return done({ ...s, modal: { kind: 'help', scroll: clamp(to, 0, hl.maxScroll) } })
      return passesModal(a) ? undefined : done(s)
    }
    case 'deployments': {
      if (a.type === 'cancel') return done({ ...s, modal: undefined })
      const visible = deploymentsVisible(s.size.rows, s.deployments?.error !== undefined)
      const maxScroll = Math.max(0, deploymentLineCount(s.deployments?.list ?? []) - visible)
      const to = a.type === 'move' ? m.scroll + a.delta
        : a.type === 'page' ? m.scroll + a.dir * Math.max(1, visible - 1)
          : a.type === 'jump' ? (a.to === 'first' ? 0 : maxScroll) : undefined
      if (to !== undefined) return done({ ...s, modal: { kind: 'deployments', scroll: clamp(to, 0, maxScroll) } })
      return passesModal(a) ? undefined : done(s)
    }
    case 'search': {
      if (a.type === 'inputChar' || a.type === 'inputErase') {
        const query = editDraft(m.query, a)
        return done(searchTo({ ...s, modal: { ...m, query } }, query, m.fromCursor))
      }
      if (a.type === 'searchNext') return done(searchTo(s, m.query, s.procCursor + 1))
      if (a.type === 'submit') return done({ ...s, modal: undefined })
      if (a.type === 'cancel') {
        const back = m.from !== undefined ? { procSel: m.from } : { procCursor: m.fromCursor }
        return done(settle({ ...s, ...back, modal: undefined }))
      }
      return passesModal(a) ? undefined : done(s)
    }
    case 'filter': {
      if (a.type === 'inputChar' || a.type === 'inputErase') return done(settle({ ...s, filter: editDraft(s.filter, a) }))
      if (a.type === 'submit') return done({ ...s, modal: undefined })
      if (a.type === 'cancel') return done(settle({ ...s, filter: m.previous, modal: undefined }))
      return passesModal(a) ? undefined : done(s)
    }
    case 'signal': {
      if (a.type === 'pick') return done({ ...s, modal: { ...m, index: clamp(m.index + a.delta, 0, SIGNALS.length - 1) } })
      if (a.type === 'toggleSubtree') return done({ ...s, modal: { ...m, tree: !m.tree } })
      if (a.type === 'pickIndex' && a.index >= 0 && a.index < SIGNALS.length) {
        return done({ ...s, modal: { kind: 'confirm', target: m.target, signal: SIGNALS[a.index], tree: m.tree, others: m.others } })
      }
      if (a.type === 'submit') return done({ ...s, modal: { kind: 'confirm', target: m.target, signal: SIGNALS[m.index], tree: m.tree, others: m.others } })
      if (a.type === 'cancel') return done(withStatus({ ...s, modal: undefined }, 'stop cancelled'))
      return passesModal(a) ? undefined : done(s)
    }
    case 'confirm': {
      if (a.type === 'confirm') {
        const others = m.others ?? []
        if (others.length > 0) {
          // a marked selection: one stop each (the target checks pid + start time), marks cleared
          const all = [m.target, ...others]
          const hosts = new Set(all.map(t => t.peerId)).size
          const effects: Effect[] = all.map(target => ({ kind: 'kill', target, signal: m.signal, tree: m.tree }))
          return done(withStatus({ ...s, modal: undefined, marked: {} }, `sending SIG${m.signal} to ${all.length} processes on ${hosts} host${hosts === 1 ? '' : 's'}…`), effects)
        }
        const what = `SIG${m.signal} to ${describeTarget(m.target)}${m.tree ? ' and its children' : ''}`
        return done(withStatus({ ...s, modal: undefined }, `sending ${what}…`), [{ kind: 'kill', target: m.target, signal: m.signal, tree: m.tree }])
      }
      if (a.type === 'cancel') return done(withStatus({ ...s, modal: undefined }, 'stop cancelled'))
      return passesModal(a) ? undefined : done(s)
    }
    case 'confirmRestart': {
      if (a.type === 'confirm') {
        return done(withStatus({ ...s, modal: undefined }, `${m.hostName}: restarting ${m.name} (${m.managedId})…`),
          [{ kind: 'restart', peerId: m.peerId, hostName: m.hostName, managedId: m.managedId, name: m.name }])
      }
      if (a.type === 'cancel') return done(withStatus({ ...s, modal: undefined }, 'restart cancelled'))
      return passesModal(a) ? undefined : done(s)
    }
    case 'start': {
      if (a.type === 'inputChar' || a.type === 'inputErase') return done({ ...s, modal: { ...m, draft: editDraft(m.draft, a), error: undefined, warned: false } })
      if (a.type === 'cancel') return done({ ...s, modal: undefined })
      if (a.type === 'submit') {
        let argv: string[]
        try {
          argv = splitArgv(m.draft)
        } catch (err: unknown) {
          if (!(err instanceof ArgvSyntaxError)) throw err
          return done({ ...s, modal: { ...m, error: err.message } })
        }
        if (argv.length === 0) return done({ ...s, modal: { ...m, error: 'type a command, e.g. sleep 60' } })
        const ops = shellLookalikes(m.draft)
        if (ops.length > 0 && m.warned !== true) {
          return done({ ...s, modal: { ...m, warned: true, error: `no shell runs here: ${ops.join(' ')} ${ops.length === 1 ? 'reaches' : 'reach'} the program as plain arguments. Enter again to run as is` } })
        }
        return done(withStatus({ ...s, modal: undefined }, `starting ${joinArgv(argv)} on ${m.hostName}…`), [{ kind: 'run', peerId: m.peerId, hostName: m.hostName, argv }])
      }
      return passesModal(a) ? undefined : done(s)
    }
  }
}

const DATA_ACTIONS: ReadonlySet<Action['type']> = new Set<Action['type']>([
  'peers', 'procs', 'managed', 'deployments', 'deploymentsError', 'history', 'connection', 'tick', 'resize', 'logData', 'logEnd', 'status'
])

/** Data keeps flowing under a modal, and quit (Ctrl-C) always works; other keys are swallowed. */
export function passesModal (a: Action): boolean {
  return DATA_ACTIONS.has(a.type) || a.type === 'quit'
}
