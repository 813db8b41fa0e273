/**
 * The deployments list (`GET /api/deployments`, as `procmesh deployments`): each
 * deployment's name, running vs desired copies, where it is to run, where each replica
 * is placed and in what state, and why replicas cannot be placed. Polled while the page
 * is open; hidden while there are none.
 */
import type { DeploymentJson } from '../api-types.js'
import { byId, h } from './dom.js'
import { ApiError, type Api } from './net.js'

/** How often the list is asked again: placement moves within seconds of a host leaving. */
const DEPLOYMENTS_REFRESH_MS = 3000

export class DeploymentsView {
  private readonly el = {
    section: byId('deployments', HTMLElement),
    list: byId('deployment-list', HTMLUListElement),
    status: byId('deployments-status', HTMLParagraphElement)
  }

  private timer: ReturnType<typeof setTimeout> | undefined

  constructor (private readonly api: Api) {}

  /** Ask now, then every DEPLOYMENTS_REFRESH_MS. */
  start (): void {
    clearTimeout(this.timer)
    this.api.call<DeploymentJson[]>('GET', '/api/deployments').then(list => {
      this.el.status.hidden = true
      this.render(list)
    }, (err: unknown) => {
      // shown only where a list was shown: a node without deployments support says nothing new
      if (err instanceof ApiError && err.status === 401) return
      if (!this.el.section.hidden) {
        this.el.status.hidden = false
        this.el.status.textContent = `Deployments: ${err instanceof Error ? err.message : String(err)}`
      }
    }).finally(() => { this.timer = setTimeout(() => { this.start() }, DEPLOYMENTS_REFRESH_MS) }).catch(() => {})
  }

  private render (list: readonly DeploymentJson[]): void {
    this.el.section.hidden = list.length === 0
    this.el.list.replaceChildren(...list.map(d => {
      const short = d.running < d.desired || (typeof d.replicas === 'number' && d.desired < d.replicas)
      return h('li', { class: 'deployment', dataset: { name: d.name, health: d.problems.length > 0 || short ? 'short' : 'ok' } }, [
        h('div', { class: 'deployment-line' }, [
          h('span', { class: 'deployment-name', text: d.name }),
          h('span', { class: 'muted', text: `v${d.version}` }),
          h('span', {
            class: 'deployment-count',
            title: `${d.running} running of ${d.desired} wanted now${d.old > 0 ? `, ${d.old} of older versions` : ''}`,
            text: `${d.running}/${d.desired}${d.old > 0 ? ` (+${d.old} old)` : ''}`
          })
        ]),
        h('div', { class: 'deployment-meta muted', text: `on ${d.selector} · replicas ${d.replicas} · ${d.argv.join(' ')}` }),
        d.placed.length > 0
          ? h('ul', { class: 'deployment-placed' }, d.placed.map(p =>
            h('li', { dataset: { state: p.state } }, [h('span', { text: p.host }), h('span', { class: `replica-state state-${p.state}`, text: p.state })])))
          : null,
        d.problems.length > 0
          ? h('ul', { class: 'deployment-problems' }, d.problems.map(text => h('li', { text })))
          : null
      ])
    }))
  }
}
