/**
 * DOM helpers of the dashboard. Everything from the mesh is untrusted text: it goes
 * into the page as text nodes and textContent, never as HTML.
 */

/** The element with this id, of this type; a page without it is a build error, shown at once. */
export function byId<T extends HTMLElement> (id: string, type: new () => T): T {
  const el = document.getElementById(id)
  if (!(el instanceof type)) throw new Error(`the page has no ${type.name} #${id}`)
  return el
}

export type Child = Node | string | number | null | undefined | false

export interface Props {
  class?: string
  text?: string
  title?: string
  dataset?: Record<string, string>
  /** attributes; null or undefined leaves one out */
  attrs?: Record<string, string | null | undefined>
}

/** h('tr', { class: 'row', dataset: { pid: '1' } }, [children or text]) */
export function h<K extends keyof HTMLElementTagNameMap> (tag: K, props: Props = {}, children?: Child | Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (props.class !== undefined) el.className = props.class
  if (props.text !== undefined) el.textContent = props.text
  if (props.title !== undefined) el.title = props.title
  if (props.dataset !== undefined) for (const [k, v] of Object.entries(props.dataset)) el.dataset[k] = v
  if (props.attrs !== undefined) {
    for (const [k, v] of Object.entries(props.attrs)) if (v !== null && v !== undefined) el.setAttribute(k, v)
  }
  append(el, children)
  return el
}

export function append (el: Node, children: Child | Child[] | undefined): void {
  if (children === undefined) return
  for (const c of Array.isArray(children) ? children : [children]) {
    if (c === undefined || c === null || c === false) continue
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg'

/** An SVG element with attributes (only numbers and fixed words from here reach them). */
export function svg<K extends keyof SVGElementTagNameMap> (tag: K, attrs: Record<string, string>, children: SVGElement[] = []): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v)
  for (const c of children) el.appendChild(c)
  return el
}

/** The nearest ancestor-or-self of an event's target matching a selector, of a type. */
export function closest<T extends Element> (target: EventTarget | null, selector: string, type: new () => T): T | null {
  if (!(target instanceof Element)) return null
  const el = target.closest(selector)
  return el instanceof type ? el : null
}
