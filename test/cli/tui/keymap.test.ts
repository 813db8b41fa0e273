import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  KEEP, KEYMAP, activeContexts, duplicateKeys, footerItems, helpSections, keyLabel, resolveKey
} from '../../../cli/tui/keymap.js'
import { reduce, type Modal, type State } from '../../../cli/tui/state.js'
import { dialogFor } from '../../../cli/tui/widgets/dialogs.js'
import { footerFit, footerText } from '../../../cli/tui/widgets/footer.js'
import { stripTags } from '../../../cli/tui/widgets/text.js'
import { loadedState } from './fixtures.js'

const TARGET = { peerId: 'p', hostName: 'h', pid: 5, startTime: 1, name: 'x', cmd: 'x' }
const MODALS: Modal[] = [
  { kind: 'help', scroll: 0 },
  { kind: 'filter', previous: '' },
  { kind: 'start', peerId: 'p', hostName: 'h', draft: '' },
  { kind: 'signal', target: TARGET, index: 0, tree: false },
  { kind: 'confirm', target: TARGET, signal: 'TERM', tree: false }
]

function at (modal?: Modal, focus: State['focus'] = 'procs'): Pick<State, 'modal' | 'focus'> {
  return { modal, focus }
}

describe('keymap table', () => {
  it('binds no key twice among contexts active together', () => {
    assert.deepEqual(duplicateKeys(), [])
  })

  it('describes every binding and lists each in the help', () => {
    const helpText = helpSections().flatMap(s => s.lines.map(([k, d]) => `${k} ${d}`)).join('\n')
    for (const b of KEYMAP) {
      assert.ok(b.description.length > 3, `${b.keys.join('/')} has a description`)
      assert.ok(helpText.includes(b.description), `help lists "${b.description}"`)
    }
  })

  it('has the htop/k9s keys of the issue', () => {
    const main = at()
    const expect: Array<[string, string]> = [
      ['up', 'move'], ['down', 'move'], ['j', 'move'], ['tab', 'focus'], ['enter', 'enter'], ['/', 'openFilter'], ['t', 'toggleTree'],
      ['+', 'fold'], ['-', 'fold'], ['c', 'sort'], ['m', 'sort'], ['p', 'sort'], ['n', 'sort'], ['r', 'reverse'],
      ['k', 'askStop'], ['x', 'askStart'], ['l', 'logs'], ['a', 'toggleMeshWide'], ['?', 'toggleHelp'], ['q', 'quit'], ['C-c', 'quit']
    ]
    for (const [key, type] of expect) assert.equal(resolveKey(main, key)?.type, type, key)
  })

  it('every bound action is something the reducer handles without throwing', () => {
    for (const modal of [undefined, ...MODALS]) {
      for (const b of KEYMAP) {
        for (const key of b.keys) {
          const s: State = { ...loadedState(), modal }
          const a = typeof b.action === 'function' ? b.action(key) : b.action
          assert.doesNotThrow(() => reduce(s, a), `${key} in ${modal?.kind ?? 'main'}`)
        }
      }
    }
  })
})

describe('resolveKey', () => {
  it('routes the same key by context', () => {
    assert.equal(resolveKey(at(), 'k')?.type, 'askStop')
    assert.deepEqual(resolveKey(at(MODALS[3]), 'k'), { type: 'pick', delta: -1 })
    assert.deepEqual(resolveKey(at(MODALS[1]), 'k', 'k'), { type: 'inputChar', ch: 'k' })
    assert.deepEqual(resolveKey(at(MODALS[3]), '3', '3'), { type: 'pickIndex', index: 2 })
    assert.equal(resolveKey(at(MODALS[4]), 'y')?.type, 'confirm')
    assert.equal(resolveKey(at(MODALS[4]), 'enter')?.type, 'cancel', 'Enter means no at the confirmation')
    assert.equal(resolveKey(at(undefined, 'hosts'), 'enter')?.type, 'enter')
  })

  it('types printable characters into prompts, including q and spaces', () => {
    assert.deepEqual(resolveKey(at(MODALS[2]), 'q', 'q'), { type: 'inputChar', ch: 'q' })
    assert.deepEqual(resolveKey(at(MODALS[2]), 'space', ' '), { type: 'inputChar', ch: ' ' })
    assert.deepEqual(resolveKey(at(MODALS[2]), 'S-a', 'A'), { type: 'inputChar', ch: 'A' })
    assert.deepEqual(resolveKey(at(MODALS[2]), "'", "'"), { type: 'inputChar', ch: "'" })
  })

  it('ignores control characters, blessed\'s duplicate return, and unbound keys', () => {
    assert.equal(resolveKey(at(MODALS[1]), 'C-x', '\u0018', { ctrl: true }), undefined)
    assert.equal(resolveKey(at(MODALS[1]), 'return', '\r'), undefined)
    assert.equal(resolveKey(at(), 'z', 'z'), undefined)
    assert.equal(resolveKey(at(MODALS[0]), 'x', 'x'), undefined)
  })

  it('Ctrl-C quits from every context', () => {
    for (const m of [undefined, ...MODALS]) assert.equal(resolveKey(at(m), 'C-c', '\u0003', { ctrl: true })?.type, 'quit')
  })

  it('activeContexts puts the modal first', () => {
    assert.deepEqual(activeContexts(at(undefined, 'hosts')), ['hosts', 'main', 'global'])
    assert.deepEqual(activeContexts(at(MODALS[1])), ['filter', 'input', 'global'])
  })
})

describe('footer and help are generated from the keymap', () => {
  it('the footer shows the current context\'s keys', () => {
    const main = footerItems(at()).map(i => i.text)
    for (const item of ['k stop', 'x start', '/ filter', '? help', 'q quit', 'Enter details']) assert.ok(main.includes(item), item)
    assert.ok(footerItems(at(undefined, 'hosts')).map(i => i.text).includes('Enter procs'))
    assert.deepEqual(footerItems(at(MODALS[4])).map(i => i.text), ['y yes', 'n/Esc no'])
    const s = loadedState()
    const text = stripTags(footerText(s, 200))
    assert.match(text, /k stop {2}x start/)
    assert.ok(stripTags(footerText(s, 30)).length <= 30, 'cut to the width')
  })

  it('at 80 columns the footer keeps ? help and q quit, dropping the least used keys instead', () => {
    const text = stripTags(footerText(loadedState(), 80))
    assert.ok(text.length <= 80, text)
    assert.match(text, /k stop/)
    assert.match(text, /\? help {2}q quit$/)
    // a prompt keeps its way out at any width
    const filter = reduce(loadedState(), { type: 'openFilter' }).state
    assert.match(stripTags(footerText(filter, 20)), /Esc cancel/)
    // ranks decide what goes, keymap order decides where the rest stand
    assert.deepEqual(footerFit([{ text: 'a one', rank: 10 }, { text: 'b two', rank: 90 }, { text: '? help', rank: KEEP }], 14), ['b two', '? help'])
  })

  it('the help overlay holds every section', () => {
    const d = dialogFor({ kind: 'help', scroll: 0 }, 160, 45)
    assert.ok(d !== undefined)
    const text = d.lines.map(stripTags).join('\n')
    for (const title of ['Everywhere', 'Signal picker'.toLowerCase()]) assert.ok(text.toLowerCase().includes(title.toLowerCase()), title)
    assert.match(text, /stop the process: pick a signal, then confirm/)
    assert.ok(d.lines.length <= 45 - 4 + 0, 'fits the screen')
    for (const line of d.lines) assert.ok(stripTags(line).length <= 160 - 4, 'fits the width')
  })

  it('the help scrolls in a small terminal and shows every line of every section', () => {
    const all = helpSections().flatMap(sec => [sec.title, ...sec.lines.map(([, d]) => d)])
    for (const [cols, rows] of [[160, 45], [100, 30], [80, 24], [60, 14]]) {
      const seen = new Set<string>()
      let s: State = { ...loadedState(), size: { cols, rows }, modal: { kind: 'help', scroll: 0 } }
      for (let i = 0; i < 200; i++) {
        const m = s.modal
        assert.ok(m !== undefined && m.kind === 'help')
        const d = dialogFor(m, cols, rows)
        assert.ok(d !== undefined)
        assert.ok(d.height <= rows && d.width <= cols, `fits ${cols}x${rows}`)
        for (const l of d.lines) for (const part of stripTags(l).split(' │ ')) seen.add(part.trim())
        const next = reduce(s, { type: 'move', delta: 1 }).state
        if (next.modal?.kind === 'help' && m.scroll === next.modal.scroll) break
        s = next
      }
      const text = [...seen].join('\n')
      for (const line of all) {
        const cut = line.slice(0, 20)
        assert.ok(text.includes(cut), `${cols}x${rows}: "${cut}" reachable`)
      }
    }
  })

  it('names keys for people', () => {
    assert.equal(keyLabel('S-g'), 'G')
    assert.equal(keyLabel('C-c'), 'Ctrl-C')
    assert.equal(keyLabel('pagedown'), 'PgDn')
    assert.equal(keyLabel('/'), '/')
  })
})
