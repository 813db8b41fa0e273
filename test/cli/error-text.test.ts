/**
 * Issue 19.7: what users read names the host or path and the cause, never a raw errno, a stack,
 * a peer id or a protocol id.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { describeStartFailure } from '../../cli/commands/node.js'
import { plainCause, plainDuration } from '../../protocols/errors.js'
import { removeHome, runCli, tempHome } from '../helpers/procmesh.js'

function sysError (code: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra })
}

describe('error text users read (issue 19.7)', { timeout: 60_000 }, () => {
  const causes: Array<[unknown, string]> = [
    [sysError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.2:4001'), 'connection refused (no procmesh node listens at its address)'],
    [new AggregateError([sysError('EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.2:4001')], 'All promises were rejected'), 'no route to the host'],
    [Object.assign(new Error('stream reset'), { name: 'StreamResetError' }), 'it reset the stream'],
    [sysError('ENOSPC', 'ENOSPC: no space left on device, write'), 'the disk is full'],
    [sysError('EWEIRD', 'EWEIRD: something odd, open \'/x/y\''), 'something odd']
  ]
  for (const [err, text] of causes) {
    it(`plainCause: ${text}`, () => { assert.equal(plainCause(err), text) })
  }

  it('plainDuration', () => {
    assert.equal(plainDuration(800), '800 ms')
    assert.equal(plainDuration(15_000), '15 s')
    assert.equal(plainDuration(2250), '2.3 s')
    assert.equal(plainDuration(300_000), '5 min')
  })

  it('start-up failures name the path or address and the cause', () => {
    assert.equal(describeStartFailure(sysError('EACCES', 'EACCES: permission denied, mkdir \'/srv/pm\'', { path: '/srv/pm', syscall: 'mkdir' })),
      '/srv/pm: permission denied (the home must be a directory this user can write; choose another with --home)')
    const listen = Object.assign(new Error('Some configured addresses failed to be listened on, you may need to remove one or more listen addresses from your configuration or set `transportManager.faultTolerance` to NO_FATAL:\n\n  /ip4/10.9.9.9/tcp/0: Error: listen EADDRNOTAVAIL: address not available 10.9.9.9\n      at Server.setupListenHandle'), { name: 'UnsupportedListenAddressesError' })
    assert.equal(describeStartFailure(listen), 'cannot listen on /ip4/10.9.9.9/tcp/0: the address is not one of this host\'s (change --listen)')
  })

  it('a node that cannot listen says which address and why, without errno or stack', async () => {
    const home = await tempHome('pmtest-errtext-')
    try {
      const r = await runCli(['node', '--home', home, '--no-mdns', '--listen', '/ip4/192.0.2.1/tcp/0'], { timeoutMs: 30_000 })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /procmesh node: cannot start: cannot listen on \/ip4\/192\.0\.2\.1\/tcp\/0: the address is not one of this host's \(change --listen\)/)
      assert.doesNotMatch(r.stderr, /EADDRNOTAVAIL|\n\s+at |faultTolerance/)
    } finally {
      await removeHome(home)
    }
  })
})
