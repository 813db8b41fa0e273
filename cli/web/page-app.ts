/**
 * The dashboard's DOM code, served in /app.js after PAGE_LIB_JS (which defines PM).
 * Standard DOM only (Chromium and Firefox), no framework, no inline handlers (the
 * page's CSP forbids them). Everything from the mesh is untrusted text: it goes
 * into the page with textContent, never as HTML.
 *
 * Data flow: /api/events (a fetch-read event stream, so the bearer token can be
 * sent) keeps the host list live; the selected host's processes and a mesh-wide
 * search are polled while shown; render functions only draw from state.
 *
 * The source is a String.raw template: it must contain no backtick and no "${".
 */
// biome-ignore lint/complexity/noUselessStringRaw: raw on purpose, so a backslash added to the page later stays a backslash
export const PAGE_APP_JS = String.raw`
;(function () {
  var TOKEN_KEY = 'procmesh.web.token'
  var PROCS_REFRESH_MS = 3000
  var SEARCH_REFRESH_MS = 5000
  var SEARCH_DEBOUNCE_MS = 300
  var HISTORY_REFRESH_MS = 60000
  var SPARK_WINDOW_MS = 15 * 60 * 1000
  var SPARK_MAX_POINTS = 120
  var SIGNALS = ['TERM', 'INT', 'HUP', 'KILL', 'QUIT', 'USR1', 'USR2', 'STOP', 'CONT']

  var S = {
    info: { allowControl: false, tokenRequired: false },
    token: readToken(),
    hosts: new Map(),
    history: new Map(),
    conn: { state: 'connecting', message: '' },
    selected: null,
    procs: null,
    procsError: null,
    folded: new Set(),
    sort: { key: 'pid', reverse: false },
    filter: '',
    search: '',
    searchResults: null,
    searchError: null,
    searchLoading: false,
    detail: null,
    stopTarget: null
  }
  var eventsAbort = null
  var eventsRetry = null
  var eventsBackoff = 1000
  var procsTimer = null
  var searchTimer = null
  var searchDebounce = null
  var historyTimer = null
  var toastTimer = null

  function $ (id) { return document.getElementById(id) }

  /** h('tr', { class: 'x', dataset: { k: 'v' } }, [children or text]) */
  function h (tag, attrs, children) {
    var el = document.createElement(tag)
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k]
        if (v === undefined || v === null || v === false) return
        if (k === 'class') el.className = v
        else if (k === 'text') el.textContent = v
        else if (k === 'dataset') Object.keys(v).forEach(function (d) { el.dataset[d] = v[d] })
        else if (k === 'on') Object.keys(v).forEach(function (ev) { el.addEventListener(ev, v[ev]) })
        else el.setAttribute(k, v === true ? '' : String(v))
      })
    }
    append(el, children)
    return el
  }

  function append (el, children) {
    if (children === undefined || children === null) return
    if (!Array.isArray(children)) children = [children]
    children.forEach(function (c) {
      if (c === undefined || c === null || c === false) return
      el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
    })
  }

  function readToken () {
    try { return window.localStorage.getItem(TOKEN_KEY) || '' } catch (e) { return '' }
  }

  function saveToken (token) {
    S.token = token
    try {
      if (token) window.localStorage.setItem(TOKEN_KEY, token)
      else window.localStorage.removeItem(TOKEN_KEY)
    } catch (e) { /* private mode: the token lasts for this page only */ }
  }

  function authHeaders (extra) {
    var headers = extra || {}
    if (S.token) headers.Authorization = 'Bearer ' + S.token
    return headers
  }

  /** fetch JSON; rejects with an Error carrying status, code and the server's message. */
  function api (method, path, body) {
    var init = { method: method, headers: authHeaders({ Accept: 'application/json' }), cache: 'no-store', credentials: 'same-origin' }
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null
        try { data = text ? JSON.parse(text) : null } catch (e) { data = null }
        if (!res.ok) {
          var e = data && data.error ? data.error : { code: 'HTTP_' + res.status, message: 'HTTP ' + res.status + ' ' + res.statusText }
          var err = new Error(e.message)
          err.status = res.status
          err.code = e.code
          if (res.status === 401) askToken(e.message)
          throw err
        }
        return data
      })
    })
  }

  // ---- live host list: the event stream ----

  function connectEvents () {
    if (eventsAbort) eventsAbort.abort()
    clearTimeout(eventsRetry)
    var ctrl = new AbortController()
    eventsAbort = ctrl
    fetch('/api/events', { headers: authHeaders({ Accept: 'text/event-stream' }), cache: 'no-store', signal: ctrl.signal })
      .then(function (res) {
        if (res.status === 401) {
          askToken('the API token was refused')
          var authErr = new Error('unauthorized')
          authErr.status = 401
          throw authErr
        }
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status)
        eventsBackoff = 1000
        if (S.conn.state !== 'node-down') setConn('live', '')
        var reader = res.body.getReader()
        var decoder = new TextDecoder()
        var parser = PM.sseParser(onEvent)
        function pump () {
          return reader.read().then(function (r) {
            if (r.done) throw new Error('the event stream ended')
            parser.push(decoder.decode(r.value, { stream: true }))
            return pump()
          })
        }
        return pump()
      })
      .catch(function (err) {
        if (ctrl.signal.aborted) return
        if (err && err.status === 401) { setConn('auth', 'API token needed'); return }
        setConn('reconnecting', 'reconnecting to procmesh web…')
        eventsRetry = setTimeout(connectEvents, eventsBackoff)
        eventsBackoff = Math.min(eventsBackoff * 2, 15000)
      })
  }

  function onEvent (msg) {
    var ev
    try { ev = JSON.parse(msg.data) } catch (e) { return }
    if (ev.type === 'snapshot') {
      S.hosts = new Map()
      ev.hosts.forEach(function (p) { S.hosts.set(p.peerId, p); notePoint(p) })
      setConn('live', '')
      if (S.selected === null || !S.hosts.has(S.selected)) selectInitialHost()
    } else if (ev.type === 'peer-joined' || ev.type === 'peer-status' || ev.type === 'summary') {
      S.hosts.set(ev.peer.peerId, ev.peer)
      notePoint(ev.peer)
      if (S.selected === null) selectInitialHost()
    } else if (ev.type === 'peer-left') {
      S.hosts.delete(ev.peerId)
    } else if (ev.type === 'node-error') {
      setConn('node-down', ev.error.code + ': ' + ev.error.message)
    }
    renderHosts()
    if (ev.type === 'snapshot' || ev.type === 'peer-status') renderProcsHead()
  }

  function setConn (state, message) {
    S.conn = { state: state, message: message }
    var el = $('conn')
    el.dataset.state = state
    el.textContent = state === 'live' ? 'live' : state === 'node-down' ? 'node unavailable' : state === 'auth' ? 'token needed' : state === 'connecting' ? 'connecting…' : 'reconnecting…'
    el.title = message
    var banner = $('banner')
    banner.hidden = !(state === 'node-down' || state === 'reconnecting')
    banner.textContent = state === 'node-down' ? 'The local node does not answer: ' + message : message
  }

  // ---- sparklines ----

  function notePoint (p) {
    if (!p.host) return
    var list = S.history.get(p.peerId) || []
    var at = p.lastSeen
    if (list.length > 0 && list[list.length - 1].at >= at) return
    list.push({ at: at, cpu: p.host.cpuPercent, mem: p.host.memTotal > 0 ? 100 * p.host.memUsed / p.host.memTotal : 0 })
    trimHistory(list)
    S.history.set(p.peerId, list)
  }

  function trimHistory (list) {
    var cutoff = Date.now() - SPARK_WINDOW_MS
    while (list.length > 0 && (list[0].at < cutoff || list.length > SPARK_MAX_POINTS * 2)) list.shift()
  }

  function loadHistory () {
    clearTimeout(historyTimer)
    api('GET', '/api/history?host=all&points=' + SPARK_MAX_POINTS + '&since=' + (Date.now() - SPARK_WINDOW_MS))
      .then(function (entries) {
        entries.forEach(function (e) {
          if (!e.points) return
          var fetched = e.points.map(function (pt) {
            return { at: pt.at, cpu: pt.cpuPercent, mem: e.memTotal > 0 ? 100 * pt.memUsed / e.memTotal : 0 }
          })
          var live = (S.history.get(e.peerId) || []).filter(function (pt) {
            return fetched.length === 0 || pt.at > fetched[fetched.length - 1].at
          })
          var list = fetched.concat(live)
          trimHistory(list)
          S.history.set(e.peerId, list)
        })
        renderHosts()
      })
      .catch(function () { /* sparklines fill from live summaries meanwhile */ })
      .then(function () { historyTimer = setTimeout(loadHistory, HISTORY_REFRESH_MS) })
  }

  function sparkline (peerId) {
    var NS = 'http://www.w3.org/2000/svg'
    var svg = document.createElementNS(NS, 'svg')
    svg.setAttribute('viewBox', '0 0 100 24')
    svg.setAttribute('preserveAspectRatio', 'none')
    svg.setAttribute('class', 'spark')
    svg.setAttribute('aria-hidden', 'true')
    var list = S.history.get(peerId) || []
    var last = list.slice(-SPARK_MAX_POINTS)
    ;[['mem', 'spark-mem'], ['cpu', 'spark-cpu']].forEach(function (kv) {
      var line = document.createElementNS(NS, 'polyline')
      line.setAttribute('class', kv[1])
      line.setAttribute('points', PM.sparkPoints(last.map(function (pt) { return pt[kv[0]] }), 100, 24, 100))
      svg.appendChild(line)
    })
    return svg
  }

  // ---- hosts ----

  /** status as shown: online hosts say how this node reaches them when it is not directly */
  function hostStatusText (p) {
    if (p.status !== 'online' || p.self) return p.status
    if (p.reach === 'unreachable') return 'online · unreachable from this node'
    if (p.reach === 'relayed') return 'online · relayed'
    return p.status
  }

  function sortedHosts () {
    return Array.from(S.hosts.values()).sort(function (a, b) {
      if (a.self !== b.self) return a.self ? -1 : 1
      return a.name < b.name ? -1 : a.name > b.name ? 1 : a.peerId < b.peerId ? -1 : 1
    })
  }

  function selectInitialHost () {
    var wanted = hashHost()
    if (wanted && S.hosts.has(wanted)) { selectHost(wanted); return }
    var hosts = sortedHosts()
    if (hosts.length > 0) selectHost(hosts[0].peerId)
  }

  function hashHost () {
    var m = /^#host=(.+)$/.exec(window.location.hash)
    if (!m) return null
    try { return decodeURIComponent(m[1]) } catch (e) { return null }
  }

  function bar (percent, cls) {
    var fill = h('span', { class: 'bar-fill ' + cls })
    fill.style.width = Math.max(0, Math.min(100, percent)).toFixed(1) + '%'
    return h('span', { class: 'bar', 'aria-hidden': 'true' }, fill)
  }

  function renderHosts () {
    var list = $('host-list')
    var now = Date.now()
    var hosts = sortedHosts()
    $('host-count').textContent = hosts.length > 0 ? '(' + hosts.length + ')' : ''
    var existing = new Map()
    Array.prototype.forEach.call(list.children, function (li) { existing.set(li.dataset.peer, li) })
    hosts.forEach(function (p, index) {
      var li = existing.get(p.peerId)
      existing.delete(p.peerId)
      if (!li) {
        li = h('li', { class: 'host-item', dataset: { peer: p.peerId } }, h('button', { type: 'button', class: 'host' }))
        li.firstChild.addEventListener('click', function () { selectHost(p.peerId) })
      }
      if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null)
      var btn = li.firstChild
      // a host whose summaries arrive but which this node cannot reach is not shown as plainly online
      var shown = hostStatusText(p)
      btn.dataset.status = p.status === 'online' && !p.self && p.reach === 'unreachable' ? 'unreachable' : p.status
      btn.setAttribute('aria-pressed', S.selected === p.peerId ? 'true' : 'false')
      btn.setAttribute('aria-label', p.name + ', ' + shown)
      var hostInfo = p.host || {}
      var memPct = hostInfo.memTotal > 0 ? 100 * hostInfo.memUsed / hostInfo.memTotal : 0
      btn.replaceChildren(
        h('span', { class: 'host-line' }, [
          h('span', { class: 'dot', 'aria-hidden': 'true' }),
          h('span', { class: 'host-name', text: p.name }),
          p.self ? h('span', { class: 'badge', text: 'this node' }) : null,
          h('span', { class: 'host-status', text: shown })
        ]),
        h('span', { class: 'host-figures' }, [
          h('span', { class: 'fig' }, [h('span', { class: 'fig-label', text: 'CPU' }), bar(hostInfo.cpuPercent || 0, 'cpu'), h('span', { class: 'fig-value', text: PM.formatPercent(hostInfo.cpuPercent) })]),
          h('span', { class: 'fig' }, [h('span', { class: 'fig-label', text: 'MEM' }), bar(memPct, 'mem'), h('span', { class: 'fig-value', text: PM.formatBytes(hostInfo.memUsed) + ' / ' + PM.formatBytes(hostInfo.memTotal) })])
        ]),
        sparkline(p.peerId),
        h('span', { class: 'host-meta muted', text: p.procCount + ' processes · load ' + (hostInfo.load ? hostInfo.load[0].toFixed(2) : '-') + ' · ' + (p.self ? 'now' : PM.formatAgo(p.lastSeen, now)) })
      )
    })
    existing.forEach(function (li) { li.remove() })
    $('hosts-empty').hidden = hosts.length > 0
  }

  function selectHost (peerId) {
    if (S.selected !== peerId) {
      S.selected = peerId
      S.procs = null
      S.procsError = null
      S.folded = new Set()
      S.filter = ''
      $('filter').value = ''
      try { window.history.replaceState(null, '', '#host=' + encodeURIComponent(peerId)) } catch (e) { /* file: or sandboxed */ }
    }
    clearSearch()
    renderHosts()
    renderProcs()
    refreshProcs()
  }

  // ---- the selected host's processes ----

  function refreshProcs () {
    clearTimeout(procsTimer)
    var peerId = S.selected
    if (peerId === null) return
    api('GET', '/api/processes?host=' + encodeURIComponent(peerId))
      .then(function (entries) {
        if (S.selected !== peerId) return
        var entry = entries[0]
        if (entry && entry.error) { S.procsError = entry.error; return }
        S.procs = entry || null
        S.procsError = null
      }, function (err) {
        if (S.selected !== peerId) return
        S.procsError = { code: err.code || 'ERROR', message: err.message }
      })
      .then(function () {
        if (S.selected !== peerId) return
        renderProcs()
        revealPending()
        renderDetails()
        procsTimer = setTimeout(refreshProcs, PROCS_REFRESH_MS)
      })
  }

  function renderProcsHead () {
    var host = S.selected !== null ? S.hosts.get(S.selected) : null
    $('procs-title').textContent = host ? host.name : 'Select a host'
    var meta = ''
    if (host) meta = host.status + (S.procs ? ' · ' + S.procs.processes.length + ' processes · sampled ' + PM.formatAgo(S.procs.collectedAt, Date.now()) : '')
    $('procs-meta').textContent = meta
  }

  function selectedDetailKey () {
    return S.detail && S.detail.peerId === S.selected ? S.detail.key : null
  }

  function renderProcs () {
    renderProcsHead()
    var tbody = $('proc-body')
    var status = $('procs-status')
    renderSortHeaders($('proc-table'))
    if (S.procsError) {
      status.hidden = false
      status.className = 'status error'
      status.textContent = S.procsError.code + ': ' + S.procsError.message
    } else if (!S.procs) {
      status.hidden = false
      status.className = 'status'
      status.textContent = S.selected === null ? 'No hosts yet.' : 'Loading processes…'
    } else {
      status.hidden = true
    }
    if (!S.procs) { tbody.replaceChildren(); return }
    var now = Date.now()
    var shown = S.filter ? PM.filterProcesses(S.procs.processes, S.filter) : S.procs.processes
    var roots = PM.buildTree(shown)
    var rows = PM.flattenTree(roots, { folded: S.folded, sort: S.sort })
    var detailKey = selectedDetailKey()
    var frag = document.createDocumentFragment()
    rows.forEach(function (r) {
      var p = r.process
      var key = PM.processKey(p)
      var cmdCell = h('td', { class: 'col-cmd' })
      var indent = h('span', { class: 'indent' })
      indent.style.paddingLeft = (r.depth * 16) + 'px'
      cmdCell.appendChild(indent)
      if (r.hasChildren) {
        cmdCell.appendChild(h('button', {
          type: 'button',
          class: 'twisty',
          'aria-expanded': r.folded ? 'false' : 'true',
          'aria-label': (r.folded ? 'Expand ' : 'Collapse ') + p.name,
          title: r.folded ? 'Expand (' + (r.node.subtreeCount - 1) + ' below)' : 'Collapse',
          dataset: { toggle: key },
          text: r.folded ? '▸' : '▾'
        }))
      } else {
        cmdCell.appendChild(h('span', { class: 'twisty-space', 'aria-hidden': 'true' }))
      }
      cmdCell.appendChild(h('span', { class: 'pname', text: p.name }))
      if (p.managedId) cmdCell.appendChild(h('span', { class: 'badge', text: 'managed', title: p.managedId }))
      if (p.cmd && p.cmd !== p.name) cmdCell.appendChild(h('span', { class: 'pcmd muted', text: p.cmd }))
      var tr = h('tr', {
        class: 'row' + (key === detailKey ? ' selected' : ''),
        tabindex: '0',
        dataset: { key: key, pid: String(p.pid) },
        'aria-level': String(r.depth + 1),
        'aria-expanded': r.hasChildren ? (r.folded ? 'false' : 'true') : null
      }, [
        cmdCell,
        h('td', { class: 'num col-pid', text: String(p.pid) }),
        h('td', { class: 'col-user', text: p.user }),
        h('td', { class: 'num col-cpu', text: p.cpuPercent.toFixed(1) }),
        h('td', { class: 'num col-mem', text: PM.formatBytes(p.rss) }),
        h('td', { class: 'num col-scpu', text: r.hasChildren ? r.node.subtreeCpu.toFixed(1) : '' }),
        h('td', { class: 'num col-smem', text: r.hasChildren ? PM.formatBytes(r.node.subtreeRss) : '' }),
        h('td', { class: 'col-state', text: p.state }),
        h('td', { class: 'col-start', text: PM.formatStart(p.startTime, now) })
      ])
      frag.appendChild(tr)
    })
    tbody.replaceChildren(frag)
    if (rows.length === 0) {
      status.hidden = false
      status.className = 'status'
      status.textContent = S.filter ? 'No process matches "' + S.filter + '".' : 'No processes.'
    }
  }

  function renderSortHeaders (table) {
    Array.prototype.forEach.call(table.querySelectorAll('th[data-sort]'), function (th) {
      var active = th.dataset.sort === S.sort.key
      var natural = (th.dataset.sort === 'cpu' || th.dataset.sort === 'mem' || th.dataset.sort === 'scpu' || th.dataset.sort === 'smem') ? 'descending' : 'ascending'
      var flipped = natural === 'ascending' ? 'descending' : 'ascending'
      if (active) th.setAttribute('aria-sort', S.sort.reverse ? flipped : natural)
      else th.removeAttribute('aria-sort')
    })
  }

  function onSortClick (ev) {
    var btn = ev.target.closest('th[data-sort] button')
    if (!btn) return
    var key = btn.parentElement.dataset.sort
    if (S.sort.key === key) S.sort = { key: key, reverse: !S.sort.reverse }
    else S.sort = { key: key, reverse: false }
    renderProcs()
    renderSearch()
  }

  function onProcClick (ev) {
    var toggle = ev.target.closest('button[data-toggle]')
    if (toggle) {
      var key = toggle.dataset.toggle
      if (S.folded.has(key)) S.folded.delete(key)
      else S.folded.add(key)
      renderProcs()
      return
    }
    var tr = ev.target.closest('tr.row')
    if (tr) showDetail(S.selected, tr.dataset.key)
  }

  function onProcKey (ev) {
    var tr = ev.target.closest('tr.row')
    if (!tr || ev.target !== tr) return
    if (ev.key === 'Enter') { showDetail(S.selected, tr.dataset.key); ev.preventDefault() }
    var toggle = tr.querySelector('button[data-toggle]')
    if (toggle && ((ev.key === 'ArrowRight' && S.folded.has(toggle.dataset.toggle)) || (ev.key === 'ArrowLeft' && !S.folded.has(toggle.dataset.toggle)))) {
      toggle.click()
      var again = document.querySelector('tr.row[data-key="' + CSS.escape(tr.dataset.key) + '"]')
      if (again) again.focus()
      ev.preventDefault()
    }
  }

  function foldAll (fold) {
    if (!S.procs) return
    S.folded = fold ? new Set(PM.parentKeys(PM.buildTree(S.filter ? PM.filterProcesses(S.procs.processes, S.filter) : S.procs.processes))) : new Set()
    renderProcs()
  }

  // ---- process details and stop ----

  function findProcess (peerId, key) {
    if (S.procs && S.procs.peerId === peerId) {
      for (var i = 0; i < S.procs.processes.length; i++) if (PM.processKey(S.procs.processes[i]) === key) return S.procs.processes[i]
    }
    return null
  }

  function showDetail (peerId, key) {
    S.detail = { peerId: peerId, key: key }
    renderProcs()
    renderDetails()
    $('details-close').focus()
  }

  function closeDetail () {
    S.detail = null
    renderDetails()
    renderProcs()
  }

  function renderDetails () {
    var panel = $('details')
    panel.hidden = !S.detail
    document.body.classList.toggle('details-open', !!S.detail)
    if (!S.detail) return
    var host = S.hosts.get(S.detail.peerId)
    var p = findProcess(S.detail.peerId, S.detail.key)
    var body = $('details-body')
    var stop = $('details-stop')
    stop.hidden = !S.info.allowControl
    if (!p) {
      body.replaceChildren(h('p', { class: 'muted', text: S.procs && S.procs.peerId === S.detail.peerId ? 'This process has ended.' : 'Loading…' }))
      stop.disabled = true
      return
    }
    stop.disabled = false
    var now = Date.now()
    var fields = [
      ['Host', host ? host.name : S.detail.peerId],
      ['PID', String(p.pid)],
      ['Parent PID', String(p.ppid)],
      ['User', p.user],
      ['Name', p.name],
      ['Command', p.cmd || '(none)'],
      ['State', p.state],
      ['CPU', p.cpuPercent.toFixed(1) + '% of one core'],
      ['Memory (RSS)', PM.formatBytes(p.rss)],
      ['Started', new Date(p.startTime).toLocaleString() + ' (' + PM.formatAgo(p.startTime, now) + ')']
    ]
    if (p.managedId) fields.push(['Managed id', p.managedId])
    var children = S.procs.processes.filter(function (c) { return c.ppid === p.pid && c.pid !== p.pid }).length
    fields.push(['Children', String(children)])
    var dl = h('dl', { class: 'fields' })
    fields.forEach(function (f) {
      dl.appendChild(h('dt', { text: f[0] }))
      dl.appendChild(h('dd', { class: f[0] === 'Command' ? 'mono wrap' : '', text: f[1] }))
    })
    body.replaceChildren(dl)
  }

  function openStopDialog () {
    if (!S.detail) return
    var p = findProcess(S.detail.peerId, S.detail.key)
    if (!p) return
    var host = S.hosts.get(S.detail.peerId)
    S.stopTarget = { peerId: S.detail.peerId, hostName: host ? host.name : S.detail.peerId, pid: p.pid, startTime: p.startTime, name: p.name }
    var below = 0
    var node = null
    PM.buildTree(S.procs.processes).forEach(function visit (n) {
      if (n.process.pid === p.pid) node = n
      else n.children.forEach(visit)
    })
    if (node) below = node.subtreeCount - 1
    $('stop-text').textContent = 'Stop ' + p.name + ' (pid ' + p.pid + ') on ' + S.stopTarget.hostName + '?'
    $('stop-signal').value = 'TERM'
    $('stop-tree').checked = false
    $('stop-tree-label').textContent = 'Also its ' + below + ' descendant' + (below === 1 ? '' : 's')
    $('stop-tree-row').hidden = below === 0
    $('stop-error').textContent = ''
    $('stop-confirm').disabled = false
    $('stop-dialog').showModal()
    $('stop-cancel').focus()
  }

  function confirmStop (ev) {
    ev.preventDefault()
    var t = S.stopTarget
    if (!t) return
    var body = { signal: $('stop-signal').value, startTime: t.startTime }
    if ($('stop-tree').checked) body.tree = true
    $('stop-confirm').disabled = true
    api('POST', '/api/processes/' + encodeURIComponent(t.peerId) + '/' + t.pid + '/signal', body)
      .then(function (r) {
        $('stop-dialog').close()
        var more = r.signalled && r.signalled.length > 1 ? ' (' + r.signalled.length + ' processes)' : ''
        toast(r.result === 'gone'
          ? 'pid ' + r.pid + ' on ' + r.name + ' is gone: it had already exited, nothing was signalled'
          : 'pid ' + r.pid + ' on ' + r.name + ': ' + r.result + ' (' + r.signal + ')' + more, r.result === 'gone' ? 'warn' : 'ok')
        refreshProcs()
      }, function (err) {
        $('stop-confirm').disabled = false
        $('stop-error').textContent = err.message
        if (err.status !== 401) toast('Stop refused: ' + err.message, 'error')
      })
  }

  // ---- start ----

  function openStartDialog () {
    var select = $('start-host')
    select.replaceChildren()
    sortedHosts().forEach(function (p) {
      select.appendChild(h('option', { value: p.peerId, text: p.name + (p.status !== 'online' ? ' (' + p.status + ')' : '') }))
    })
    if (S.selected !== null) select.value = S.selected
    $('start-error').textContent = ''
    $('start-submit').disabled = false
    $('start-dialog').showModal()
    $('start-cmd').focus()
  }

  function submitStart (ev) {
    ev.preventDefault()
    var body
    try {
      var argv = PM.splitArgs($('start-cmd').value)
      if (argv.length === 0) throw new Error('enter a command')
      body = { host: $('start-host').value, argv: argv }
      var cwd = $('start-cwd').value.trim()
      if (cwd) body.cwd = cwd
      var env = PM.parseEnvLines($('start-env').value)
      if (env) body.env = env
    } catch (e) {
      $('start-error').textContent = e.message
      return
    }
    $('start-submit').disabled = true
    api('POST', '/api/processes', body).then(function (r) {
      $('start-dialog').close()
      toast('started ' + r.managedId + ' (pid ' + r.pid + ') on ' + r.name, 'ok')
      if (r.peerId === S.selected) refreshProcs()
    }, function (err) {
      $('start-submit').disabled = false
      $('start-error').textContent = err.message
    })
  }

  // ---- mesh-wide search ----

  function onSearchInput () {
    clearTimeout(searchDebounce)
    searchDebounce = setTimeout(function () {
      S.search = $('search').value.trim()
      if (S.search === '') { clearSearch(); return }
      S.searchResults = null
      S.searchError = null
      showSearchView(true)
      renderSearch()
      refreshSearch()
    }, SEARCH_DEBOUNCE_MS)
  }

  function clearSearch () {
    clearTimeout(searchTimer)
    clearTimeout(searchDebounce)
    S.search = ''
    S.searchResults = null
    $('search').value = ''
    showSearchView(false)
  }

  function showSearchView (on) {
    $('view-search').hidden = !on
    $('view-host').hidden = on
  }

  function refreshSearch () {
    clearTimeout(searchTimer)
    var text = S.search
    if (text === '') return
    api('GET', '/api/processes?host=all&filter=' + encodeURIComponent(text))
      .then(function (entries) {
        if (S.search !== text) return
        S.searchResults = entries
        S.searchError = null
      }, function (err) {
        if (S.search !== text) return
        S.searchError = err.code + ': ' + err.message
      })
      .then(function () {
        if (S.search !== text) return
        renderSearch()
        searchTimer = setTimeout(refreshSearch, SEARCH_REFRESH_MS)
      })
  }

  function renderSearch () {
    if (S.search === '') return
    var tbody = $('search-body')
    var status = $('search-status')
    renderSortHeaders($('search-table'))
    $('search-title').textContent = 'Processes matching "' + S.search + '" on all hosts'
    if (S.searchError) { status.textContent = S.searchError; status.className = 'status error' }
    if (!S.searchResults) {
      if (!S.searchError) { status.textContent = 'Searching…'; status.className = 'status' }
      tbody.replaceChildren()
      return
    }
    var rows = []
    var failures = []
    S.searchResults.forEach(function (e) {
      if (e.error) { failures.push(e.name + ': ' + e.error.code + ' ' + e.error.message); return }
      e.processes.forEach(function (p) { rows.push({ process: p, peerId: e.peerId, hostName: e.name }) })
    })
    var cmp = PM.compareNodes(S.sort.key, S.sort.reverse)
    rows.sort(function (a, b) {
      if (a.hostName !== b.hostName) return a.hostName < b.hostName ? -1 : 1
      return cmp(a, b)
    })
    var now = Date.now()
    var frag = document.createDocumentFragment()
    rows.forEach(function (r) {
      var p = r.process
      frag.appendChild(h('tr', { class: 'row', tabindex: '0', dataset: { peer: r.peerId, key: PM.processKey(p), pid: String(p.pid) } }, [
        h('td', { class: 'col-host', text: r.hostName }),
        h('td', { class: 'col-cmd' }, [h('span', { class: 'pname', text: p.name }), p.cmd && p.cmd !== p.name ? h('span', { class: 'pcmd muted', text: p.cmd }) : null]),
        h('td', { class: 'num col-pid', text: String(p.pid) }),
        h('td', { class: 'col-user', text: p.user }),
        h('td', { class: 'num col-cpu', text: p.cpuPercent.toFixed(1) }),
        h('td', { class: 'num col-mem', text: PM.formatBytes(p.rss) }),
        h('td', { class: 'col-state', text: p.state }),
        h('td', { class: 'col-start', text: PM.formatStart(p.startTime, now) })
      ]))
    })
    tbody.replaceChildren(frag)
    var hostsSeen = S.searchResults.length - failures.length
    var summary = rows.length + ' match' + (rows.length === 1 ? '' : 'es') + ' on ' + hostsSeen + ' host' + (hostsSeen === 1 ? '' : 's')
    if (failures.length > 0) summary += ' · not answered: ' + failures.join('; ')
    if (!S.searchError) { status.textContent = summary; status.className = 'status' + (failures.length > 0 ? ' warn' : '') }
  }

  function onSearchClick (ev) {
    var tr = ev.target.closest('tr.row')
    if (!tr) return
    openFromSearch(tr.dataset.peer, tr.dataset.key)
  }

  function onSearchKey (ev) {
    var tr = ev.target.closest('tr.row')
    if (tr && ev.key === 'Enter') { openFromSearch(tr.dataset.peer, tr.dataset.key); ev.preventDefault() }
  }

  function openFromSearch (peerId, key) {
    var found = null
    ;(S.searchResults || []).forEach(function (e) {
      if (e.peerId !== peerId || !e.processes) return
      e.processes.forEach(function (p) { if (PM.processKey(p) === key) found = p })
    })
    selectHost(peerId)
    S.detail = { peerId: peerId, key: key }
    // unfold the way to it once the host's list arrives
    if (found) S.pendingReveal = { peerId: peerId, pid: found.pid }
    renderDetails()
  }

  function revealPending () {
    var r = S.pendingReveal
    if (!r || !S.procs || S.procs.peerId !== r.peerId) return
    PM.ancestorKeys(S.procs.processes, r.pid).forEach(function (k) { S.folded.delete(k) })
    S.pendingReveal = null
    renderProcs()
    var row = document.querySelector('#proc-body tr.row.selected')
    if (row && row.scrollIntoView) row.scrollIntoView({ block: 'nearest' })
  }

  // ---- token ----

  var tokenAsked = false
  function askToken (reason) {
    if (tokenAsked) return
    tokenAsked = true
    if (eventsAbort) eventsAbort.abort()
    setConn('auth', 'API token needed')
    $('token-reason').textContent = reason || ''
    $('token-input').value = ''
    var dlg = $('token-dialog')
    if (!dlg.open) dlg.showModal()
    $('token-input').focus()
  }

  function submitToken (ev) {
    ev.preventDefault()
    var value = $('token-input').value.trim()
    if (!value) return
    saveToken(value)
    tokenAsked = false
    $('token-dialog').close()
    start()
  }

  // ---- toast ----

  function toast (text, kind) {
    var el = $('toast')
    el.textContent = text
    el.dataset.kind = kind || 'ok'
    el.hidden = false
    clearTimeout(toastTimer)
    toastTimer = setTimeout(function () { el.hidden = true }, 6000)
  }

  // ---- wiring ----

  function bind () {
    $('filter').addEventListener('input', function () { S.filter = $('filter').value; renderProcs() })
    $('expand-all').addEventListener('click', function () { foldAll(false) })
    $('collapse-all').addEventListener('click', function () { foldAll(true) })
    $('proc-table').addEventListener('click', onSortClick)
    $('search-table').addEventListener('click', onSortClick)
    $('proc-body').addEventListener('click', onProcClick)
    $('proc-body').addEventListener('keydown', onProcKey)
    $('search-body').addEventListener('click', onSearchClick)
    $('search-body').addEventListener('keydown', onSearchKey)
    $('search').addEventListener('input', onSearchInput)
    $('search').addEventListener('keydown', function (ev) { if (ev.key === 'Escape') clearSearch() })
    $('search-close').addEventListener('click', clearSearch)
    $('details-close').addEventListener('click', closeDetail)
    $('details-stop').addEventListener('click', openStopDialog)
    $('stop-form').addEventListener('submit', confirmStop)
    $('stop-cancel').addEventListener('click', function () { $('stop-dialog').close() })
    $('start-open').addEventListener('click', openStartDialog)
    $('start-form').addEventListener('submit', submitStart)
    $('start-cancel').addEventListener('click', function () { $('start-dialog').close() })
    $('token-form').addEventListener('submit', submitToken)
    var signal = $('stop-signal')
    SIGNALS.forEach(function (s) { signal.appendChild(h('option', { value: s, text: 'SIG' + s })) })
    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && !$('details').hidden && !document.querySelector('dialog[open]')) closeDetail()
    })
  }

  function start () {
    api('GET', '/api/info').then(function (info) {
      S.info = info
      $('start-open').hidden = !info.allowControl
      document.body.dataset.control = info.allowControl ? 'on' : 'off'
      connectEvents()
      loadHistory()
      if (S.selected !== null) refreshProcs()
    }, function (err) {
      if (err.status === 401) return
      setConn('reconnecting', err.message)
      setTimeout(start, 3000)
    })
  }

  bind()
  start()
})()
`
