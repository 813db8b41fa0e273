/** Protocol identifiers, topic and service tag: the one place these strings live. */

export const PROCMESH_VERSION = '0.1.0'

/** gossipsub topic carrying signed host summaries */
export const SUMMARY_TOPIC = '/procmesh/summary/1'

/** mDNS service tag, so procmesh nodes only discover each other, not every libp2p node on the LAN */
export const MDNS_SERVICE_TAG = '_procmesh._udp.local'

export const LIST_PROTOCOL = '/procmesh/list/1.0.0'
export const START_PROTOCOL = '/procmesh/start/1.0.0'
export const STOP_PROTOCOL = '/procmesh/stop/1.0.0'
export const LOGS_PROTOCOL = '/procmesh/logs/1.0.0'
/** `logs --follow`: the logs exchange under its own stream cap (protocols/limits.ts MAX_FOLLOWS_PER_CONNECTION) */
export const LOGS_FOLLOW_PROTOCOL = '/procmesh/logs-follow/1.0.0'
export const HISTORY_PROTOCOL = '/procmesh/history/1.0.0'
export const AUDIT_PROTOCOL = '/procmesh/audit/1.0.0'
export const MANAGED_PROTOCOL = '/procmesh/managed/1.0.0'
export const RESTART_PROTOCOL = '/procmesh/restart/1.0.0'
export const REMOVE_PROTOCOL = '/procmesh/remove/1.0.0'
/** a new mesh key, handed by an admin to the members it keeps (procmesh rotate-key) */
export const ROTATE_KEY_PROTOCOL = '/procmesh/rotate-key/1.0.0'
/** a node's full summary, pulled by a viewer that saw a gap in its gossip or a new peer */
export const SUMMARY_PROTOCOL = '/procmesh/summary/1.0.0'
/** liveness probe: the stream is opened (one round trip) and closed, nothing is sent */
export const PROBE_PROTOCOL = '/procmesh/probe/1.0.0'

/** JSON-RPC version of the local control API */
export const JSON_RPC_VERSION = '2.0'
/** file name of the control socket inside the node's home */
export const CONTROL_SOCKET_NAME = 'procmesh.sock'

/** gossipsub topic carrying each node's deployment digest (protocols/deploy.ts) */
export const DEPLOY_TOPIC = '/procmesh/deploy/1'
/** deployment specs: a node sends what it holds, the peer answers the specs it lacks (protocols/deploy.ts) */
export const DEPLOY_SYNC_PROTOCOL = '/procmesh/deploy-sync/1.0.0'
