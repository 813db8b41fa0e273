/**
 * The signals a stop may send, in the order a chooser lists them (TERM first: the
 * polite default). Its own module, free of Node APIs, so the browser dashboard
 * imports the same list the node validates against.
 */
export const SIGNALS = ['TERM', 'KILL', 'INT', 'HUP', 'QUIT', 'USR1', 'USR2', 'STOP', 'CONT'] as const
export type SignalName = typeof SIGNALS[number]

/** `TERM`, `term`, `SIGTERM` and `sigterm` all name TERM; undefined for anything outside SIGNALS. */
export function signalFromText (text: string): SignalName | undefined {
  const upper = text.trim().toUpperCase()
  const bare = upper.startsWith('SIG') ? upper.slice(3) : upper
  return SIGNALS.find(s => s === bare)
}
