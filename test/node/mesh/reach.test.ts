/** The address filter, reach and announce order of node/mesh/reach.ts (pure). */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { announceOrder, announcedRelayAddrs, dialableAddrs, ipRefusal, reachOf, type AddrPolicy } from '../../../node/mesh/reach.js'

const X = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'
const R = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const SELF = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
const STRANGER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

const policy: AddrPolicy = { allowLoopback: false, isMember: id => id === R || id === X, selfId: SELF }

describe('dialableAddrs', () => {
  const accepted: Array<[string, string, 'direct' | 'relayed', string]> = [
    ['a LAN address with the member id', `/ip4/10.0.0.5/tcp/4001/p2p/${X}`, 'direct', '/ip4/10.0.0.5/tcp/4001'],
    ['a bare address', '/ip4/192.168.1.9/tcp/4001', 'direct', '/ip4/192.168.1.9/tcp/4001'],
    ['an IPv6 address', `/ip6/fd00::5/tcp/4001/p2p/${X}`, 'direct', '/ip6/fd00::5/tcp/4001'],
    ['a relay address through a member', `/ip4/10.0.0.1/tcp/4001/p2p/${R}/p2p-circuit/p2p/${X}`, 'relayed', `/ip4/10.0.0.1/tcp/4001/p2p/${R}/p2p-circuit`]
  ]
  for (const [name, addr, kind, bare] of accepted) {
    it(`accepts ${name}`, () => {
      const out = dialableAddrs(X, [addr], policy)
      assert.deepEqual(out.dropped, [])
      assert.deepEqual(out[kind].map(m => m.toString()), [bare])
    })
  }

  const refused: Array<[string, string, RegExp]> = [
    ['loopback from another host', `/ip4/127.0.0.1/tcp/4001/p2p/${X}`, /loopback/],
    ['IPv6 loopback', '/ip6/::1/tcp/4001', /loopback/],
    ['IPv4-mapped loopback', '/ip6/::ffff:127.0.0.1/tcp/4001', /loopback/],
    ['IPv4 link-local', '/ip4/169.254.3.4/tcp/4001', /link-local/],
    ['IPv6 link-local', '/ip6/fe80::1/tcp/4001', /link-local/],
    ['the unspecified address', '/ip4/0.0.0.0/tcp/4001', /unspecified/],
    ['multicast', '/ip4/224.0.0.251/tcp/5353', /multicast/],
    ['broadcast', '/ip4/255.255.255.255/tcp/4001', /multicast, reserved or broadcast/],
    ['port 0', '/ip4/10.0.0.5/tcp/0', /port 0 outside/],
    ['UDP', '/ip4/10.0.0.5/udp/4001', /expected \/tcp/],
    ['DNS', '/dns4/example.com/tcp/4001', /expected \/ip4 or \/ip6/],
    ['another peer id', `/ip4/10.0.0.5/tcp/4001/p2p/${STRANGER}`, /names another peer id/],
    ['a relay that is not a member', `/ip4/10.0.0.1/tcp/4001/p2p/${STRANGER}/p2p-circuit/p2p/${X}`, /not a member/],
    ['a relay that is this node', `/ip4/10.0.0.1/tcp/4001/p2p/${SELF}/p2p-circuit/p2p/${X}`, /this node/],
    ['a relay that is the member itself', `/ip4/10.0.0.1/tcp/4001/p2p/${X}/p2p-circuit/p2p/${X}`, /member itself/],
    ['a relay on loopback', `/ip4/127.0.0.1/tcp/4001/p2p/${R}/p2p-circuit/p2p/${X}`, /loopback/],
    ['trailing components', '/ip4/10.0.0.5/tcp/4001/ws', /expected/],
    ['garbage', 'not an address', /not a multiaddr/]
  ]
  for (const [name, addr, reason] of refused) {
    it(`drops ${name}`, () => {
      const out = dialableAddrs(X, [addr], policy)
      assert.equal(out.direct.length + out.relayed.length, 0, `accepted ${addr}`)
      assert.equal(out.dropped.length, 1)
      assert.match(out.dropped[0].reason, reason)
    })
  }

  it('accepts loopback when this node itself announces loopback only (every member on this machine)', () => {
    const out = dialableAddrs(X, [`/ip4/127.0.0.1/tcp/4001/p2p/${X}`], { ...policy, allowLoopback: true })
    assert.deepEqual(out.direct.map(m => m.toString()), ['/ip4/127.0.0.1/tcp/4001'])
    // link-local stays refused either way
    assert.equal(dialableAddrs(X, ['/ip4/169.254.0.1/tcp/4001'], { ...policy, allowLoopback: true }).dropped.length, 1)
  })

  it('deduplicates an address announced with and without the peer id', () => {
    const out = dialableAddrs(X, ['/ip4/10.0.0.5/tcp/4001', `/ip4/10.0.0.5/tcp/4001/p2p/${X}`], policy)
    assert.equal(out.direct.length, 1)
  })
})

describe('ipRefusal', () => {
  it('lets ordinary private and public addresses through', () => {
    for (const ip of ['10.1.2.3', '172.16.0.1', '192.168.0.1', '8.8.8.8', 'fd12::1', '2001:db8::1']) assert.equal(ipRefusal(ip, false), undefined, ip)
  })
})

describe('reachOf', () => {
  it('is direct with any direct connection, relayed with relayed ones only, unreachable with none', () => {
    const direct = '/ip4/10.0.0.5/tcp/4001'
    const relayed = `/ip4/10.0.0.1/tcp/4001/p2p/${R}/p2p-circuit/p2p/${X}`
    assert.equal(reachOf([direct]), 'direct')
    assert.equal(reachOf([relayed, direct]), 'direct')
    assert.equal(reachOf([relayed]), 'relayed')
    assert.equal(reachOf([]), 'unreachable')
  })
})

describe('announceOrder', () => {
  const relayed = (n: number): string => `/ip4/10.0.0.${n}/tcp/4001/p2p/${R}/p2p-circuit/p2p/${X}`
  const direct = (n: number): string => `/ip4/10.1.0.${n}/tcp/4001/p2p/${X}`
  it('keeps everything, direct first, under the cap', () => {
    assert.deepEqual(announceOrder([relayed(1), direct(1)], 8), [direct(1), relayed(1)])
  })
  it('keeps two relay addresses when the direct ones alone would fill the cap', () => {
    const many = Array.from({ length: 10 }, (_, i) => direct(i))
    const out = announceOrder([relayed(1), ...many, relayed(2), relayed(3)], 8)
    assert.equal(out.length, 8)
    assert.deepEqual(out.slice(6), [relayed(1), relayed(2)])
    assert.deepEqual(out.slice(0, 6), many.slice(0, 6))
  })
})

describe('announcedRelayAddrs', () => {
  it('keeps direct addresses and relay addresses at an address the relay announces; drops observed ones and unknown relays', () => {
    const direct = `/ip4/10.1.0.4/tcp/4001/p2p/${X}`
    const good = `/ip4/10.1.0.1/tcp/4001/p2p/${R}/p2p-circuit/p2p/${X}`
    const observed = `/ip4/10.1.0.1/tcp/57082/p2p/${R}/p2p-circuit/p2p/${X}`
    const unknown = `/ip4/10.1.0.9/tcp/4001/p2p/${STRANGER}/p2p-circuit/p2p/${X}`
    const addrsOf = (id: string): string[] | undefined => id === R ? [`/ip4/10.1.0.1/tcp/4001/p2p/${R}`] : undefined
    assert.deepEqual(announcedRelayAddrs([direct, observed, good, unknown], addrsOf), [direct, good])
  })
  it('orders addresses the same way whatever order libp2p lists them in', () => {
    const a = `/ip4/10.1.0.4/tcp/4001/p2p/${X}`
    const b = `/ip4/10.1.0.5/tcp/4001/p2p/${X}`
    assert.deepEqual(announceOrder([b, a], 8), announceOrder([a, b], 8))
  })
})
