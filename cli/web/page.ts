/**
 * The dashboard's static files, as strings compiled into the CLI (no files to find at
 * run time): one HTML page, one stylesheet, one script. The script is the browser code
 * in cli/web/page/, bundled by build/page.mjs (part of `npm run build`) into
 * dist/cli/web/page-script.js. Nothing inline, so the page's CSP can forbid inline
 * script and style.
 */
import { errorMessage } from '../../protocols/errors.js'

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>procmesh</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body data-control="off">
<header class="top">
  <h1><span class="logo" aria-hidden="true"></span>procmesh</h1>
  <span id="conn" class="conn" data-state="connecting" role="status">connecting…</span>
  <input id="search" class="search" type="search" placeholder="Search processes on all hosts" aria-label="Search processes on all hosts" autocomplete="off" spellcheck="false">
  <button id="start-open" class="primary" type="button" hidden>Start process</button>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<main class="layout">
  <section class="hosts" aria-labelledby="hosts-title">
    <h2 id="hosts-title">Hosts <span id="host-count" class="muted"></span></h2>
    <ul id="host-list" class="host-list"></ul>
    <p id="hosts-empty" class="muted">Waiting for the mesh view…</p>
    <section id="deployments" class="deployments" aria-labelledby="deployments-title" hidden>
      <h2 id="deployments-title">Deployments</h2>
      <ul id="deployment-list" class="deployment-list"></ul>
      <p id="deployments-status" class="status error" hidden></p>
    </section>
  </section>
  <section class="procs" aria-label="Processes">
    <div id="view-host">
      <div class="procs-head">
        <h2 id="procs-title">Select a host</h2>
        <span id="procs-meta" class="muted"></span>
      </div>
      <section id="history" class="history" aria-labelledby="history-title">
        <div class="history-head">
          <h3 id="history-title">CPU and memory</h3>
          <div class="ranges" role="group" aria-label="Time range">
            <button type="button" data-range="1h" aria-pressed="true">1 h</button>
            <button type="button" data-range="24h" aria-pressed="false">24 h</button>
            <button type="button" data-range="7d" aria-pressed="false">7 d</button>
          </div>
          <form id="range-form" class="range-form">
            <input id="range-from" type="datetime-local" aria-label="From" required>
            <span class="muted">to</span>
            <input id="range-to" type="datetime-local" aria-label="To (empty: now)">
            <button type="submit">Show</button>
          </form>
        </div>
        <div id="history-chart" class="chart" tabindex="0" role="img" aria-label="CPU and memory of this host over the range; click or use the arrow keys to pick a time"></div>
        <div class="chart-axis muted"><span id="chart-from"></span><span class="legend"><span class="key key-cpu">CPU 0–100%</span> <span class="key key-cpu-max">peak</span> <span id="key-mem" class="key key-mem">memory</span></span><span id="chart-to"></span></div>
        <p id="history-status" class="status" hidden></p>
        <div id="history-top" class="history-top" hidden>
          <p id="history-top-title" class="muted"></p>
          <table class="proc-table top-table" aria-label="Top processes at the chosen time">
            <thead><tr><th class="col-cmd">Process</th><th class="num">PID</th><th class="col-user">User</th><th class="num">CPU%</th><th class="num">Mem</th><th class="col-start">Started</th></tr></thead>
            <tbody id="history-top-body"></tbody>
          </table>
        </div>
      </section>
      <div class="toolbar">
        <input id="filter" type="search" placeholder="Filter this host: name, command, user" aria-label="Filter the processes of this host" autocomplete="off" spellcheck="false">
        <button id="expand-all" type="button">Expand all</button>
        <button id="collapse-all" type="button">Collapse all</button>
        <label class="check"><input id="managed-only" type="checkbox"> Managed only</label>
      </div>
      <p id="procs-status" class="status" hidden></p>
      <div id="managed-wrap" class="table-wrap" hidden>
        <table id="managed-table" class="proc-table" aria-label="Managed processes">
          <thead><tr>
            <th class="col-mname">Name</th><th class="col-mid">ID</th><th class="num col-pid">PID</th><th class="col-mstate">State</th>
            <th class="num col-restarts">Restarts</th><th class="num col-uptime">Uptime</th><th class="col-exit">Last exit</th>
            <th class="num col-cpu">CPU%</th><th class="num col-mem">Mem</th><th class="col-policy">Policy</th><th class="col-cmd">Command</th><th class="col-actions"><span class="sr-only">Actions</span></th>
          </tr></thead>
          <tbody id="managed-body"></tbody>
        </table>
      </div>
      <div id="proc-wrap" class="table-wrap">
        <table id="proc-table" class="proc-table" role="treegrid" aria-label="Process tree">
          <thead><tr>
            <th data-sort="name" class="col-cmd"><button type="button">Command</button></th>
            <th data-sort="pid" class="num col-pid"><button type="button">PID</button></th>
            <th data-sort="user" class="col-user"><button type="button">User</button></th>
            <th data-sort="cpu" class="num col-cpu"><button type="button">CPU%</button></th>
            <th data-sort="mem" class="num col-mem"><button type="button">Mem</button></th>
            <th data-sort="scpu" class="num col-scpu"><button type="button" title="CPU% of the process and everything below it">ΣCPU%</button></th>
            <th data-sort="smem" class="num col-smem"><button type="button" title="Memory of the process and everything below it">ΣMem</button></th>
            <th data-sort="state" class="col-state"><button type="button">State</button></th>
            <th data-sort="start" class="col-start"><button type="button">Started</button></th>
          </tr></thead>
          <tbody id="proc-body"></tbody>
        </table>
      </div>
      <section id="logs" class="logs" aria-labelledby="logs-title" hidden>
        <div class="logs-head">
          <h3 id="logs-title">Logs</h3>
          <span id="logs-status" class="logs-status" role="status"></span>
          <button id="logs-close" type="button">Close</button>
        </div>
        <pre id="logs-out" class="logs-out" tabindex="0" aria-label="Output"></pre>
      </section>
    </div>
    <div id="view-search" hidden>
      <div class="procs-head">
        <h2 id="search-title">Search</h2>
        <button id="search-close" type="button">Back to host</button>
      </div>
      <p id="search-status" class="status"></p>
      <div class="table-wrap">
        <table id="search-table" class="proc-table" aria-label="Search results">
          <thead><tr>
            <th class="col-host">Host</th>
            <th data-sort="name" class="col-cmd"><button type="button">Command</button></th>
            <th data-sort="pid" class="num col-pid"><button type="button">PID</button></th>
            <th data-sort="user" class="col-user"><button type="button">User</button></th>
            <th data-sort="cpu" class="num col-cpu"><button type="button">CPU%</button></th>
            <th data-sort="mem" class="num col-mem"><button type="button">Mem</button></th>
            <th data-sort="state" class="col-state"><button type="button">State</button></th>
            <th data-sort="start" class="col-start"><button type="button">Started</button></th>
          </tr></thead>
          <tbody id="search-body"></tbody>
        </table>
      </div>
    </div>
  </section>
  <aside id="details" class="details" aria-labelledby="details-title" hidden>
    <div class="details-head">
      <h2 id="details-title">Process</h2>
      <button id="details-close" type="button" aria-label="Close the details">Close</button>
    </div>
    <div id="details-body"></div>
    <div class="details-actions">
      <button id="details-logs" type="button" hidden>Logs</button>
      <button id="details-stop" class="danger" type="button" hidden>Stop…</button>
    </div>
  </aside>
</main>
<dialog id="stop-dialog" aria-labelledby="stop-text">
  <form id="stop-form">
    <p id="stop-text" class="dialog-title"></p>
    <label>Signal <select id="stop-signal"></select></label>
    <label id="stop-tree-row" class="check"><input id="stop-tree" type="checkbox"> <span id="stop-tree-label">Also its descendants</span></label>
    <p id="stop-error" class="error" role="alert"></p>
    <div class="dialog-actions">
      <button id="stop-cancel" type="button">Cancel</button>
      <button id="stop-confirm" class="danger" type="submit">Stop</button>
    </div>
  </form>
</dialog>
<dialog id="start-dialog" aria-labelledby="start-title">
  <form id="start-form">
    <p id="start-title" class="dialog-title">Start a process</p>
    <label>Host <select id="start-host"></select></label>
    <label>Command <input id="start-cmd" type="text" placeholder="sleep 600" autocomplete="off" spellcheck="false" required></label>
    <p class="hint muted">Run directly, without a shell: quotes group words, nothing is expanded.</p>
    <label>Working directory <input id="start-cwd" type="text" placeholder="(the node's default)" autocomplete="off" spellcheck="false"></label>
    <label>Environment <textarea id="start-env" rows="2" placeholder="KEY=VALUE, one per line" spellcheck="false"></textarea></label>
    <p id="start-error" class="error" role="alert"></p>
    <div class="dialog-actions">
      <button id="start-cancel" type="button">Cancel</button>
      <button id="start-submit" class="primary" type="submit">Start</button>
    </div>
  </form>
</dialog>
<dialog id="restart-dialog" aria-labelledby="restart-text">
  <form id="restart-form">
    <p id="restart-text" class="dialog-title"></p>
    <p class="muted">A running process gets TERM (KILL after 5 s) and is started again with the same id; its restart budget starts afresh.</p>
    <p id="restart-error" class="error" role="alert"></p>
    <div class="dialog-actions">
      <button id="restart-cancel" type="button">Cancel</button>
      <button id="restart-confirm" class="primary" type="submit">Restart</button>
    </div>
  </form>
</dialog>
<dialog id="token-dialog" aria-labelledby="token-title">
  <form id="token-form">
    <p id="token-title" class="dialog-title">API token</p>
    <p class="muted">This dashboard is served on the network, so it needs the token from <code>web.token</code> in the node's home. It is kept in this browser.</p>
    <p id="token-reason" class="error"></p>
    <label>Token <input id="token-input" type="password" autocomplete="off" spellcheck="false" required></label>
    <div class="dialog-actions"><button class="primary" type="submit">Save</button></div>
  </form>
</dialog>
<div id="notices" class="notices" role="log" aria-live="polite" aria-label="Notices about managed processes"></div>
<div id="toast" class="toast" role="status" aria-live="polite" hidden></div>
</body>
</html>
`

export const PAGE_CSS = `:root {
  --bg: #f6f7f9; --panel: #fff; --text: #1d2330; --muted: #6b7385; --line: #e2e5ea;
  --accent: #2f6fdf; --cpu: #2f6fdf; --mem: #1b9e77; --ok: #1b9e57; --warn: #c98a00; --bad: #c73a3a; --careful: #2a7fb8; --off: #9aa1ad;
  --sel: #e8f0fe; --hover: #f1f3f6;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px; color: var(--text); background: var(--bg);
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171c; --panel: #1c2027; --text: #e4e7ec; --muted: #9099a8; --line: #2c323c; --sel: #1f3355; --hover: #232833; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; min-height: 100vh; }
h1, h2 { margin: 0; font-weight: 600; }
h1 { font-size: 18px; display: flex; align-items: center; gap: 8px; }
h2 { font-size: 15px; }
button, input, select, textarea { font: inherit; color: inherit; }
button { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 5px 10px; cursor: pointer; }
button:hover { background: var(--hover); }
button:disabled { opacity: .5; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
input, select, textarea { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.muted { color: var(--muted); }
.wrap { white-space: pre-wrap; word-break: break-all; }
.error { color: var(--bad); min-height: 1em; margin: 4px 0; }
.logo { width: 14px; height: 14px; border-radius: 4px; background: linear-gradient(135deg, var(--cpu), var(--mem)); display: inline-block; }

.top { display: flex; align-items: center; gap: 12px; padding: 10px 16px; background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 5; }
.search { flex: 1; max-width: 460px; margin-left: auto; }
.conn { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: var(--hover); color: var(--muted); white-space: nowrap; }
.conn[data-state="live"] { color: var(--ok); }
.conn[data-state="live"]::before { content: "● "; }
.conn[data-state="node-down"], .conn[data-state="auth"] { color: var(--bad); }
.conn[data-state="reconnecting"] { color: var(--warn); }
.banner { background: #fff4e0; color: #7a5200; padding: 8px 16px; border-bottom: 1px solid #f0d9a8; }
@media (prefers-color-scheme: dark) { .banner { background: #3a2e12; color: #f3d79a; border-color: #5a4620; } }

.layout { display: grid; grid-template-columns: 300px minmax(0, 1fr) auto; gap: 16px; padding: 16px; align-items: start; }
.hosts, .procs, .details { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px; }
.hosts h2 { margin-bottom: 8px; }
.host-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.host { width: 100%; text-align: left; display: flex; flex-direction: column; gap: 6px; padding: 10px; border-radius: 8px; }
.host[aria-pressed="true"] { background: var(--sel); border-color: var(--accent); }
.host-line { display: flex; align-items: center; gap: 6px; }
.host-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.host-status { margin-left: auto; font-size: 12px; color: var(--muted); }
.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--off); flex: none; }
.host[data-status="online"] .dot { background: var(--ok); }
.host[data-status="stale"] .dot { background: var(--warn); }
.host[data-status="unreachable"] .dot { background: var(--warn); }
.host[data-status="offline"] { opacity: .7; }
.host[data-status="offline"] .dot { background: var(--off); }
.badge { font-size: 11px; padding: 0 6px; border-radius: 8px; background: var(--hover); color: var(--muted); border: 1px solid var(--line); white-space: nowrap; }
.host-figures { display: flex; flex-direction: column; gap: 3px; }
.fig { display: grid; grid-template-columns: 34px 1fr auto; align-items: center; gap: 6px; font-size: 12px; }
.fig-label { color: var(--muted); }
.fig-value { font-variant-numeric: tabular-nums; }
.bar { height: 6px; background: var(--hover); border-radius: 3px; overflow: hidden; border: 1px solid var(--line); }
.bar-fill { display: block; height: 100%; }
.bar-fill.cpu { background: var(--cpu); }
.bar-fill.mem { background: var(--mem); }
.spark { width: 100%; height: 26px; display: block; }
.spark polyline { fill: none; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.spark-cpu { stroke: var(--cpu); }
.spark-mem { stroke: var(--mem); opacity: .7; }
.host-meta { font-size: 12px; }
/* the node's own alerts (Glances' levels): careful, warning, critical */
.alert-careful { color: var(--careful); }
.alert-warning { color: var(--warn); font-weight: 600; }
.alert-critical { color: var(--bad); font-weight: 600; }
.host[data-alert="careful"] { border-left: 4px solid var(--careful); }
.host[data-alert="warning"] { border-left: 4px solid var(--warn); }
.host[data-alert="critical"] { border-left: 4px solid var(--bad); }
.host-alerts { display: flex; flex-wrap: wrap; gap: 4px; font-size: 11px; }
.alert-badge { padding: 0 6px; border-radius: 8px; border: 1px solid currentColor; }
.cores { display: grid; grid-template-columns: repeat(auto-fill, minmax(14px, 1fr)); gap: 2px; margin-left: 40px; }
.cores .bar { height: 4px; }
.bar-fill.disk { background: var(--off); }

.procs-head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; margin-bottom: 8px; }
.procs-head button { margin-left: auto; }
.toolbar { display: flex; gap: 8px; margin-bottom: 8px; flex-wrap: wrap; }
.toolbar input { flex: 1; min-width: 160px; }
.status { margin: 6px 0; color: var(--muted); }
.status.error { color: var(--bad); }
.status.warn { color: var(--warn); }
.table-wrap { overflow: auto; max-height: calc(100vh - 190px); border: 1px solid var(--line); border-radius: 8px; }
.proc-table { width: 100%; border-collapse: collapse; font-size: 13px; }
.proc-table th { position: sticky; top: 0; background: var(--panel); text-align: left; font-weight: 600; border-bottom: 1px solid var(--line); padding: 0; white-space: nowrap; z-index: 1; }
.proc-table th button { border: 0; background: none; padding: 6px 8px; width: 100%; text-align: inherit; font-weight: 600; border-radius: 0; }
.proc-table th.col-host { padding: 6px 8px; }
.proc-table th[aria-sort="ascending"] button::after { content: " ▲"; font-size: 10px; }
.proc-table th[aria-sort="descending"] button::after { content: " ▼"; font-size: 10px; }
.proc-table td { padding: 3px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: middle; }
.proc-table .num { text-align: right; font-variant-numeric: tabular-nums; }
.proc-table tr.row { cursor: pointer; }
.proc-table tr.row:hover { background: var(--hover); }
.proc-table tr.row.selected { background: var(--sel); }
.col-cmd { max-width: 520px; overflow: hidden; text-overflow: ellipsis; }
.indent { display: inline-block; }
.twisty { border: 0; background: none; padding: 0 4px; width: 20px; line-height: 1; border-radius: 4px; }
.twisty-space { display: inline-block; width: 20px; }
.pname { font-weight: 500; }
.pcmd { margin-left: 8px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.col-host { font-weight: 500; }

.details { width: 340px; position: sticky; top: 70px; max-height: calc(100vh - 90px); overflow: auto; }
.details-head { display: flex; align-items: center; justify-content: space-between; margin-bottom: 8px; }
.fields { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 0; font-size: 13px; }
.fields dt { color: var(--muted); }
.fields dd { margin: 0; word-break: break-word; }
.fields dd.mono { max-height: 12em; overflow: auto; }
.details-actions { margin-top: 12px; display: flex; gap: 8px; }

dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--panel); color: var(--text); padding: 16px; width: min(460px, calc(100vw - 24px)); }
dialog::backdrop { background: rgba(0, 0, 0, .35); }
dialog form { display: flex; flex-direction: column; gap: 10px; }
dialog label { display: flex; flex-direction: column; gap: 4px; }
dialog label.check { flex-direction: row; align-items: center; gap: 6px; }
.dialog-title { font-weight: 600; margin: 0; font-size: 15px; word-break: break-word; }
.dialog-actions { display: flex; justify-content: flex-end; gap: 8px; }
.hint { margin: -6px 0 0; font-size: 12px; }
.toast { position: fixed; bottom: 16px; left: 50%; transform: translateX(-50%); background: #243042; color: #fff; padding: 10px 16px; border-radius: 8px; max-width: calc(100vw - 32px); box-shadow: 0 4px 16px rgba(0, 0, 0, .25); z-index: 20; }
.toast[data-kind="error"] { background: var(--bad); }
.toast[data-kind="warn"] { background: #8a6200; }

.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.toolbar label.check { display: flex; align-items: center; gap: 6px; white-space: nowrap; margin-left: auto; }
.toolbar input[type="checkbox"] { flex: none; min-width: 0; margin: 0; }
#managed-table th, .top-table th { padding: 6px 8px; }
#managed-table .col-cmd { max-width: 280px; }

.history { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; margin-bottom: 8px; }
.history-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; margin-bottom: 6px; }
.history-head h3 { margin: 0; font-size: 13px; font-weight: 600; }
.ranges { display: flex; gap: 4px; }
.ranges button { padding: 2px 8px; font-size: 12px; }
.ranges button[aria-pressed="true"] { background: var(--sel); border-color: var(--accent); }
.range-form { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; margin-left: auto; font-size: 12px; }
.range-form input { padding: 2px 6px; font-size: 12px; }
.range-form button { padding: 2px 8px; font-size: 12px; }
.chart { height: 110px; cursor: crosshair; border-radius: 4px; background: var(--bg); }
.chart svg { width: 100%; height: 100%; display: block; }
.chart .line { fill: none; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.chart .line-cpu { stroke: var(--cpu); }
.chart .line-cpumax { stroke: var(--cpu); opacity: .3; }
.chart .line-mem { stroke: var(--mem); }
.chart .cursor { stroke: var(--text); stroke-width: 1; vector-effect: non-scaling-stroke; opacity: .6; }
.chart-axis { display: flex; justify-content: space-between; font-size: 11px; margin-top: 2px; }
.legend { display: flex; gap: 10px; }
.key::before { content: ""; display: inline-block; width: 10px; height: 3px; margin-right: 4px; vertical-align: middle; }
.key-cpu::before { background: var(--cpu); }
.key-mem::before { background: var(--mem); }
.key-cpu-max::before { background: var(--cpu); opacity: .3; }
.history-top { margin-top: 6px; }
.history-top p { margin: 4px 0; }
.top-table { font-size: 12px; }
.state-running { color: var(--ok); }
.state-restarting { color: var(--warn); }
.state-crash-loop { color: var(--bad); font-weight: 600; }
.state-exited, .state-stopped { color: var(--muted); }
.col-actions { text-align: right; }
.col-actions button { padding: 1px 8px; font-size: 12px; }

.notices { position: fixed; top: 56px; right: 16px; display: flex; flex-direction: column; gap: 6px; z-index: 15; max-width: min(440px, calc(100vw - 32px)); }
.notice { display: flex; gap: 8px; align-items: flex-start; background: var(--panel); border: 1px solid var(--line); border-left: 4px solid var(--warn); border-radius: 8px; padding: 8px 10px; box-shadow: 0 4px 16px rgba(0, 0, 0, .15); font-size: 13px; }
.notice[data-kind="error"] { border-left-color: var(--bad); }
.notice-text { flex: 1; word-break: break-word; }
.notice button { padding: 0 6px; font-size: 12px; }

.logs { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; margin-top: 8px; }
.logs-head { display: flex; align-items: center; gap: 10px; margin-bottom: 6px; }
.logs-head h3 { margin: 0; font-size: 13px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.logs-head button { margin-left: auto; padding: 2px 8px; font-size: 12px; }
.logs-status { font-size: 12px; color: var(--muted); }
.logs-status[data-kind="live"] { color: var(--ok); }
.logs-status[data-kind="warn"] { color: var(--warn); }
.logs-status[data-kind="error"] { color: var(--bad); }
.logs-out { margin: 0; max-height: 40vh; min-height: 6em; overflow: auto; white-space: pre-wrap; word-break: break-all; background: var(--bg); border-radius: 4px; padding: 6px 8px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.log-err { color: var(--bad); }

.deployments { margin-top: 14px; }
.deployments h2 { margin-bottom: 8px; }
.deployment-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.deployment { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; font-size: 13px; }
.deployment[data-health="short"] { border-left: 4px solid var(--warn); }
.deployment-line { display: flex; gap: 6px; align-items: baseline; }
.deployment-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.deployment-count { margin-left: auto; font-variant-numeric: tabular-nums; font-weight: 600; }
.deployment-meta { font-size: 12px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.deployment-placed, .deployment-problems { list-style: none; margin: 4px 0 0; padding: 0; font-size: 12px; }
.deployment-placed li { display: flex; justify-content: space-between; gap: 6px; }
.deployment-problems li { color: var(--warn); }
.deployment-problems li::before { content: "! "; }

/* the process table: fixed column widths (set by the script), the command takes the
   rest; the script hides the columns that do not fit its width (hide-KEY) */
#proc-table { table-layout: fixed; }
#proc-table th, #proc-table td { display: table-cell; }
#proc-table .col-cmd { max-width: none; overflow: hidden; text-overflow: ellipsis; }
#proc-table.hide-pid .col-pid, #proc-table.hide-user .col-user, #proc-table.hide-cpu .col-cpu, #proc-table.hide-mem .col-mem,
#proc-table.hide-scpu .col-scpu, #proc-table.hide-smem .col-smem, #proc-table.hide-state .col-state, #proc-table.hide-start .col-start { display: none; }

/* with the details open beside it, the table keeps its main columns */
@media (max-width: 1700px) {
  body.details-open .col-state, body.details-open .col-start, body.details-open .col-smem, body.details-open .col-policy, body.details-open .col-mid { display: none; }
  body.details-open .col-cmd { max-width: 340px; }
}
@media (max-width: 1100px) {
  .layout { grid-template-columns: 260px minmax(0, 1fr); }
  .details { grid-column: 1 / -1; width: auto; position: static; max-height: none; }
  .col-smem, .col-start { display: none; }
}
@media (max-width: 720px) {
  .top { flex-wrap: wrap; gap: 8px; padding: 8px 10px; }
  .search { order: 3; max-width: none; flex-basis: 100%; margin-left: 0; }
  #start-open { margin-left: auto; }
  .layout { grid-template-columns: minmax(0, 1fr); padding: 8px; gap: 8px; }
  .host-list { flex-direction: row; overflow-x: auto; scroll-snap-type: x mandatory; padding-bottom: 4px; }
  .host-item { flex: 0 0 78%; scroll-snap-align: start; }
  .cores { display: none; }
  .toolbar input { flex-basis: 100%; }
  .col-user, .col-scpu, .col-smem, .col-state, .col-start, .col-mid, .col-uptime, .col-policy, .col-exit { display: none; }
  .range-form { margin-left: 0; }
  .proc-table td { padding: 3px 5px; }
  .proc-table th button { padding: 6px 5px; }
  .col-cmd { max-width: 44vw; }
  .pcmd { display: none; }
  .table-wrap { max-height: none; }
  .details { position: fixed; left: 0; right: 0; bottom: 0; top: auto; max-height: 70vh; border-radius: 12px 12px 0 0; z-index: 10; box-shadow: 0 -6px 24px rgba(0, 0, 0, .25); }
}
`

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="4" fill="#2f6fdf"/><circle cx="5" cy="5" r="2" fill="#fff"/><circle cx="11" cy="5" r="2" fill="#fff"/><circle cx="8" cy="11" r="2" fill="#fff"/></svg>
`

export interface StaticAsset {
  type: string
  body: string
}

/** What a missing script means: the sources were compiled without the page's build step. */
export const PAGE_NOT_BUILT = 'the dashboard\'s script is not built (dist/cli/web/page-script.js): run npm run build'

let assets: Promise<ReadonlyMap<string, StaticAsset>> | undefined

/**
 * Every path the server answers outside /api. The script is imported on first use, so a
 * checkout compiled by tsc alone fails here with PAGE_NOT_BUILT, not at every import of the CLI.
 */
export async function loadStaticAssets (): Promise<ReadonlyMap<string, StaticAsset>> {
  assets ??= import('./page-script.js').then(({ PAGE_JS }) => new Map([
    ['/', { type: 'text/html; charset=utf-8', body: PAGE_HTML }],
    ['/index.html', { type: 'text/html; charset=utf-8', body: PAGE_HTML }],
    ['/app.js', { type: 'text/javascript; charset=utf-8', body: PAGE_JS }],
    ['/app.css', { type: 'text/css; charset=utf-8', body: PAGE_CSS }],
    ['/favicon.svg', { type: 'image/svg+xml', body: FAVICON_SVG }]
  ]), (err: unknown) => {
    assets = undefined
    throw new Error(`${PAGE_NOT_BUILT} (${errorMessage(err)})`)
  })
  return await assets
}
