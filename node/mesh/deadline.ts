/**
 * A signal that aborts when a deadline passes or when a parent signal aborts.
 *
 * Why not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: on Node 20 the composite holds
 * its sources weakly, so once nothing else references the timeout signal a garbage collection
 * drops it and the deadline never fires (measured: a stream opened and never written was cut at
 * the request's 15 s deadline instead of its 5 s read deadline). A timer holds its callback,
 * and the callback holds the controller, for exactly as long as the deadline runs.
 */
export interface Deadline {
  readonly signal: AbortSignal
  /** stop the timer and forget the parent (call when the guarded work is done) */
  clear: () => void
}

/** An Error named TimeoutError, as AbortSignal.timeout's reason is, so callers tell it apart. */
function timeoutError (message: string): Error {
  const err = new Error(message)
  err.name = 'TimeoutError'
  return err
}

export function deadlineSignal (ms: number, parent?: AbortSignal, message = `deadline of ${ms} ms passed`): Deadline {
  const controller = new AbortController()
  const timer = setTimeout(() => { controller.abort(timeoutError(message)) }, ms)
  timer.unref()
  const onParent = (): void => { controller.abort(parent?.reason) }
  if (parent !== undefined) {
    if (parent.aborted) controller.abort(parent.reason)
    else parent.addEventListener('abort', onParent, { once: true })
  }
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onParent)
    }
  }
}
