/**
 * The dashboard's pure browser functions (tree, sort, filter, formatting, argv
 * splitting, the event-stream parser), as plain ES2017 source served in /app.js.
 * Kept apart from the DOM code so tests can run them in node:vm and check them
 * against protocols/processes.ts, which they port.
 *
 * The source is a String.raw template: it must contain no backtick and no "${".
 */
export const PAGE_LIB_JS = String.raw`'use strict'
var PM = (function () {
  var SORT_KEYS = ['name', 'pid', 'user', 'cpu', 'mem', 'scpu', 'smem', 'state', 'start']

  /** A process across refreshes: a pid with the start time it had (pids are reused). */
  function processKey (p) {
    return p.pid + ':' + p.startTime
  }

  /**
   * The forest of processes, as protocols/processes.ts builds it: a process whose parent
   * is absent (or itself) is a root; a parent cycle is cut at its lowest pid; a repeated
   * pid keeps its first row; subtree totals include the process itself.
   */
  function buildTree (processes) {
    var byPid = new Map()
    var order = []
    processes.forEach(function (p) {
      if (byPid.has(p.pid)) return
      var node = { process: p, children: [], depth: 0, subtreeCpu: 0, subtreeRss: 0, subtreeCount: 0 }
      byPid.set(p.pid, node)
      order.push(node)
    })
    var parentOf = new Map()
    order.forEach(function (node) {
      var pid = node.process.pid
      var ppid = node.process.ppid
      if (ppid !== pid && byPid.has(ppid)) parentOf.set(pid, ppid)
    })
    var WALKING = 1
    var DONE = 2
    var state = new Map()
    order.forEach(function (node) {
      var path = []
      var cur = node.process.pid
      while (cur !== undefined && state.get(cur) === undefined) {
        state.set(cur, WALKING)
        path.push(cur)
        cur = parentOf.get(cur)
      }
      if (cur !== undefined && state.get(cur) === WALKING) {
        var cycle = path.slice(path.indexOf(cur))
        parentOf.delete(cycle.reduce(function (a, b) { return Math.min(a, b) }))
      }
      path.forEach(function (pid) { state.set(pid, DONE) })
    })
    var roots = []
    order.forEach(function (node) {
      var parent = parentOf.get(node.process.pid)
      if (parent === undefined) roots.push(node)
      else byPid.get(parent).children.push(node)
    })
    var visit = []
    var stack = roots.slice()
    while (stack.length > 0) {
      var n = stack.pop()
      visit.push(n)
      n.children.forEach(function (child) {
        child.depth = n.depth + 1
        stack.push(child)
      })
    }
    for (var i = visit.length - 1; i >= 0; i--) {
      var v = visit[i]
      v.subtreeCpu = v.process.cpuPercent
      v.subtreeRss = v.process.rss
      v.subtreeCount = 1
      v.children.forEach(function (c) {
        v.subtreeCpu += c.subtreeCpu
        v.subtreeRss += c.subtreeRss
        v.subtreeCount += c.subtreeCount
      })
    }
    return roots
  }

  function compareText (a, b) {
    var la = a.toLowerCase()
    var lb = b.toLowerCase()
    if (la !== lb) return la < lb ? -1 : 1
    return a < b ? -1 : a > b ? 1 : 0
  }

  /**
   * Comparator of tree nodes (or of { process } rows with subtree figures absent):
   * numbers that measure load run descending, names and times ascending, pid
   * ascending breaks ties; reverse flips the whole order.
   */
  function compareNodes (key, reverse) {
    var base = function (a, b) {
      var pa = a.process
      var pb = b.process
      var d = 0
      if (key === 'cpu') d = pb.cpuPercent - pa.cpuPercent
      else if (key === 'mem') d = pb.rss - pa.rss
      else if (key === 'scpu') d = (b.subtreeCpu !== undefined ? b.subtreeCpu : pb.cpuPercent) - (a.subtreeCpu !== undefined ? a.subtreeCpu : pa.cpuPercent)
      else if (key === 'smem') d = (b.subtreeRss !== undefined ? b.subtreeRss : pb.rss) - (a.subtreeRss !== undefined ? a.subtreeRss : pa.rss)
      else if (key === 'name') d = compareText(pa.name, pb.name)
      else if (key === 'user') d = compareText(pa.user, pb.user)
      else if (key === 'state') d = compareText(pa.state, pb.state)
      else if (key === 'start') d = pa.startTime - pb.startTime
      return d !== 0 ? d : pa.pid - pb.pid
    }
    return reverse ? function (a, b) { return base(b, a) } : base
  }

  /**
   * Display rows depth first; children of folded nodes (by processKey) are left out.
   * opts: { folded: Set, sort: { key, reverse } }
   */
  function flattenTree (roots, opts) {
    var folded = (opts && opts.folded) || new Set()
    var sort = opts && opts.sort
    var cmp = sort ? compareNodes(sort.key, sort.reverse === true) : null
    var arrange = function (nodes) { return cmp ? nodes.slice().sort(cmp) : nodes.slice() }
    var rows = []
    var stack = []
    var push = function (nodes) { for (var i = nodes.length - 1; i >= 0; i--) stack.push(nodes[i]) }
    push(arrange(roots))
    while (stack.length > 0) {
      var node = stack.pop()
      var hasChildren = node.children.length > 0
      var isFolded = hasChildren && folded.has(processKey(node.process))
      rows.push({ node: node, process: node.process, depth: node.depth, hasChildren: hasChildren, folded: isFolded })
      if (hasChildren && !isFolded) push(arrange(node.children))
    }
    return rows
  }

  /** Keys of every node that has children (to fold everything). */
  function parentKeys (roots) {
    var keys = []
    var stack = roots.slice()
    while (stack.length > 0) {
      var n = stack.pop()
      if (n.children.length > 0) keys.push(processKey(n.process))
      n.children.forEach(function (c) { stack.push(c) })
    }
    return keys
  }

  /** The chain of ancestors of a process (nearest first), by ppid within the list. */
  function ancestorKeys (processes, pid) {
    var byPid = new Map()
    processes.forEach(function (p) { if (!byPid.has(p.pid)) byPid.set(p.pid, p) })
    var keys = []
    var seen = new Set([pid])
    var cur = byPid.get(pid)
    while (cur && cur.ppid !== cur.pid && byPid.has(cur.ppid) && !seen.has(cur.ppid)) {
      seen.add(cur.ppid)
      cur = byPid.get(cur.ppid)
      keys.push(processKey(cur))
    }
    return keys
  }

  /** As the CLI's --filter: a case-insensitive substring of name, command or user. */
  function matchesFilter (p, text) {
    var needle = text.trim().toLowerCase()
    if (needle === '') return true
    return p.name.toLowerCase().indexOf(needle) >= 0 || p.cmd.toLowerCase().indexOf(needle) >= 0 || p.user.toLowerCase().indexOf(needle) >= 0
  }

  function filterProcesses (processes, text) {
    return processes.filter(function (p) { return matchesFilter(p, text) })
  }

  function formatBytes (n) {
    if (typeof n !== 'number' || !isFinite(n) || n < 0) return '-'
    var units = ['B', 'K', 'M', 'G', 'T']
    var v = n
    var i = 0
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
    return i === 0 ? v + 'B' : (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + units[i]
  }

  function formatPercent (n) {
    return typeof n === 'number' && isFinite(n) ? n.toFixed(1) + '%' : '-'
  }

  function pad2 (n) {
    return n < 10 ? '0' + n : String(n)
  }

  /** HH:MM today, else Mon DD (as the CLI's START column). */
  function formatStart (ms, now) {
    var d = new Date(ms)
    var today = new Date(now)
    if (d.toDateString() === today.toDateString()) return pad2(d.getHours()) + ':' + pad2(d.getMinutes())
    var months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
    return months[d.getMonth()] + ' ' + pad2(d.getDate())
  }

  function formatAgo (then, now) {
    var s = Math.max(0, Math.round((now - then) / 1000))
    if (s < 60) return s + 's ago'
    if (s < 3600) return Math.floor(s / 60) + 'm ago'
    if (s < 86400) return Math.floor(s / 3600) + 'h ago'
    return Math.floor(s / 86400) + 'd ago'
  }

  function formatDuration (seconds) {
    var d = Math.floor(seconds / 86400)
    var h = Math.floor((seconds % 86400) / 3600)
    var m = Math.floor((seconds % 3600) / 60)
    if (d > 0) return d + 'd ' + h + 'h'
    if (h > 0) return h + 'h ' + m + 'm'
    return m + 'm'
  }

  /**
   * A command line into argv, without a shell: words split on blanks, 'single' and
   * "double" quotes group (no expansion of any kind), a backslash escapes the next
   * character outside single quotes. Throws an Error naming an unclosed quote.
   */
  function splitArgs (text) {
    var args = []
    var cur = ''
    var inWord = false
    var quote = ''
    for (var i = 0; i < text.length; i++) {
      var c = text[i]
      if (quote === "'") {
        if (c === "'") quote = ''
        else cur += c
      } else if (quote === '"') {
        if (c === '"') quote = ''
        else if (c === '\\' && i + 1 < text.length && (text[i + 1] === '"' || text[i + 1] === '\\')) cur += text[++i]
        else cur += c
      } else if (c === "'" || c === '"') {
        quote = c
        inWord = true
      } else if (c === '\\' && i + 1 < text.length) {
        cur += text[++i]
        inWord = true
      } else if (/\s/.test(c)) {
        if (inWord) args.push(cur)
        cur = ''
        inWord = false
      } else {
        cur += c
        inWord = true
      }
    }
    if (quote !== '') throw new Error('unclosed ' + (quote === '"' ? 'double' : 'single') + ' quote')
    if (inWord) args.push(cur)
    return args
  }

  /** KEY=VALUE per line (blank lines skipped) into an object; throws naming the bad line. */
  function parseEnvLines (text) {
    var env = {}
    var count = 0
    text.split(/\r?\n/).forEach(function (line, i) {
      if (line.trim() === '') return
      var eq = line.indexOf('=')
      if (eq <= 0) throw new Error('env line ' + (i + 1) + ': expected KEY=VALUE')
      env[line.slice(0, eq).trim()] = line.slice(eq + 1)
      count++
    })
    return count > 0 ? env : undefined
  }

  /** Incremental text/event-stream parser: push() text as it arrives; onEvent({ event, data, id }) per event. */
  function sseParser (onEvent) {
    var buffer = ''
    var event = ''
    var data = []
    var id = ''
    function line (l) {
      if (l === '') {
        if (data.length > 0) onEvent({ event: event || 'message', data: data.join('\n'), id: id })
        event = ''
        data = []
        return
      }
      if (l[0] === ':') return
      var colon = l.indexOf(':')
      var field = colon < 0 ? l : l.slice(0, colon)
      var value = colon < 0 ? '' : l.slice(colon + 1)
      if (value[0] === ' ') value = value.slice(1)
      if (field === 'event') event = value
      else if (field === 'data') data.push(value)
      else if (field === 'id') id = value
    }
    return {
      push: function (text) {
        buffer += text
        var m
        while ((m = /\r\n|\r|\n/.exec(buffer)) !== null) {
          // a lone CR at the end may be the first half of CRLF: wait for more
          if (m[0] === '\r' && m.index === buffer.length - 1) break
          line(buffer.slice(0, m.index))
          buffer = buffer.slice(m.index + m[0].length)
        }
      }
    }
  }

  /** SVG polyline points for values on a width x height box; max is the top of the scale. */
  function sparkPoints (values, width, height, max) {
    if (values.length === 0) return ''
    var top = max > 0 ? max : 1
    var step = values.length > 1 ? width / (values.length - 1) : 0
    return values.map(function (v, i) {
      var y = height - Math.max(0, Math.min(1, v / top)) * height
      return (values.length > 1 ? i * step : width).toFixed(1) + ',' + y.toFixed(1)
    }).join(' ')
  }

  return {
    SORT_KEYS: SORT_KEYS,
    processKey: processKey,
    buildTree: buildTree,
    compareNodes: compareNodes,
    flattenTree: flattenTree,
    parentKeys: parentKeys,
    ancestorKeys: ancestorKeys,
    matchesFilter: matchesFilter,
    filterProcesses: filterProcesses,
    formatBytes: formatBytes,
    formatPercent: formatPercent,
    formatStart: formatStart,
    formatAgo: formatAgo,
    formatDuration: formatDuration,
    splitArgs: splitArgs,
    parseEnvLines: parseEnvLines,
    sseParser: sseParser,
    sparkPoints: sparkPoints
  }
})()
`
