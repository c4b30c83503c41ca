/*
 * view-run.js: #/runs/ID, a run: its steps as a graph, a timeline of
 * their attempts, each step's log (followed while it runs), metrics,
 * artifacts, notifications and details; Cancel, Retry and a step's Retry
 * from here.
 */
import {fill, h, svg} from './dom.js';
import {bytes, dur, enc, fmtTime, num, pipeHref, runHref, runTime}
  from './format.js';
import {API, can, failure, get, post} from './api.js';
import {makeView, view} from './view.js';
import {agoEl, badge, commitEl, confirmDialog, errorBox, hashEl, kv,
        pageHead, panel, rawJson, runBadge, toast, typeTag}
  from './widgets.js';
import {stepPill, stepState, stepSub, triggerEl} from './runs.js';
import {clip, drawGraph, legend} from './dag.js';
import {chartWidth, ticks} from './charts.js';

export function runView(el, query, idText, stepArg) {
  const id = +idText;
  let run = null, pipe = null, pipeTried = false, selected = stepArg || null;
  /* A reproduction's original run (finished: read once). */
  let orig = null;
  let attemptSel = null;
  const log = {key: null, offset: 0, size: 0, timer: null, busy: false,
               pre: h('pre', {class: 'log', 'aria-label': 'step log'}),
               bar: h('div', {class: 'logbar'})};

  const stepOf = (name) => run && run.steps.find((s) => s.name === name);

  function defaultStep() {
    const by = (f) => run.steps.find(f);
    const s = by((x) => x.status === 'running' || x.status === 'retrying') ||
              by((x) => x.status === 'failed' || x.status === 'timed_out') ||
              run.steps.slice().reverse().find((x) =>
                x.attempts_detail.some((a) => a.log_path)) ||
              run.steps[0];
    return s ? s.name : null;
  }

  function select(name) {
    selected = name;
    attemptSel = null;
    history.replaceState(null, '', runHref(id, name));
    render();
  }

  function attemptOf(s) {
    if (!s || !s.attempts_detail.length)
      return null;
    return s.attempts_detail.find((a) => a.attempt === attemptSel) ||
           s.attempts_detail[s.attempts_detail.length - 1];
  }

  function sysLine(...parts) {
    fill(log.pre, h('span', {class: 'sys'}, parts));
  }

  /* Show the selected step's log; while its attempt runs, keep asking
   * for what was added since the last offset. */
  function syncLog() {
    const s = stepOf(selected), a = attemptOf(s);
    const key = s ? s.name + '#' + (a ? a.attempt : 0) + '#' +
                    (a && a.log_path ? 'log' : s.status) : '';
    if (key === log.key) {
      if (a && a.log_path && !log.timer && !log.busy &&
          (a.status === 'running' || log.offset < log.size))
        pollLog();
      return;
    }
    log.key = key;
    log.offset = 0;
    log.size = 0;
    clearTimeout(log.timer);
    log.timer = null;
    if (!s) {
      sysLine('No step selected.');
      return;
    }
    if (!a) {
      sysLine(s.status === 'pending' ? 'This step has not started yet.'
              : 'Step ' + s.status + (s.reason ? ': ' + s.reason : '') +
                '. No command ran.');
      return;
    }
    if (!a.log_path) {
      if (a.status === 'cached')
        sysLine('No command ran: ' + (a.reason || 'outputs reused') + '. ',
                a.cached_from_run
                    ? h('a', {href: runHref(a.cached_from_run, s.name)},
                        'Open the log of run #' + a.cached_from_run)
                    : null);
      else
        sysLine('No log for this attempt' + (a.reason ? ': ' + a.reason : '') +
                '.');
      return;
    }
    fill(log.pre);
    pollLog();
  }

  async function pollLog() {
    const s = stepOf(selected), a = attemptOf(s), key = log.key;
    if (!a || !a.log_path || view !== v)
      return;
    /* Read once more after the attempt ends: it may have written its
     * last lines after this read. */
    const wasRunning = a.status === 'running';
    log.busy = true;
    try {
      const r = await fetch(API + 'runs/' + id + '/steps/' + enc(s.name) +
                            '/log?attempt=' + a.attempt + '&offset=' +
                            log.offset);
      if (key !== log.key || v.dead)
        return;
      if (!r.ok) {
        const e = await failure(r);
        if (!log.offset)
          sysLine(e.message);
      } else {
        const t = await r.text();
        if (key !== log.key)
          return;
        const atEnd = log.pre.scrollTop + log.pre.clientHeight >=
                      log.pre.scrollHeight - 24;
        if (t)
          log.pre.append(t);
        log.offset = +r.headers.get('x-kiln-offset') || log.offset + t.length;
        log.size = +r.headers.get('x-kiln-size') || log.offset;
        if (!log.pre.firstChild)
          sysLine(a.status === 'running' ? 'Waiting for output...'
                                         : 'The log is empty.');
        else if (log.pre.firstChild.className === 'sys' && t)
          log.pre.firstChild.remove();
        if (atEnd)
          log.pre.scrollTop = log.pre.scrollHeight;
      }
    } catch (e) {
      if (!log.offset)
        sysLine('Could not load the log: ' + e.message);
    } finally {
      log.busy = false;
    }
    renderLogBar();
    /* Everything read: poll while the attempt runs (and once after);
     * more to read: go on (up to 8 MiB shown). */
    const now = attemptOf(stepOf(selected));
    if (key !== log.key || v.dead || !now)
      return;
    const more = log.offset < log.size && log.offset < (8 << 20);
    const running = now.status === 'running' || wasRunning;
    if (more || running) {
      log.timer = setTimeout(() => {
        log.timer = null;
        pollLog();
      }, more ? 0 : 1000);
    }
  }

  function renderLogBar() {
    const s = stepOf(selected), a = attemptOf(s);
    if (!s) {
      fill(log.bar);
      return;
    }
    const tailing = a && a.status === 'running' && a.log_path;
    fill(log.bar,
      h('strong', null, s.name), badge(stepState(s)),
      a ? h('span', {class: 'small muted'},
            'attempt ' + a.attempt + (a.executor ? ' · ' + a.executor : '') +
            (a.exit_code != null ? ' · exit ' + a.exit_code : '') +
            (a.signal ? ' · signal ' + a.signal : '')) : null,
      a && a.image
          ? h('span', {class: 'small muted nowrap', 'data-image': a.image,
                       title: a.image},
              'image ' + (a.image_ref || '') + ' ',
              h('code', null, a.image.slice(0, 19))) : null,
      s.attempts_detail.length > 1
          ? h('div', {class: 'seg'}, s.attempts_detail.map((x) =>
              h('button', {type: 'button', class: x === a ? 'on' : null,
                           title: x.status + (x.reason ? ': ' + x.reason : ''),
                           onclick: () => {
                             attemptSel = x.attempt;
                             render();
                           }}, '#' + x.attempt))) : null,
      h('div', {class: 'spacer'}),
      retryFromButton(s),
      tailing ? h('span', {class: 'tailing'}, 'live') : null,
      log.size ? h('span', {class: 'small muted'}, bytes(log.size)) : null,
      a && a.log_path
          ? h('a', {class: 'small', target: '_blank', rel: 'noopener',
                    href: API + 'runs/' + id + '/steps/' + enc(s.name) +
                          '/log?attempt=' + a.attempt}, 'raw') : null);
  }

  /* Retry from here: a new run that runs this step and what follows it
   * again and reuses what the steps before it made (any ended run;
   * operators and admins). */
  function retryFromButton(s) {
    if (!can('operator') || run.status === 'running' ||
        run.status === 'queued')
      return null;
    return h('button', {class: 'btn small', type: 'button',
                        'data-retry-from': s.name,
                        title: 'A new run of ' + s.name + ' and the steps ' +
                               'after it, reusing what the steps before it ' +
                               'made',
                        onclick: () => retryFrom(s.name)}, '↻ Retry from here');
  }

  async function retryFrom(step) {
    if (!await confirmDialog('Retry run #' + id + ' from ' + step + '?',
                             'A new run runs ' + step + ' and every step ' +
                             'after it again; the steps before it are ' +
                             'reused as this run recorded them.',
                             'Retry from ' + step, null, 'Keep this run'))
      return;
    try {
      const r = await post('runs/' + id + '/retry', {from: step});
      if (r && r.body.run_id) {
        toast('Retrying run #' + id + ' from ' + step + ' as run #' +
              r.body.run_id + '.', 'ok');
        location.hash = runHref(r.body.run_id);
      }
    } catch (e) {
      toast('Could not retry run #' + id + ' from ' + step + ': ' +
            e.message, 'err');
    }
  }

  function stepTabs() {
    return h('div', {class: 'steps-tabs', role: 'tablist'},
      run.steps.map((s) => h('button', {
        type: 'button', role: 'tab', class: s.name === selected ? 'on' : null,
        'data-step': s.name, 'aria-selected': s.name === selected,
        onclick: () => select(s.name)},
        h('span', {class: 'dot d-' + stepState(s)}), s.name)));
  }

  function dag() {
    if (!run.steps.length && pipe && pipe.dag) {
      /* Not started: the definition's steps, all pending. */
      return drawGraph(pipe.dag.nodes.map((n) => ({
        id: n.name, title: n.name, sub: 'pending', cls: 'n-pending',
        attrs: {'data-step': n.name, 'data-status': 'pending'},
      })), pipe.dag.edges, {maxWidth: chartWidth(),
                            label: 'steps of run ' + id});
    }
    const names = new Set(run.steps.map((s) => s.name));
    let edges = [];
    if (pipe && pipe.dag)
      edges = pipe.dag.edges.filter(([a, b]) => names.has(a) && names.has(b));
    const state = new Map(run.steps.map((s) => [s.name, stepState(s)]));
    const nodes = run.steps.map((s) => ({
      id: s.name, title: s.name, sub: stepSub(s),
      cls: 'n-' + stepState(s) + (s.name === selected ? ' sel' : ''),
      pill: stepPill(s),
      tip: s.name + ' (' + s.kind + '): ' + s.status +
           (s.reason ? '\n' + s.reason : ''),
      attrs: {'data-step': s.name, 'data-status': s.status},
      onclick: () => select(s.name),
    }));
    return drawGraph(nodes, edges, {
      maxWidth: chartWidth(), label: 'steps of run ' + id,
      liveEdge: (a, b) => state.get(b) === 'running' &&
                          (state.get(a) === 'succeeded' ||
                           state.get(a) === 'cached'),
    });
  }

  function timeline() {
    const steps = run.steps;
    const starts = steps.flatMap((s) => s.attempts_detail.map((a) => a.started_at))
                        .filter(Boolean);
    if (!starts.length)
      return h('div', {class: 'empty'}, 'Nothing has started yet.');
    const now = Date.now();
    const t0 = Math.min(run.started_at || Infinity, ...starts);
    const ends = steps.flatMap((s) => s.attempts_detail.map((a) =>
      a.finished_at || (a.status === 'running' ? now : a.started_at)));
    const t1 = Math.max(t0 + 1000, run.finished_at || 0, ...ends);
    /* Narrow (a phone): shorter labels, so the bars keep their room. */
    const W = Math.max(300, chartWidth()), narrow = W < 520;
    const lw = narrow ? 96 : 150, rw = narrow ? 56 : 96, rowH = 26, top = 8;
    const H = top + steps.length * rowH + 24;
    const x = (t) => lw + (t - t0) / (t1 - t0) * (W - lw - rw);
    const root = svg('svg', {width: W, height: H, class: 'tl', role: 'img',
                             'aria-label': 'timeline'});
    const grid = svg('g', {class: 'grid'}), axis = svg('g', {class: 'axis'});
    for (const t of ticks(0, t1 - t0, narrow ? 4 : 8)) {
      grid.append(svg('line', {x1: x(t0 + t), x2: x(t0 + t), y1: top,
                               y2: H - 22}));
      axis.append(svg('text', {x: x(t0 + t), y: H - 6,
                               'text-anchor': 'middle'}, '+' + dur(t)));
    }
    root.append(grid, axis);
    steps.forEach((s, i) => {
      const y = top + i * rowH;
      const row = svg('g', {class: 'row', 'data-step': s.name},
        svg('rect', {class: 'bg', x: 0, y, width: W, height: rowH}),
        svg('text', {class: 'lbl', x: 6, y: y + 17}, clip(s.name, lw - 14, 7)));
      row.addEventListener('click', () => select(s.name));
      let end = lw;
      for (const a of s.attempts_detail) {
        if (!a.started_at)
          continue;
        const fin = a.finished_at || (a.status === 'running' ? now
                                                             : a.started_at);
        const bx = x(a.started_at), bw = Math.max(3, x(fin) - bx);
        row.append(svg('rect', {class: 'bar b-' + a.status, x: bx, y: y + 6,
                                width: bw, height: rowH - 12, rx: 3},
          svg('title', null, s.name + ' attempt ' + a.attempt + ': ' +
                             a.status + ', ' + dur(fin - a.started_at) +
                             (a.reason ? ' (' + a.reason + ')' : ''))));
        end = Math.max(end, bx + bw);
      }
      const st = stepState(s);
      const note = s.attempts_detail.length
          ? (st === 'cached' ? 'cached' : dur(s.started_at
              ? (s.finished_at || now) - s.started_at : null))
          : st;
      row.append(svg('text', {class: 'note', x: end + 6, y: y + 17}, note));
      root.append(row);
    });
    return h('div', {class: 'graph'}, root);
  }

  function metricsTable() {
    if (!run.metrics.length)
      return h('div', {class: 'empty'}, 'No metrics recorded.');
    return h('table', {class: 't'},
      h('thead', null, h('tr', null, h('th', null, 'Step'),
        h('th', null, 'Metric'), h('th', {class: 'num'}, 'Value'), h('th'))),
      h('tbody', null, run.metrics.map((m) => h('tr', null,
        h('td', null, m.step), h('td', null, h('code', null, m.key)),
        h('td', {class: 'num'}, num(m.value)),
        h('td', {class: 'num'}, h('a', {
          class: 'small', href: pipeHref(run.pipeline) + '?metric=' +
                                enc(m.step + '.' + m.key)}, 'trend ›'))))));
  }

  /* An output's path as its step wrote it: relative to the run's work
   * tree (a reproduction's scratch tree is another directory). */
  function relPath(r, path) {
    const w = r.workdir ? r.workdir.replace(/\/+$/, '') + '/' : null;
    return w && path.startsWith(w) ? path.slice(w.length) : path;
  }

  /* A reproduction's outputs against the original's: step and path to
   * the original's sha256. */
  function origOutputs() {
    const m = new Map();
    for (const s of orig ? orig.steps : [])
      for (const a of s.attempts_detail)
        for (const art of a.artifacts || [])
          if (art.output)
            m.set(s.name + '\n' + relPath(orig, art.path), art.sha256);
    return m;
  }

  /* Same bytes as the original's output, other bytes, or null (no such
   * output there, or not an output). */
  function sameAsOrig(m, s, art) {
    if (!orig || !art.output)
      return null;
    const was = m.get(s.name + '\n' + relPath(run, art.path));
    return was == null ? null : was === art.sha256;
  }

  /* What the run's webhooks were told (each by its host: the rest of a
   * Slack webhook's URL is its secret), and whether it arrived. */
  function notificationsTable() {
    const notes = run.notifications || [];
    if (!notes.length)
      return null;
    const looks = {sent: 'succeeded', failed: 'failed', pending: 'pending'};
    return panel('Notifications', null,
      h('table', {class: 't cards compact notifications'},
        h('thead', null, h('tr', null, h('th', null, 'Event'),
          h('th', null, 'Webhook'), h('th', null, 'Outcome'),
          h('th', {class: 'num'}, 'Attempts'), h('th', null, 'When'),
          h('th', null, 'Why not'))),
        h('tbody', null, notes.map((n) =>
          h('tr', {'data-notification': n.event + ' ' + n.webhook,
                   'data-status': n.status},
            h('td', {'data-label': 'Event'}, n.event),
            h('td', {'data-label': 'Webhook'}, h('code', null, n.webhook)),
            h('td', {'data-label': 'Outcome'},
              badge(looks[n.status] || 'lost', n.status,
                    n.status === 'pending' ? 'Not delivered yet: kiln ' +
                    'serve posts what a stopped kiln left' : null)),
            h('td', {class: 'num', 'data-label': 'Attempts'}, n.attempts),
            h('td', {class: 'nowrap', 'data-label': 'When',
                     title: fmtTime(n.finished_at || n.created_at)},
              agoEl(n.finished_at || n.created_at)),
            h('td', {'data-label': 'Why not'},
              n.error || h('span', {class: 'muted'}, '—')))))));
  }

  function artifactsTable() {
    const rows = [];
    for (const s of run.steps)
      for (const a of s.attempts_detail)
        for (const art of a.artifacts || [])
          rows.push([s, a, art]);
    if (!rows.length)
      return null;
    const m = origOutputs();
    const vs = orig ? 'vs run #' + orig.id : null;
    return panel('Artifacts', null, h('table', {class: 't cards artifacts'},
      h('thead', null, h('tr', null, h('th', null, 'Step'), h('th', null, ''),
        h('th', null, 'Path'), h('th', null, 'Type'),
        h('th', {class: 'num'}, 'Size'), h('th', null, 'SHA-256'),
        vs ? h('th', null, vs) : null, h('th'))),
      h('tbody', null, rows.map(([s, a, art]) => {
        const same = sameAsOrig(m, s, art);
        return h('tr', {'data-artifact': art.id},
          h('td', {'data-label': 'Step'},
            s.name + (s.attempts_detail.length > 1 ? ' #' + a.attempt : '')),
          h('td', {class: 'io', 'data-label': ''},
            h('span', {class: 'tag'}, art.output ? 'output' : 'input')),
          h('td', {'data-label': 'Path', title: art.path},
            h('code', null, art.path)),
          h('td', {'data-label': 'Type'}, typeTag(art.type)),
          h('td', {class: 'num', 'data-label': 'Size'}, bytes(art.size)),
          h('td', {'data-label': 'SHA-256'}, hashEl(art.sha256)),
          vs ? h('td', {'data-label': vs,
                        'data-same': same == null ? null : String(same)},
                 same == null ? h('span', {class: 'muted'}, '—')
                 : same ? badge('succeeded', 'same bytes',
                                'the same sha256 as run #' + orig.id + '\'s')
                 : badge('failed', 'other bytes', 'run #' + orig.id +
                         ' made ' + m.get(s.name + '\n' +
                                          relPath(run, art.path))))
             : null,
          /* Lineage as this run made or read those bytes. */
          h('td', {class: 'num', 'data-label': ''},
            h('a', {class: 'small', href: '#/artifacts/' + art.id + '?run=' +
                                          id}, 'lineage ›')));
      }))));
  }

  /* What the steps that did not run say about it (one line per reason). */
  function stepNotes() {
    const by = new Map();
    for (const s of run.steps) {
      if ((s.status !== 'skipped' && s.status !== 'gated') || !s.reason)
        continue;
      const k = s.status + '\n' + s.reason;
      if (!by.has(k))
        by.set(k, {status: s.status, reason: s.reason, steps: []});
      by.get(k).steps.push(s.name);
    }
    if (!by.size)
      return null;
    return h('ul', {class: 'step-notes'}, [...by.values()].map((n) =>
      h('li', {'data-steps': n.steps.join(' ')},
        badge(n.status), ' ',
        n.steps.map((x, i) => [i ? ', ' : '',
                               h('a', {href: runHref(id, x),
                                       onclick: (e) => {
                                         e.preventDefault();
                                         select(x);
                                       }}, x)]),
        ': ', n.reason)));
  }

  /* A reproduction: what it is, and how its outputs compare; a run that
   * was reproduced: by which runs. */
  function reproNote() {
    const n = run.trigger === 'reproduce' && run.trigger_info &&
              +run.trigger_info.reproduces;
    const by = run.reproduced_by || [];
    if (!n && by.length)
      return h('div', {class: 'note-box repro', 'data-reproduced-by':
                       by.join(' ')},
        'Reproduced by ',
        by.map((r, i) => [i ? ', ' : '', h('a', {href: runHref(r)},
                                             'run #' + r)]),
        ' (', h('code', {class: 'nowrap'}, 'kiln reproduce'), ').');
    if (!n)
      return null;
    let same = 0, other = 0;
    const m = origOutputs();
    for (const s of run.steps)
      for (const a of s.attempts_detail)
        for (const art of a.artifacts || []) {
          const x = sameAsOrig(m, s, art);
          if (x === true)
            same++;
          else if (x === false)
            other++;
        }
    return h('div', {class: 'note-box repro', 'data-reproduces': n},
      'Reproduces ', h('a', {href: runHref(n)}, 'run #' + n),
      ' (', h('code', {class: 'nowrap'}, 'kiln reproduce'), '): its ' +
      'commit, params, model versions and inputs as recorded, nothing ' +
      'served from the cache; deploy steps and ',
      h('code', null, 'register:'), ' are off unless ',
      h('code', {class: 'nowrap'}, '--with-deploy'), '.',
      orig && (same || other)
          ? [' Outputs compared with run #' + n + ': ',
             h('strong', {class: other ? 'error-text' : null},
               same + ' the same bytes, ' + other + ' other bytes'), '.']
          : null);
  }

  function details() {
    const params = Object.entries(run.params || {});
    return kv([
      ['Pipeline', h('a', {href: pipeHref(run.pipeline)}, run.pipeline)],
      ['Trigger', triggerEl(run, true)],
      ['Started by', run.started_by
          ? h('span', {'data-started-by': run.started_by}, run.started_by)
          : null],
      ['Created', fmtTime(run.created_at)],
      ['Started', fmtTime(run.started_at)],
      ['Finished', fmtTime(run.finished_at)],
      ['Duration', dur(runTime(run))],
      ['Commit', commitEl(run) || h('span', {class: 'muted'},
                                    'not in a Git repository')],
      ['Params', params.length ? h('div', {class: 'chips'}, params.map(([k, val]) =>
        h('span', {class: 'chip'}, k + '=' + val))) : null],
      ['File', run.file ? h('code', null, run.file) : null],
      ['Workdir', run.workdir ? h('code', null, run.workdir) : null],
      ['Definition', run.pipeline_hash
          ? h('code', {title: run.pipeline_hash},
              run.pipeline_hash.slice(0, 12)) : null],
      ['Trigger info', run.trigger_info ? rawJson('show', run.trigger_info,
                                                  'trigger-info')
                                        : null],
    ]);
  }

  async function act(what) {
    if (what === 'cancel' &&
        !await confirmDialog('Cancel run #' + id + '?',
                             'Its running steps are stopped and the steps ' +
                             'not started yet do not run.',
                             'Cancel the run', 'danger', 'Keep it running'))
      return;
    try {
      const r = await post('runs/' + id + '/' + what);
      if (!r)
        return;
      if (what === 'retry' && r.body.run_id) {
        toast('Retrying as run #' + r.body.run_id + '.', 'ok');
        location.hash = runHref(r.body.run_id);
      } else {
        toast('Cancelling run #' + id + '.');
        v.soon(50);
      }
    } catch (e) {
      toast('Could not ' + what + ' run #' + id + ': ' + e.message, 'err');
    }
  }

  function render() {
    if (!run || v.dead)
      return;
    if (!selected || !stepOf(selected))
      selected = defaultStep();
    const live = run.status === 'running' || run.status === 'queued';
    const head = pageHead(
      [h('a', {href: '#/'}, 'Pipelines'), ' / ',
       h('a', {href: pipeHref(run.pipeline)}, run.pipeline)],
      ['Run #' + run.id + ' ', runBadge(run)],
      [triggerEl(run, true), ' · ',
       run.started_at ? ['started ', agoEl(run.started_at)] : 'not started',
       run.started_at ? ' · ' + (run.finished_at ? 'took ' : 'running for ') +
                        dur(runTime(run)) : null,
       run.git_commit ? [' · ', commitEl(run)] : null],
      [live && can('operator') ? h('button', {class: 'btn danger', type: 'button',
                           'data-action': 'cancel',
                           onclick: () => act('cancel')}, 'Cancel') : null,
       (run.status === 'failed' || run.status === 'cancelled') &&
       can('operator')
           ? h('button', {class: 'btn', type: 'button', 'data-action': 'retry',
                          title: 'Run again, reusing the steps that succeeded',
                          onclick: () => act('retry')}, 'Retry') : null,
       /* A sweep's items side by side, per matrix step. */
       [...new Set(run.steps.map((s) => s.name)
                            .filter((n) => n.includes('['))
                            .map((n) => n.slice(0, n.indexOf('['))))]
         .map((m) => h('a', {class: 'btn', 'data-compare-items': m,
                             href: '#/compare?items=' + run.id + ':' +
                                   encodeURIComponent(m)},
                       'Compare ' + m + ' items')),
       h('a', {class: 'btn', href: pipeHref(run.pipeline)}, 'Pipeline')]);
    /* The log moves to the new page: keep where it was scrolled to. */
    const top = log.pre.scrollTop;
    const atEnd = top + log.pre.clientHeight >= log.pre.scrollHeight - 24;
    const graphNote = pipe ? null
        : h('span', {class: 'small muted'}, pipeTried
            ? 'pipeline not loaded: dependencies unknown' : '');
    fill(el,
      head,
      !run.reason ? null : run.status === 'failed'
          ? errorBox('Failed: ' + run.reason)
          : h('div', {class: 'note-box'}, run.reason),
      reproNote(),
      panel('Steps', graphNote, dag(),
            legend([['succeeded', 'succeeded'], ['running', 'running'],
                    ['failed', 'failed'], ['timed_out', 'timed out'],
                    ['cached', 'cached / reused'],
                    ['gated', 'gated'], ['skipped', 'skipped'],
                    ['pending', 'pending']]), stepNotes()),
      panel('Timeline', null, timeline()),
      panel('Logs', null, stepTabs(), h('div', {class: 'logbox'}, log.bar,
                                        log.pre)),
      h('div', {class: 'grid2'},
        panel('Metrics', null, metricsTable()),
        h('section', {class: 'panel'}, h('h2', null, 'Details'), details())),
      h('div', {style: 'height:16px'}),
      artifactsTable(),
      notificationsTable());
    log.pre.scrollTop = atEnd ? log.pre.scrollHeight : top;
    document.title = 'Run #' + run.id + ' · ' + run.pipeline + ' · kiln';
    syncLog();
    renderLogBar();
  }

  let tick = null;
  const v = makeView(el, async () => {
    run = await get('runs/' + id);
    const n = run.trigger === 'reproduce' && run.trigger_info &&
              +run.trigger_info.reproduces;
    if (n && (!orig || orig.id !== n)) {
      try {
        orig = await get('runs/' + n);
      } catch (e) {
        if (e.status !== 404)
          throw e;
      }
    }
    if (!pipeTried) {
      pipeTried = true;
      try {
        pipe = await get('pipelines/' + enc(run.pipeline));
      } catch (e) {
        if (e.status !== 404)
          throw e;
      }
    }
    render();
    /* Durations of what runs grow without events. */
    clearInterval(tick);
    if (run.status === 'running')
      tick = setInterval(() => v.soon(0), 5000);
  }, {
    onEvent(type, d) {
      if (d.run_id === id)
        v.soon(150);
    },
    dispose() {
      clearTimeout(log.timer);
      clearInterval(tick);
    },
  });
  return v;
}
